"""IAM policies the stack writes (IAM.21)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .engine import UNKNOWN, _is_list, _json, at, elements
from .registry import resource_policy
from .resource_types import IAM_POLICIES


@resource_policy("iam-no-wildcard-actions", "IAM policies the stack writes allow named actions only, never `*` "
                 "or `service:*` (least privilege, IAM.21).", IAM_POLICIES)
def _iam_no_wildcards(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    raw = at(props, "policy")
    if raw is UNKNOWN:
        return
    statements = at(_json(raw), "Statement")
    for statement in elements(statements) if _is_list(statements) else [statements]:
        if at(statement, "Effect") != "Allow":
            continue
        if at(statement, "NotAction") is not None:
            yield "an Allow statement with NotAction grants everything else"
        actions = at(statement, "Action")
        for action in [actions, *elements(actions)]:
            if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                yield f"an Allow statement grants the wildcard action {action!r}"
    if statements is None:
        yield "the policy document cannot be read (no Statement)"

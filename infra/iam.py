"""IAM documents the components share: the trust policy of a role that one AWS service assumes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def service_trust_policy(service: str, *, conditions: Mapping[str, Any] | None = None, sid: str | None = None) -> str:
    """A role only `service` (e.g. ecs-tasks.amazonaws.com) may assume, optionally only under `conditions`.

    AWS recommends aws:SourceAccount / aws:SourceArn conditions against the confused deputy where the
    service sends them; callers pass them where that service's documentation shows them.
    """
    statement: dict[str, Any] = {"Sid": sid} if sid else {}
    statement.update({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})
    if conditions:
        statement["Condition"] = dict(conditions)
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

"""The pack's policies, one module per AWS service; importing this package registers every one of them.

Modules import each other relatively: the engine imports this package as `rules` (the pack directory is the
import root), the tests as `policy.rules`, and either way the policies register in one list.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel

# Imported for their registrations, in the order the pack has always listed its policies.
# isort: off
from . import rds, network, ecs, iam, elb, logs_keys, s3  # noqa: F401
# isort: on
from .engine import UNKNOWN, at, elements, identities, number, refs, text
from .registry import CONFIG_DEFAULTS, POLICIES, resource_policy, stack_policy, typed_resource_policy

PACK_NAME = "tca-guardrails"
POLICY_NAMES = tuple(p.name for p in POLICIES)

__all__ = [
    "CONFIG_DEFAULTS",
    "PACK_NAME",
    "POLICIES",
    "POLICY_NAMES",
    "UNKNOWN",
    "EnforcementLevel",
    "at",
    "elements",
    "identities",
    "number",
    "refs",
    "resource_policy",
    "stack_policy",
    "text",
    "typed_resource_policy",
]

"""IAM the components share: the trust policy of a role that one AWS service assumes, and the permissions
boundary every role of the stack carries."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi_aws as aws


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


ROLE_TYPE = "aws:iam/role:Role"


def workload_boundary_name(name_prefix: str) -> str:
    """The customer-managed policy that caps every role the stack creates (iam/workload-boundary-<stack>.json)."""
    return f"{name_prefix}-workload-boundary"


def workload_boundary_arn(account: str, name_prefix: str) -> str:
    return f"arn:aws:iam::{account}:policy/{workload_boundary_name(name_prefix)}"


RoleTransform = Callable[[pulumi.ResourceTransformArgs], pulumi.ResourceTransformResult | None]


def boundary_transform(boundary_arn: str) -> RoleTransform:
    """A transform that gives every IAM role, awsx's children included, the stack's permissions boundary.

    The deployer may only create or change roles that carry exactly this boundary (iam/deployer-*.json),
    so a role without it would fail to deploy; a role with it can never hold more than the boundary allows.
    """
    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if args.type_ != ROLE_TYPE:
            return None
        # Transform props carry the engine's (camelCase) property names.
        return pulumi.ResourceTransformResult(props={**args.props, "permissionsBoundary": boundary_arn},
                                              opts=args.opts)
    return transform


def bound_every_role(name_prefix: str) -> str:
    """Give every role this stack creates, from here on, the stack's boundary; returns the boundary's ARN.

    A stack transform, registered before any component: it reaches awsx's children too, which a component's
    own options do not.
    """
    boundary = workload_boundary_arn(aws.get_caller_identity().account_id, name_prefix)
    pulumi.runtime.register_resource_transform(boundary_transform(boundary))
    return boundary

"""The shared IAM helpers: the trust-policy builder, and the transform that caps every role the stack creates
with the stack's permissions boundary."""

from __future__ import annotations

import json
from typing import cast

import pulumi
import pytest

from infra.iam import boundary_transform, service_trust_policy, workload_boundary_arn
from tests.mocks import ACCOUNT


def test_a_service_role_is_assumable_by_that_service_alone():
    assert json.loads(service_trust_policy("ecs-tasks.amazonaws.com")) == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                       "Action": "sts:AssumeRole"}]}


def test_conditions_and_a_statement_id_are_carried_exactly():
    conditions = {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    (statement,) = json.loads(service_trust_policy("rds.amazonaws.com", conditions=conditions, sid="Rds"))["Statement"]
    assert statement == {"Sid": "Rds", "Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"},
                         "Action": "sts:AssumeRole", "Condition": conditions}


# -- the workload permissions boundary -------------------------------------------------------------

BOUNDARY = "arn:aws:iam::123456789012:policy/tca-dev-workload-boundary"


def _args(type_: str, props: dict) -> pulumi.ResourceTransformArgs:
    return pulumi.ResourceTransformArgs(custom=True, type_=type_, name="tca-dev-x", props=props,
                                        opts=pulumi.ResourceOptions())


def test_the_boundary_transform_gives_a_role_the_boundary_and_keeps_its_other_inputs():
    # Transform props carry the engine's property names; the provider reads `permissionsBoundary`.
    props = {"assumeRolePolicy": "{}", "description": "d"}
    args = _args("aws:iam/role:Role", props)
    result = boundary_transform(BOUNDARY)(args)
    assert result is not None
    assert result.props == {"assumeRolePolicy": "{}", "description": "d", "permissionsBoundary": BOUNDARY}
    assert result.opts is args.opts


def test_the_boundary_transform_replaces_any_other_boundary_a_role_was_given():
    result = boundary_transform(BOUNDARY)(_args("aws:iam/role:Role", {"permissionsBoundary": "arn:other"}))
    assert result is not None and result.props["permissionsBoundary"] == BOUNDARY


@pytest.mark.parametrize("type_", ["aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                                   "awsx:ecs:FargateService", "aws:ecs/taskDefinition:TaskDefinition"])
def test_the_boundary_transform_leaves_every_other_resource_alone(type_):
    assert boundary_transform(BOUNDARY)(_args(type_, {"role": "r"})) is None


def test_each_stacks_boundary_is_named_after_the_stack():
    assert workload_boundary_arn("123456789012", "tca-prod") == \
        "arn:aws:iam::123456789012:policy/tca-prod-workload-boundary"


def _role_transforms(run) -> list[tuple]:
    """The stack transforms that change a role (the program registers others, such as the deployment tag's)."""
    return [(t, before) for t, before in run.stack_transforms if t(_args("aws:iam/role:Role", {})) is not None]


def test_the_program_registers_the_stacks_boundary_transform_before_any_resource(run):
    # Mocks record a stack transform but never run it, so the registration itself is what is checked:
    # one transform, registered before the first resource, that bounds roles with this stack's policy.
    (transform, resources_before), = _role_transforms(run)
    assert resources_before == 0
    result = transform(_args("aws:iam/role:Role", {}))
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/tca-{run.stack}-workload-boundary"
    assert result is not None and result.props == {"permissionsBoundary": boundary}
    assert run.of_type("aws:iam/role:Role"), "the stack creates roles for the boundary to cap"


class _Parent:
    """Stands for the component a role was registered under (transforms see the parent resource, not its URN)."""

    def __init__(self, urn: str):
        self.urn = urn


def test_every_role_the_stack_registers_gets_the_boundary_from_its_transform(run):
    # Mocks never run stack transforms, so the recorded one is applied here to each role as the engine would
    # hand it over: the role's own type, name, inputs and parent.
    (transform, _), = _role_transforms(run)
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/tca-{run.stack}-workload-boundary"
    roles = run.of_type("aws:iam/role:Role")
    assert roles
    for role in roles:
        opts = pulumi.ResourceOptions(parent=cast(pulumi.Resource, _Parent(role.parent)) if role.parent else None)
        result = transform(pulumi.ResourceTransformArgs(custom=True, type_=role.type, name=role.name,
                                                        props=dict(role.inputs), opts=opts))
        assert result is not None, role.name
        assert result.props == {**role.inputs, "permissionsBoundary": boundary}, role.name

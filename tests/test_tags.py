"""The deployment tag: every network resource and database proxy the stack creates, awsx's children included,
carries tca:deployment = the deployment's name prefix, which the other stack's deployer is denied
(iam/deployer-*-policy-network-compute.json)."""

from __future__ import annotations

import importlib
import inspect
from typing import Any, cast

import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await

from infra.tags import DEPLOYMENT_TAG, TAGGED_TYPES, deployment_tag_transform
from tests.conftest import shared_run, stack_run
from tests.layered import WITH_PROXY, layered
from tests.mocks import EXISTING_VPC_SETTINGS, Run
from tests.policy_resources import policy_resources

VPC = "aws:ec2/vpc:Vpc"


def _args(type_: str, props: dict, name: str = "tca-dev-x", parent: Any = None) -> pulumi.ResourceTransformArgs:
    return pulumi.ResourceTransformArgs(custom=True, type_=type_, name=name, props=props,
                                        opts=pulumi.ResourceOptions(parent=parent))


def test_the_tag_transform_adds_the_deployment_and_keeps_the_resources_own_tags_and_inputs():
    props = {"vpcId": "vpc-1", "tags": {"Name": "tca-dev-db", "tca:pathHop": "db"}}
    args = _args("aws:ec2/securityGroup:SecurityGroup", props)
    result = deployment_tag_transform("tca-dev")(args)
    assert result is not None
    assert result.props == {"vpcId": "vpc-1",
                            "tags": {"Name": "tca-dev-db", "tca:pathHop": "db", DEPLOYMENT_TAG: "tca-dev"}}
    assert result.opts is args.opts
    assert props["tags"] == {"Name": "tca-dev-db", "tca:pathHop": "db"}, "the resource's own dict stays as it was"


def test_the_tag_transform_tags_a_resource_that_had_no_tags():
    for props in ({}, {"tags": None}):
        result = deployment_tag_transform("tca-prod")(_args("aws:rds/proxy:Proxy", props))
        assert result is not None and result.props["tags"] == {DEPLOYMENT_TAG: "tca-prod"}


def test_the_tag_transform_merges_into_tags_known_only_at_deploy_time():
    tags = pulumi.Output.from_input({"Name": "tca-dev-vpc"})
    result = deployment_tag_transform("tca-dev")(_args(VPC, {"tags": tags}))
    assert result is not None
    merged = result.props["tags"]
    assert isinstance(merged, pulumi.Output)
    assert _sync_await(merged.future()) == {"Name": "tca-dev-vpc", DEPLOYMENT_TAG: "tca-dev"}


def test_the_tag_transform_overrides_a_deployment_tag_the_resource_was_given():
    result = deployment_tag_transform("tca-dev")(_args(VPC, {"tags": {DEPLOYMENT_TAG: "tca-prod"}}))
    assert result is not None and result.props["tags"] == {DEPLOYMENT_TAG: "tca-dev"}


@pytest.mark.parametrize("type_", ["aws:iam/role:Role", "aws:ec2/route:Route",
                                   "aws:ec2/routeTableAssociation:RouteTableAssociation",
                                   "aws:rds/proxyTarget:ProxyTarget", "aws:lb/loadBalancer:LoadBalancer",
                                   "awsx:ec2:Vpc", "tca:infra:Network"])
def test_the_tag_transform_leaves_every_other_resource_alone(type_):
    assert deployment_tag_transform("tca-dev")(_args(type_, {"tags": {"Name": "n"}})) is None


@pytest.mark.parametrize("type_", sorted(TAGGED_TYPES))
def test_every_tagged_type_takes_tags_in_the_provider(type_):
    # A type token aws:<module>/<file>:<Class>; a resource without a `tags` input would fail its deploy.
    module, cls = type_.split(":")[1].split("/")[0], type_.split(":")[2]
    resource = getattr(importlib.import_module(f"pulumi_aws.{module}"), cls)
    assert "tags" in inspect.signature(resource._internal_init).parameters, type_


# -- the program registers it -----------------------------------------------------------------------

def _tag_transforms(run: Run) -> list[tuple[Any, int]]:
    """The stack transforms that tag a VPC (the program registers others, such as the roles' boundary)."""
    return [(t, before) for t, before in run.stack_transforms if t(_args(VPC, {})) is not None]


def _name_prefix(run: Run) -> str:
    """What the run's names start with: tca-<stack>, or tca-<deploymentName> for a layer of a deployment."""
    return next(r.name for r in run.registrations if r.type.startswith("tca:infra:"))


def _runs() -> list[Run]:
    # Both stacks, a stack in an existing VPC with the proxy, and prod's layers (named after the deployment).
    return [stack_run("dev"), stack_run("prod"), shared_run("prod", {**EXISTING_VPC_SETTINGS, **WITH_PROXY}),
            *layered("prod", WITH_PROXY).values()]


def test_the_program_registers_the_deployment_tag_transform_before_any_resource(run):
    (transform, resources_before), = _tag_transforms(run)
    assert resources_before == 0
    result = transform(_args(VPC, {}))
    assert result is not None and result.props == {"tags": {DEPLOYMENT_TAG: f"tca-{run.stack}"}}


class _Parent:
    """Stands for the component a resource was registered under (transforms see the parent resource)."""

    def __init__(self, urn: str):
        self.urn = urn


def test_every_resource_of_a_tagged_type_gets_its_deployments_tag_and_no_other_resource_is_touched():
    # Mocks never run stack transforms, so the recorded one is applied here to each resource as the engine would
    # hand it over: its own type, name, inputs and parent; awsx's children as awsx creates them.
    tagged: set[str] = set()
    for run in _runs():
        (transform, _), = _tag_transforms(run)
        prefix = _name_prefix(run)
        for reg in run.registrations:
            parent = cast(pulumi.Resource, _Parent(reg.parent)) if reg.parent else None
            result = transform(_args(reg.type, dict(reg.inputs), reg.name, parent))
            if reg.type not in TAGGED_TYPES:
                assert result is None, reg.name
                continue
            assert result is not None, reg.name
            assert result.props == {**reg.inputs, "tags": {**(reg.inputs.get("tags") or {}), DEPLOYMENT_TAG: prefix}}
            tagged.add(reg.type)
        for child in policy_resources(run):
            if child.urn.split("::")[-2].startswith("awsx:ec2:Vpc$"):
                result = transform(_args(child.resource_type, dict(child.props), child.name))
                if child.resource_type in TAGGED_TYPES:
                    assert result is not None and result.props["tags"][DEPLOYMENT_TAG] == prefix, child.name
                    tagged.add(child.resource_type)
                else:
                    assert result is None, child.name
    # The renders reach every tagged type, so none of the allowlist is dead.
    assert tagged == TAGGED_TYPES

"""The tag that says which deployment owns a network resource or the database proxy.

IAM scopes most of what the deployers manage by name (tca-<stack>-*), but EC2 network objects and the RDS
Proxy have ARNs made of IDs (security-group/sg-..., db-proxy:prx-...). For those, each deployer's policy
denies the actions on resources tagged with the other stack's deployment (iam/deployer-*-policy-*.json),
which only works if every such resource carries the tag.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi

DEPLOYMENT_TAG = "tca:deployment"

Transform = Callable[[pulumi.ResourceTransformArgs], pulumi.ResourceTransformResult | None]

# Resource types with ID-based ARNs that the program (or awsx, for the VPC's children) creates and whose
# provider resource takes `tags`. Routes and route-table associations take none: IAM authorizes them
# against their route table (and subnet), which carry the tag.
TAGGED_TYPES = frozenset({
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/flowLog:FlowLog",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:rds/proxy:Proxy",
})


def _with_tag(tags: Any, name_prefix: str) -> Any:
    if isinstance(tags, pulumi.Output):
        return tags.apply(lambda value: {**(value or {}), DEPLOYMENT_TAG: name_prefix})
    return {**(tags or {}), DEPLOYMENT_TAG: name_prefix}


def deployment_tag_transform(name_prefix: str) -> Transform:
    """A transform that tags every resource of TAGGED_TYPES, awsx's children included, with its deployment,
    keeping the tags the resource already has (Name and the rest)."""
    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if args.type_ not in TAGGED_TYPES:
            return None
        # Transform props carry the engine's (camelCase) property names; `tags` is the same in both.
        return pulumi.ResourceTransformResult(
            props={**args.props, "tags": _with_tag(args.props.get("tags"), name_prefix)}, opts=args.opts)
    return transform


def tag_every_network_resource(name_prefix: str) -> None:
    """Tag, from here on, every network resource and proxy this stack creates with its deployment.

    A stack transform, registered before any component: it reaches awsx's children too, which a component's
    own options do not.
    """
    pulumi.runtime.register_resource_transform(deployment_tag_transform(name_prefix))

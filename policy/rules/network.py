"""Security groups, VPC flow logs and subnets (EC2.18, EC2.19, EC2.2, EC2.53, EC2.6, EC2.15)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource

from .engine import UNKNOWN, _link_unknown, _of_type, _points_to, at, elements, identities, number, refs, text
from .registry import Config, Resources, Violations, resource_policy, stack_policy, typed_resource_policy
from .resource_types import (
    DEFAULT_SECURITY_GROUP,
    ECS_SERVICE,
    EGRESS_RULE,
    FLOW_LOG,
    INGRESS_RULE,
    LOAD_BALANCERS,
    RDS_INSTANCE,
    RDS_PROXY,
    SECURITY_GROUP,
    SG_RULE,
    SUBNET,
    VPC,
)

ANYWHERE = ("0.0.0.0/0", "::/0")


class _Ingress:
    """One ingress permission, whichever resource shape declared it."""

    def __init__(self, owner: PolicyResource, group: set[str], entry: Any, inline: bool):
        self.owner, self.group, self.inline = owner, group, inline
        if inline or owner.resource_type == SG_RULE:
            cidrs = [*elements(at(entry, "cidrBlocks")), *elements(at(entry, "ipv6CidrBlocks"))]
            self.protocol = at(entry, "protocol")
            named = [*elements(at(entry, "securityGroups")), at(entry, "sourceSecurityGroupId")]
            self.peers = {text(p) for p in named} - {""}
            self.peer_unknown = UNKNOWN in named
            if not inline:
                self.peers |= refs(owner, "sourceSecurityGroupId")
                self.peer_unknown = _link_unknown(owner, "sourceSecurityGroupId")
            self.self_peer = at(entry, "self") is True
            self.prefix_lists = bool(elements(at(entry, "prefixListIds")))
        else:
            cidrs = [at(entry, "cidrIpv4"), at(entry, "cidrIpv6")]
            self.protocol = at(entry, "ipProtocol")
            self.peers = refs(owner, "referencedSecurityGroupId")
            self.peer_unknown = _link_unknown(owner, "referencedSecurityGroupId")
            self.self_peer = False
            self.prefix_lists = bool(text(at(entry, "prefixListId")))
        self.cidrs = [c for c in cidrs if c is not None]
        self.ports = (number(at(entry, "fromPort")), number(at(entry, "toPort")))

    @property
    def unknown(self) -> bool:
        """Its group, its addresses or its peer cannot be known yet (preview)."""
        return not self.group or self.peer_unknown or any(c is UNKNOWN for c in self.cidrs)

    @property
    def from_anywhere(self) -> bool:
        return any(_open_to_all(c) for c in self.cidrs)

    def describe(self) -> str:
        where = "inline ingress on " if self.inline else ""
        source = self.cidrs or sorted(self.peers)
        return f"{where}{self.owner.name} ({self.protocol!r} {self.ports[0]!r}-{self.ports[1]!r} from {source})"


def _open_to_all(cidr: Any) -> bool:
    """0.0.0.0/0 or ::/0 however it is written ("::0/0" too): a prefix of length 0 admits every address."""
    if cidr in ANYWHERE:
        return True
    try:
        return isinstance(cidr, str) and ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


# The only ports the load balancer may open to everyone, each as a range of exactly that port: a range such as
# 80-65535 opens every port in it (EC2.18 authorizes 80 and 443 alone).
PUBLIC_WEB_PORTS = ((80.0, 80.0), (443.0, 443.0))


def _ingress(resources: Sequence[PolicyResource]) -> Iterator[_Ingress]:
    for rule in _of_type(resources, INGRESS_RULE):
        yield _Ingress(rule, refs(rule, "securityGroupId"), rule.props, inline=False)
    for rule in _of_type(resources, SG_RULE):
        if at(rule.props, "type") == "ingress":
            yield _Ingress(rule, refs(rule, "securityGroupId"), rule.props, inline=False)
    for group in _of_type(resources, SECURITY_GROUP):
        for entry in elements(at(group.props, "ingress")):
            yield _Ingress(group, identities(group), entry, inline=True)


def _groups_named_by(resources: Sequence[PolicyResource], types: Sequence[str], *path: str) -> set[str]:
    """Every identity of the security groups that resources of `types` name in `path`."""
    named: set[str] = set()
    for resource in _of_type(resources, *types):
        named |= refs(resource, *path)
    for group in _of_type(resources, SECURITY_GROUP):
        if identities(group) & named:
            named |= identities(group)
    return named


@stack_policy("sg-no-public-ingress", "No security group admits 0.0.0.0/0 or ::/0, except the load balancer's "
              "group on TCP 80 and 443 (EC2.18, EC2.19).")
def _sg_no_public_ingress(resources: Resources, config: Config) -> Violations:
    lb_groups = _groups_named_by(resources, LOAD_BALANCERS, "securityGroups")
    if not _of_type(resources, *LOAD_BALANCERS):
        # A network layer holds the load balancer's group while the load balancer is in the app layer's stack;
        # there the group is known by its PathHop tag. A stack with a load balancer counts only the groups it names.
        lb_groups |= {i for g in _of_type(resources, SECURITY_GROUP)
                      if at(g.props, "tags", "PathHop") == "lb" for i in identities(g)}
    for rule in _ingress(resources):
        if not rule.from_anywhere or not rule.group:
            continue
        # Protocol "-1" (or "all") admits every protocol and port whatever the port range says.
        web = text(rule.protocol).lower() in ("tcp", "6") and rule.ports in PUBLIC_WEB_PORTS
        if not (web and rule.group & lb_groups):
            yield (f"ingress from anywhere is allowed only to the load balancer on 80/443: {rule.describe()}",
                   rule.owner.urn)


@stack_policy("db-ingress-only-from-app", "The database's security group admits only the app's, the RDS "
              "Proxy's or the database admin tasks' security group.")
def _db_ingress(resources: Resources, config: Config) -> Violations:
    db_groups = _groups_named_by(resources, [RDS_INSTANCE], "vpcSecurityGroupIds")
    # The admin tasks (bootstrap task, rotation function) start outside Pulumi's view (RunTask, CloudFormation):
    # their group is known by its PathHop tag.
    admin = {i for g in _of_type(resources, SECURITY_GROUP) if at(g.props, "tags", "PathHop") == "admin"
             for i in identities(g)}
    clients = (_groups_named_by(resources, [ECS_SERVICE], "networkConfiguration", "securityGroups")
               | _groups_named_by(resources, [RDS_PROXY], "vpcSecurityGroupIds") | admin)
    for rule in _ingress(resources):
        if not rule.group & db_groups or rule.unknown:
            continue
        if rule.cidrs or rule.prefix_lists or rule.self_peer or not rule.peers:
            yield f"the database's group admits more than a security group: {rule.describe()}", rule.owner.urn
        elif not rule.peers & clients:
            yield (f"the database's group admits a group that is neither the app's, the proxy's nor the admin tasks': "
                   f"{rule.describe()}", rule.owner.urn)


@typed_resource_policy("sg-rule-description", "Every security group rule says which path it opens.",
                       [INGRESS_RULE, EGRESS_RULE, SG_RULE, SECURITY_GROUP])
def _sg_rule_description(resource_type: str, props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if resource_type == SECURITY_GROUP:
        rules = [*elements(at(props, "ingress")), *elements(at(props, "egress"))]
    else:
        rules = [props]
    for rule in rules:
        description = at(rule, "description")
        if description is not UNKNOWN and not text(description):
            yield "every security group rule needs a description naming the path it opens"


@stack_policy("default-sg-no-rules", "Each VPC's default security group is adopted with no rules (EC2.2).")
def _default_sg(resources: Resources, config: Config) -> Violations:
    defaults = _of_type(resources, DEFAULT_SECURITY_GROUP)
    for group in defaults:
        if elements(at(group.props, "ingress")) or elements(at(group.props, "egress")):
            yield "the VPC's default security group must have no rules", group.urn
    for vpc in _of_type(resources, VPC):
        if not any(_points_to(g, vpc, "vpcId", via_component=True) or _link_unknown(g, "vpcId") for g in defaults):
            yield f"VPC {vpc.name}: adopt its default security group (DefaultSecurityGroup with no rules)", vpc.urn


@stack_policy("vpc-flow-logs", "Each VPC records all traffic in flow logs (EC2.6).")
def _flow_logs(resources: Resources, config: Config) -> Violations:
    logs = [f for f in _of_type(resources, FLOW_LOG) if at(f.props, "trafficType") in ("ALL", UNKNOWN)]
    for vpc in _of_type(resources, VPC):
        if not any(_points_to(f, vpc, "vpcId", via_component=True) or _link_unknown(f, "vpcId") for f in logs):
            yield f"VPC {vpc.name} has no flow log of ALL traffic", vpc.urn


@resource_policy("subnet-no-auto-public-ip", "No subnet gives instances public IPs automatically (EC2.15).", [SUBNET])
def _subnet_public_ip(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if at(props, "mapPublicIpOnLaunch") is True:
        yield "subnets must not auto-assign public IPs (mapPublicIpOnLaunch is True)"

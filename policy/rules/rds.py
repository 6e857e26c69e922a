"""RDS (Security Hub RDS.2, RDS.3, RDS.6, RDS.8, RDS.10, RDS.11, RDS.5)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource

from .engine import UNKNOWN, _link_unknown, _must_be_true, _of_type, _points_to, at, identities, number, refs, text
from .registry import REQUIRED_SWITCH, Config, Resources, Violations, resource_policy, stack_policy
from .resource_types import INTERNET_GATEWAY, RDS_INSTANCE, RDS_SUBNET_GROUP, ROUTE, ROUTE_TABLE_ASSOCIATION, SUBNET


@resource_policy("rds-storage-encrypted", "RDS storage is encrypted at rest (RDS.3).", [RDS_INSTANCE])
def _rds_encrypted(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    yield from _must_be_true(props, "storageEncrypted", message="the database's storage must be encrypted")


@resource_policy("rds-not-public", "RDS is not publicly accessible (RDS.2).", [RDS_INSTANCE])
def _rds_not_public(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if at(props, "publiclyAccessible") is True:
        yield "the database must not be publicly accessible (publiclyAccessible is True)"


@resource_policy("rds-backups", "RDS keeps automated backups for at least the configured days (RDS.11).",
                 [RDS_INSTANCE], {"minRetentionDays": {"type": "integer", "default": 1, "minimum": 1}})
def _rds_backups(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    days, wanted = at(props, "backupRetentionPeriod"), number(config["minRetentionDays"]) or 1
    if days is not UNKNOWN and (number(days) or 0) < wanted:
        yield f"backupRetentionPeriod is {days!r}; this stack requires at least {wanted:g} days of backups"


@resource_policy("rds-deletion-protection", "RDS has deletion protection and keeps a final snapshot, where "
                 "configured (RDS.8).", [RDS_INSTANCE], REQUIRED_SWITCH)
def _rds_deletion_protection(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if config["required"] is not True:
        return
    yield from _must_be_true(props, "deletionProtection", message="this stack's database must be deletion-protected")
    if at(props, "skipFinalSnapshot") is True:
        yield "this stack's database must keep a final snapshot (skipFinalSnapshot is True)"


@resource_policy("rds-multi-az", "RDS runs a standby in a second AZ, where configured (RDS.5).",
                 [RDS_INSTANCE], REQUIRED_SWITCH)
def _rds_multi_az(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if config["required"] is True:
        yield from _must_be_true(props, "multiAz", message="this stack's database must be Multi-AZ")


@resource_policy("rds-iam-auth", "RDS has IAM database authentication on (RDS.10).", [RDS_INSTANCE])
def _rds_iam_auth(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    yield from _must_be_true(props, "iamDatabaseAuthenticationEnabled",
                             message="IAM database authentication must be enabled")


@resource_policy("rds-enhanced-monitoring", "RDS enhanced monitoring samples at least every "
                 "`maxIntervalSeconds`, with its role, where configured (RDS.6).", [RDS_INSTANCE],
                 {**REQUIRED_SWITCH, "maxIntervalSeconds": {"type": "integer", "default": 60, "minimum": 1}})
def _rds_enhanced_monitoring(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if config["required"] is not True:
        return
    interval, most = at(props, "monitoringInterval"), number(config["maxIntervalSeconds"]) or 60
    if interval is not UNKNOWN and not 0 < (number(interval) or 0) <= most:
        yield (f"this stack's database needs enhanced monitoring at least every {most:g} s "
               f"(monitoringInterval is {interval!r})")
    role = at(props, "monitoringRoleArn")
    if role is not UNKNOWN and not text(role):
        yield "enhanced monitoring needs a monitoringRoleArn"


def _public_subnets(resources: Sequence[PolicyResource]) -> list[PolicyResource]:
    """Subnets marked public by awsx, auto-assigning public IPs, or routed to an internet gateway."""
    gateways = _of_type(resources, INTERNET_GATEWAY)
    internet_tables: set[str] = set()
    for route in _of_type(resources, ROUTE):
        gateway = refs(route, "gatewayId")
        if any(g.startswith("igw-") for g in gateway) or any(gateway & identities(g) for g in gateways):
            internet_tables |= refs(route, "routeTableId")
    public = []
    for subnet in _of_type(resources, SUBNET):
        routed = any(_points_to(a, subnet, "subnetId") and refs(a, "routeTableId") & internet_tables
                     for a in _of_type(resources, ROUTE_TABLE_ASSOCIATION))
        if (at(subnet.props, "tags", "SubnetType") == "Public" or at(subnet.props, "mapPublicIpOnLaunch") is True
                or routed):
            public.append(subnet)
    return public


@stack_policy("rds-private-subnets", "RDS sits in a subnet group of private subnets only.")
def _rds_private_subnets(resources: Resources, config: Config) -> Violations:
    public = _public_subnets(resources)
    for db in _of_type(resources, RDS_INSTANCE):
        if _link_unknown(db, "dbSubnetGroupName"):
            continue
        if not refs(db, "dbSubnetGroupName"):
            yield "the database has no DB subnet group, so RDS would place it in the default VPC", db.urn
            continue
        groups = [g for g in _of_type(resources, RDS_SUBNET_GROUP) if _points_to(db, g, "dbSubnetGroupName")]
        if not groups:
            yield "the database's subnet group is not part of this stack, so its subnets cannot be checked", db.urn
        for group in groups:
            for subnet in public:
                if _points_to(group, subnet, "subnetIds"):
                    yield f"the database's subnet group includes the public subnet {subnet.name}", db.urn

"""The stack's security and deploy-safety controls as Pulumi policies, checked by the engine on every preview/up.

Definitions only: `__main__.py` builds the `PolicyPack` (which starts a server and never returns), so the
tests import this module instead. The policies read the engine's view of each resource (camelCase property
names, awsx's children included); what differs between stacks (multi-AZ, protection, WAF, access logs...)
comes from the pack's config file (`dev.json`, `prod.json`), never from the stack's name.

Every check tolerates shapes it does not expect: a missing property, a value that is not known yet during
preview, or a string where an object belongs. An unknown value is not judged (the check runs again on `up`);
a missing or malformed required value is a violation (fail closed).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

PACK_NAME = "tca-guardrails"

# -- engine resource types ----------------------------------------------------------------------

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
RDS_PROXY = "aws:rds/proxy:Proxy"
VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
ECS_SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
LISTENER_RULES = ("aws:lb/listenerRule:ListenerRule", "aws:alb/listenerRule:ListenerRule")
TARGET_GROUPS = ("aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup")
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
WAF_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SNS_TOPIC = "aws:sns/topic:Topic"
SM_SECRET = "aws:secretsmanager/secret:Secret"  # noqa: S105 - a resource type, not a password
KMS_KEY = "aws:kms/key:Key"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
BUCKET_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
IAM_POLICIES = ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy", "aws:iam/userPolicy:UserPolicy",
                "aws:iam/groupPolicy:GroupPolicy")

ANYWHERE = ("0.0.0.0/0", "::/0")
# Load balancer security policies that refuse TLS 1.0 and 1.1 (ELB "Security policies for your
# Application Load Balancer": the TLS13-1-2/1-3, TLS-1-2 and FS-1-2 families, FIPS and PQ variants).
TLS12_POLICY = re.compile(r"ELBSecurityPolicy-(?:TLS13-1-[23]|TLS-1-2|FS-1-2)(?:-.*)?")
# The app's HTTP server closes idle keep-alive connections after 60 s; the ALB must give up first.
APP_IDLE_SECONDS = 60
DEBUG_PATHS = ("/debug", "/debug/*")
# Names that say the value is a credential: such a value belongs in `secrets`, not `environment`. A name
# ending in _ARN or _NAME points at a secret without carrying it.
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY", re.IGNORECASE)
REFERENCE_NAME = re.compile(r".*_(?:ARN|NAME)", re.IGNORECASE)


# -- reading the engine's values safely ---------------------------------------------------------

class _Unknown:
    """A value the engine does not know yet (preview of a resource that depends on a new output)."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Any = _Unknown()
_SENTINELS = frozenset({UNKNOWN_ARCHIVE_VALUE, UNKNOWN_ARRAY_VALUE, UNKNOWN_ASSET_VALUE, UNKNOWN_BOOLEAN_VALUE,
                        UNKNOWN_NUMBER_VALUE, UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE})


def _is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in _SENTINELS)


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def at(value: Any, *path: str | int) -> Any:
    """The value at `path`: None when absent or of another shape, UNKNOWN when not known yet."""
    try:
        for key in path:
            if _is_unknown(value):
                return UNKNOWN
            if isinstance(key, int):
                if not _is_list(value) or not -len(value) <= key < len(value):
                    return None
            elif not isinstance(value, Mapping) or key not in value:
                return None
            value = value[key]
    except UnknownValueError:
        return UNKNOWN
    return UNKNOWN if _is_unknown(value) else value


def elements(value: Any) -> list[Any]:
    """The items of a list (each one possibly UNKNOWN); [] for anything that is not a list."""
    if not _is_list(value):
        return []
    return [at(value, i) for i in range(len(value))]


def number(value: Any) -> float | None:
    """Numbers arrive as floats from the engine (3000 -> 3000.0); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def text(value: Any) -> str:
    """A non-empty string, or "" for anything else."""
    return value if isinstance(value, str) and not _is_unknown(value) else ""


def _json(value: Any) -> Any:
    """A JSON document given as a string (or already decoded); None when unreadable."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _must_be_true(props: Any, *path: str, message: str) -> Iterator[str]:
    value = at(props, *path)
    if value is not UNKNOWN and value is not True:
        yield f"{message} ({'.'.join(path)} is {value!r})"


# -- how resources refer to each other ------------------------------------------------------------

def _deps(resource: PolicyResource, prop: str) -> list[PolicyResource]:
    deps = getattr(resource, "property_dependencies", None)
    if not isinstance(deps, Mapping):
        return []
    return [d for d in deps.get(prop) or [] if isinstance(d, PolicyResource)]


def refs(resource: PolicyResource, *path: str) -> set[str]:
    """What a property points at: its known ID/ARN/name values, and the URNs its value depends on.

    During a preview a new resource's ID is unknown, but the engine still records which resources
    the property depends on; matching on both finds the link in either case.
    """
    found: set[str] = set()
    value = at(resource.props, *path)
    for item in [value, *elements(value)]:
        if text(item):
            found.add(item)
    found.update(d.urn for d in _deps(resource, path[0]))
    return found


def identities(resource: PolicyResource) -> set[str]:
    found = {resource.urn}
    for key in ("id", "arn", "name", "bucket"):
        if text(at(resource.props, key)):
            found.add(at(resource.props, key))
    return found


# Packaged (remote) components: an output of one, passed to another resource, records a dependency on
# the component itself, not on the child that produced the value.
PACKAGED_COMPONENTS = ("awsx:",)


def _packaging_components(resource: PolicyResource) -> set[str]:
    """URNs of the awsx components that created `resource` (its nearest ancestors of a packaged type)."""
    found: set[str] = set()
    parent = getattr(resource, "parent", None)
    while isinstance(parent, PolicyResource) and parent.resource_type.startswith(PACKAGED_COMPONENTS):
        found.add(parent.urn)
        parent = getattr(parent, "parent", None)
    return found


def _points_to(source: PolicyResource, target: PolicyResource, *path: str, via_component: bool = False) -> bool:
    """Whether `source`'s property refers to `target`.

    With `via_component`, a dependency on the awsx component that created `target` also counts: in a
    first preview that is all the engine can say. Only checks that require a link to exist use it; a
    check that forbids a link must not, or a dependency on the VPC component would tie a database to
    every subnet of the VPC, public ones included.
    """
    found = refs(source, *path)
    return bool(found & identities(target)) or (via_component and bool(found & _packaging_components(target)))


def _link_unknown(resource: PolicyResource, *path: str) -> bool:
    """True when a reference cannot be followed: its value is unknown and no dependency is recorded."""
    return at(resource.props, *path) is UNKNOWN and not _deps(resource, path[0])


def _of_type(resources: Iterable[PolicyResource], *types: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type in types]


# -- building policies ----------------------------------------------------------------------------

Resources = Sequence[PolicyResource]
Config = Mapping[str, Any]
# A stack policy's findings: the message and the URN of the resource at fault.
Violations = Iterator[tuple[str, str | None]]
ResourceCheck = Callable[[Any, Mapping[str, Any]], Iterable[str]]
TypedCheck = Callable[[str, Any, Mapping[str, Any]], Iterable[str]]
StackCheck = Callable[[Sequence[PolicyResource], Mapping[str, Any]], Iterable[tuple[str, str | None]]]

POLICIES: list[Policy] = []
# Each policy's config defaults: the engine applies the schema's defaults, the tests do not.
CONFIG_DEFAULTS: dict[str, dict[str, Any]] = {}
REQUIRED_SWITCH = {"required": {"type": "boolean", "default": False}}


def _schema(name: str, properties: Mapping[str, Mapping[str, Any]] | None) -> PolicyConfigSchema | None:
    CONFIG_DEFAULTS[name] = {k: v.get("default") for k, v in (properties or {}).items()}
    return PolicyConfigSchema(properties={k: dict(v) for k, v in properties.items()}) if properties else None


def _config(name: str, given: Any) -> dict[str, Any]:
    return {**CONFIG_DEFAULTS[name], **(dict(given) if isinstance(given, Mapping) else {})}


def typed_resource_policy(name: str, description: str, types: Sequence[str],
                          config: Mapping[str, Mapping[str, Any]] | None = None,
                          ) -> Callable[[TypedCheck], TypedCheck]:
    """A policy over single resources whose check also needs the resource's type."""
    def register(check: TypedCheck) -> TypedCheck:
        def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
            if args.resource_type not in types:
                return
            for message in check(args.resource_type, args.props, _config(name, args.get_config())):
                report_violation(message, None)

        POLICIES.append(ResourceValidationPolicy(
            name=name, description=description, validate=validate,
            enforcement_level=EnforcementLevel.MANDATORY, config_schema=_schema(name, config)))
        return check
    return register


def resource_policy(name: str, description: str, types: Sequence[str],
                    config: Mapping[str, Mapping[str, Any]] | None = None) -> Callable[[ResourceCheck], ResourceCheck]:
    def register(check: ResourceCheck) -> ResourceCheck:
        typed_resource_policy(name, description, types, config)(lambda _type, props, cfg: check(props, cfg))
        return check
    return register


def stack_policy(name: str, description: str,
                 config: Mapping[str, Mapping[str, Any]] | None = None) -> Callable[[StackCheck], StackCheck]:
    def register(check: StackCheck) -> StackCheck:
        def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
            resources = [r for r in args.resources or [] if isinstance(r, PolicyResource)]
            for message, urn in check(resources, _config(name, args.get_config())):
                report_violation(message, urn)

        POLICIES.append(StackValidationPolicy(
            name=name, description=description, validate=validate,
            enforcement_level=EnforcementLevel.MANDATORY, config_schema=_schema(name, config)))
        return check
    return register


# -- RDS (Security Hub RDS.2, RDS.3, RDS.6, RDS.8, RDS.10, RDS.11, RDS.5) -------------------------

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


# -- security groups (EC2.18, EC2.19, EC2.2, EC2.53) -----------------------------------------------

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


@stack_policy("db-ingress-only-from-app", "The database's security group admits only the app's or the RDS "
              "Proxy's security group.")
def _db_ingress(resources: Resources, config: Config) -> Violations:
    db_groups = _groups_named_by(resources, [RDS_INSTANCE], "vpcSecurityGroupIds")
    clients = (_groups_named_by(resources, [ECS_SERVICE], "networkConfiguration", "securityGroups")
               | _groups_named_by(resources, [RDS_PROXY], "vpcSecurityGroupIds"))
    for rule in _ingress(resources):
        if not rule.group & db_groups or rule.unknown:
            continue
        if rule.cidrs or rule.prefix_lists or rule.self_peer or not rule.peers:
            yield f"the database's group admits more than a security group: {rule.describe()}", rule.owner.urn
        elif not rule.peers & clients:
            yield (f"the database's group admits a group that is neither the app's nor the proxy's: "
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


# -- ECS service and containers (ECS.2, ECS.4, ECS.5, ECS.8) ---------------------------------------

@resource_policy("ecs-no-public-ip", "ECS tasks get no public IP (ECS.2).", [ECS_SERVICE])
def _ecs_no_public_ip(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if at(props, "networkConfiguration", "assignPublicIp") is True:
        yield "tasks must not get public IPs (networkConfiguration.assignPublicIp is True)"


@resource_policy("ecs-circuit-breaker-rollback", "The ECS service's circuit breaker is on and rolls back.",
                 [ECS_SERVICE])
def _ecs_circuit_breaker(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    yield from _must_be_true(props, "deploymentCircuitBreaker", "enable", message="the circuit breaker must be on")
    yield from _must_be_true(props, "deploymentCircuitBreaker", "rollback",
                             message="the circuit breaker must roll back")


@resource_policy("ecs-deployment-alarms-rollback", "The ECS service rolls back when a deployment alarm fires.",
                 [ECS_SERVICE])
def _ecs_alarms(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    yield from _must_be_true(props, "alarms", "enable", message="deployment alarms must be enabled")
    yield from _must_be_true(props, "alarms", "rollback", message="deployment alarms must roll back")
    names = at(props, "alarms", "alarmNames")
    if names is not UNKNOWN and not elements(names):
        yield "deployment alarms must name at least one alarm"


@stack_policy("ecs-deployment-alarms-defined", "Every alarm an ECS service watches during a deployment is a "
              "CloudWatch alarm of this stack (ECS does not check the names: a missing one never fires).")
def _ecs_alarms_defined(resources: Resources, config: Config) -> Violations:
    defined = {text(at(a.props, "name")) for a in _of_type(resources, METRIC_ALARM)} - {""}
    unknown = any(at(a.props, "name") is UNKNOWN for a in _of_type(resources, METRIC_ALARM))
    for service in _of_type(resources, ECS_SERVICE):
        for name in elements(at(service.props, "alarms", "alarmNames")):
            if name is UNKNOWN or unknown:
                continue
            if text(name) not in defined:
                yield (f"service {service.name} watches the alarm {name!r}, which this stack does not define",
                       service.urn)


def _forwarded_groups(rule: PolicyResource) -> set[str] | None:
    """The target group ARNs a rule forwards to; None while any of them is unknown."""
    found: set[str] = set()
    for action in _actions(rule, "actions"):
        candidates = [at(action, "targetGroupArn"), *(at(g, "arn") for g in
                                                      elements(at(action, "forward", "targetGroups")))]
        if action is UNKNOWN or UNKNOWN in candidates or at(action, "forward", "targetGroups") is UNKNOWN:
            return None
        found |= {text(c) for c in candidates} - {""}
    return found


def _canary_wiring(service: PolicyResource, index: int, entry: Any, resources: Resources) -> Iterator[str]:
    """One load balancer entry of a canary service: what ECS needs to shift traffic on an ALB."""
    path = ("loadBalancers", index, "advancedConfiguration")
    advanced = at(entry, "advancedConfiguration")
    if advanced is UNKNOWN:
        return
    if not isinstance(advanced, Mapping):
        yield ("needs loadBalancers[].advancedConfiguration (alternate target group, production listener rule "
               "and role)")
        return

    def linked(key: str, types: Sequence[str]) -> list[PolicyResource] | None:
        """The stack's resources of `types` the setting names; None when it cannot be followed yet."""
        value = at(advanced, key)
        candidates = _of_type(resources, *types)
        if value is not UNKNOWN:
            return [r for r in candidates if text(value) in identities(r)]
        # Preview: the ARN is not known, but the engine records what `loadBalancers` depends on.
        deps = {d.urn for d in _deps(service, path[0])}
        if not deps:
            return None
        return [r for r in candidates if r.urn in deps or _packaging_components(r) & deps]

    primary = at(entry, "targetGroupArn")
    alternate = at(advanced, "alternateTargetGroupArn")
    groups = linked("alternateTargetGroupArn", TARGET_GROUPS)
    if groups == []:
        yield f"the alternate target group {alternate!r} is not a target group of this stack"
    if text(alternate) and alternate == primary:
        yield "the alternate target group must differ from the primary one"
    rules = linked("productionListenerRule", LISTENER_RULES)
    if rules == []:
        yield (f"the production listener rule {at(advanced, 'productionListenerRule')!r} is not a listener rule of "
               "this stack (an ALB canary needs a rule ARN, not a listener ARN)")
    for rule in rules or []:
        forwarded = _forwarded_groups(rule)
        wanted = {text(primary), text(alternate)} - {""}
        if forwarded is not None and not wanted <= forwarded:
            yield (f"the production listener rule {rule.name} must forward to both target groups "
                   f"(forwards to {sorted(forwarded)})")
    role = at(advanced, "roleArn")
    if role is not UNKNOWN and not text(role):
        yield "ECS needs a roleArn to rewrite the production listener rule"


@stack_policy("ecs-canary", "A service that releases by canary has what ECS needs to shift traffic on the ALB: "
              "the ECS controller, a canary configuration, and per load balancer an alternate target group, a "
              "production listener rule forwarding to both groups, and a role; where configured, the service "
              "must release by canary.", REQUIRED_SWITCH)
def _ecs_canary(resources: Resources, config: Config) -> Violations:
    for service in _of_type(resources, ECS_SERVICE):
        strategy = at(service.props, "deploymentConfiguration", "strategy")
        if strategy is UNKNOWN:
            continue
        if strategy != "CANARY":
            if config["required"] is True:
                yield (f"service {service.name}: this stack releases by canary "
                       f"(deploymentConfiguration.strategy is {strategy!r})", service.urn)
            continue
        problems: list[str] = []
        controller = at(service.props, "deploymentController", "type")
        if controller not in (None, "ECS", UNKNOWN):
            problems.append(f"a canary needs the ECS deployment controller (is {controller!r})")
        if not isinstance(at(service.props, "deploymentConfiguration", "canaryConfiguration"), Mapping) and \
                at(service.props, "deploymentConfiguration", "canaryConfiguration") is not UNKNOWN:
            problems.append("a canary needs deploymentConfiguration.canaryConfiguration")
        balancers = at(service.props, "loadBalancers")
        if balancers is not UNKNOWN and not elements(balancers):
            problems.append("a canary needs a load balancer to shift traffic on")
        for index, entry in enumerate(elements(balancers)):
            if entry is not UNKNOWN:
                problems += _canary_wiring(service, index, entry, resources)
        for problem in problems:
            yield f"service {service.name}: {problem}", service.urn


def _containers(props: Any) -> Iterator[Any]:
    """Each container of a task definition's `containerDefinitions` (a JSON string in the engine)."""
    raw = at(props, "containerDefinitions")
    if raw is UNKNOWN:
        return
    decoded = _json(raw)
    if not _is_list(decoded):
        yield None  # unreadable: every container check reports it
        return
    yield from elements(decoded)


def _container_policy(name: str, description: str) -> Callable[[Callable[[Any], Iterable[str]]], Any]:
    def register(check: Callable[[Any], Iterable[str]]) -> Any:
        @resource_policy(name, description, [TASK_DEFINITION])
        def per_container(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
            for container in _containers(props):
                if container is UNKNOWN:
                    continue
                if not isinstance(container, Mapping):
                    yield "containerDefinitions must be a JSON list of container objects"
                    continue
                label = text(at(container, "name")) or "?"
                yield from (f"container {label}: {m}" for m in check(container))
        return per_container
    return register


@_container_policy("ecs-container-not-privileged", "No container runs privileged (ECS.4).")
def _not_privileged(container: Any) -> Iterator[str]:
    if at(container, "privileged") is True:
        yield "must not be privileged"


@_container_policy("ecs-container-readonly-root", "Every container's root filesystem is read-only (ECS.5).")
def _readonly_root(container: Any) -> Iterator[str]:
    value = at(container, "readonlyRootFilesystem")
    if value is not UNKNOWN and value is not True:
        yield f"readonlyRootFilesystem must be true (is {value!r})"


@_container_policy("ecs-container-non-root-user", "Every container runs as a non-root user.")
def _non_root(container: Any) -> Iterator[str]:
    user = at(container, "user")
    if user is UNKNOWN:
        return
    if not text(user) or user.split(":")[0].strip() in ("", "0", "root"):
        yield f"must run as a non-root user (user is {user!r})"


@_container_policy("ecs-container-drop-all-capabilities", "Every container drops all Linux capabilities.")
def _drop_all(container: Any) -> Iterator[str]:
    dropped = at(container, "linuxParameters", "capabilities", "drop")
    if dropped is not UNKNOWN and "ALL" not in [text(d).upper() for d in elements(dropped)]:
        yield f"linuxParameters.capabilities.drop must include ALL (is {dropped!r})"


@_container_policy("ecs-container-no-secret-env", "Credentials reach containers only through `secrets`, never "
                   "as plain environment variables (ECS.8).")
def _no_secret_env(container: Any) -> Iterator[str]:
    for variable in elements(at(container, "environment")):
        name = text(at(variable, "name"))
        if SECRET_NAME.search(name) and not REFERENCE_NAME.fullmatch(name):
            yield f"environment variable {name} looks like a credential: pass it through `secrets`"


@resource_policy("ecs-task-no-role", "Tasks get no task role: the app calls no AWS API (least privilege).",
                 [TASK_DEFINITION])
def _task_no_role(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    role = at(props, "taskRoleArn")
    if role is not UNKNOWN and text(role):
        yield f"tasks must not get a task role (taskRoleArn is {role!r}); the app calls no AWS API"


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


# -- load balancer and listeners (ELB.4, ELB.5, ELB.6, ELB.3) --------------------------------------

def _application(props: Any) -> bool:
    return at(props, "loadBalancerType") in (None, "application", UNKNOWN)


@resource_policy("alb-drop-invalid-headers", "The load balancer drops invalid HTTP headers (ELB.4).", LOAD_BALANCERS)
def _alb_headers(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if _application(props):
        yield from _must_be_true(props, "dropInvalidHeaderFields",
                                 message="the load balancer must drop invalid header fields")


@resource_policy("alb-idle-timeout", f"The load balancer's idle timeout is below the app's {APP_IDLE_SECONDS} s, "
                 "so the app never closes a connection the load balancer still uses.", LOAD_BALANCERS)
def _alb_idle(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    timeout = at(props, "idleTimeout")
    if _application(props) and timeout is not UNKNOWN:
        seconds = APP_IDLE_SECONDS if timeout is None else number(timeout)
        if seconds is None or seconds >= APP_IDLE_SECONDS:
            yield f"idleTimeout must be below {APP_IDLE_SECONDS} s (is {timeout!r}; AWS's default is 60)"


@resource_policy("alb-access-logs", "The load balancer writes access logs to S3, where configured (ELB.5).",
                 LOAD_BALANCERS, REQUIRED_SWITCH)
def _alb_access_logs(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if config["required"] is not True or not _application(props):
        return
    yield from _must_be_true(props, "accessLogs", "enabled", message="this stack's load balancer must log access")
    bucket = at(props, "accessLogs", "bucket")
    if bucket is not UNKNOWN and not text(bucket):
        yield "access logs need a bucket"


@resource_policy("alb-deletion-protection", "The load balancer is deletion-protected, where configured (ELB.6).",
                 LOAD_BALANCERS, REQUIRED_SWITCH)
def _alb_deletion_protection(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if config["required"] is True:
        yield from _must_be_true(props, "enableDeletionProtection",
                                 message="this stack's load balancer must be deletion-protected")


@stack_policy("alb-waf", "A WAF web ACL is associated with the load balancer, where configured.", REQUIRED_SWITCH)
def _alb_waf(resources: Resources, config: Config) -> Violations:
    if config["required"] is not True:
        return
    associations = _of_type(resources, WAF_ASSOCIATION)
    for lb in _of_type(resources, *LOAD_BALANCERS):
        if _application(lb.props) and not any(
                _points_to(a, lb, "resourceArn", via_component=True) or _link_unknown(a, "resourceArn")
                for a in associations):
            yield f"load balancer {lb.name} has no WAF web ACL association", lb.urn


@resource_policy("listener-tls-policy", "HTTPS listeners use a TLS 1.2+ security policy (ELB.17).", LISTENERS)
def _listener_tls(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if at(props, "protocol") != "HTTPS":
        return
    policy = at(props, "sslPolicy")
    if policy is not UNKNOWN and not (text(policy) and TLS12_POLICY.fullmatch(policy)):
        yield f"an HTTPS listener needs a TLS 1.2+ security policy (sslPolicy is {policy!r})"


def _actions(resource: PolicyResource, key: str) -> list[Any]:
    return elements(at(resource.props, key))


def _forwards(actions: list[Any]) -> bool:
    return any(at(a, "type") == "forward" or at(a, "forward") not in (None, UNKNOWN) for a in actions)


def _same_lb(listeners: Sequence[PolicyResource]) -> dict[frozenset[str], list[PolicyResource]]:
    by_lb: dict[frozenset[str], list[PolicyResource]] = {}
    for listener in listeners:
        by_lb.setdefault(frozenset(refs(listener, "loadBalancerArn")), []).append(listener)
    return by_lb


@stack_policy("http-redirects-to-https", "Where a load balancer has an HTTPS listener, its HTTP listeners only "
              "redirect to HTTPS (ELB.1).")
def _http_redirects(resources: Resources, config: Config) -> Violations:
    for listeners in _same_lb(_of_type(resources, *LISTENERS)).values():
        if not any(at(ls.props, "protocol") == "HTTPS" for ls in listeners):
            continue
        for listener in listeners:
            if at(listener.props, "protocol") != "HTTP":
                continue
            actions = _actions(listener, "defaultActions")
            if UNKNOWN in actions:
                continue
            if not actions or not all(at(a, "type") == "redirect" and at(a, "redirect", "protocol") == "HTTPS"
                                      for a in actions):
                yield f"HTTP listener {listener.name} must redirect to HTTPS when HTTPS is served", listener.urn


def _blocks_debug(rule: PolicyResource) -> bool:
    paths: set[str] = set()
    for condition in _actions(rule, "conditions"):
        paths |= {text(v) for v in elements(at(condition, "pathPattern", "values"))}
    actions = _actions(rule, "actions")
    return set(DEBUG_PATHS) <= paths and bool(actions) and not _forwards(actions)


@stack_policy("alb-debug-blocked", "Every listener that serves the app blocks /debug and /debug/* with a rule "
              "that outranks every forwarding rule.")
def _debug_blocked(resources: Resources, config: Config) -> Violations:
    rules = _of_type(resources, *LISTENER_RULES)
    for listener in _of_type(resources, *LISTENERS):
        own = [r for r in rules if _points_to(r, listener, "listenerArn", via_component=True)]
        forwarding = [r for r in own if _forwards(_actions(r, "actions"))]
        if not _forwards(_actions(listener, "defaultActions")) and not forwarding:
            continue  # redirects only: it serves nothing
        blockers = [r for r in own if _blocks_debug(r)]
        if not blockers:
            if not any(_link_unknown(r, "listenerArn") for r in rules):
                yield (f"listener {listener.name} serves the app but has no rule blocking "
                       f"{', '.join(DEBUG_PATHS)}", listener.urn)
            continue
        first = min((number(at(r.props, "priority")) or float("inf")) for r in blockers)
        if any((number(at(r.props, "priority")) or float("inf")) <= first for r in forwarding):
            yield f"listener {listener.name}: a forwarding rule outranks the /debug block", listener.urn


# -- logs, keys, topics, secrets (CloudWatch.16, KMS.4, SNS.1, SecretsManager) ----------------------

@resource_policy("log-group-retention", "Every log group expires its logs after the configured days at least "
                 "(CloudWatch.16).", [LOG_GROUP], {"minRetentionDays": {"type": "integer", "default": 1, "minimum": 1}})
def _log_retention(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    days, wanted = at(props, "retentionInDays"), number(config["minRetentionDays"]) or 1
    if days is not UNKNOWN and (number(days) or 0) < wanted:
        yield f"retentionInDays is {days!r}; log groups need a retention of at least {wanted:g} days"


@resource_policy("log-group-kms", "Every log group is encrypted with the stack's customer-managed key.", [LOG_GROUP])
def _log_kms(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    key = at(props, "kmsKeyId")
    if key is not UNKNOWN and not text(key):
        yield "log groups must be encrypted with the stack's KMS key (kmsKeyId is not set)"


@resource_policy("sns-topic-encrypted", "The alarm topic is encrypted with a customer-managed key (SNS.1).",
                 [SNS_TOPIC])
def _sns_encrypted(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    key = at(props, "kmsMasterKeyId")
    # CloudWatch cannot publish to a topic under the AWS-managed alias/aws/sns key.
    if key is not UNKNOWN and (not text(key) or key == "alias/aws/sns"):
        yield f"topics must be encrypted with a customer-managed KMS key (kmsMasterKeyId is {key!r})"


@resource_policy("secret-cmk", "Secrets are encrypted with a customer-managed key.", [SM_SECRET])
def _secret_cmk(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    key = at(props, "kmsKeyId")
    if key is not UNKNOWN and (not text(key) or key == "alias/aws/secretsmanager"):
        yield f"secrets must use a customer-managed KMS key (kmsKeyId is {key!r})"


@resource_policy("kms-key-rotation", "Customer-managed symmetric keys rotate yearly (KMS.4).", [KMS_KEY])
def _kms_rotation(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    spec = at(props, "keySpec") or at(props, "customerMasterKeySpec")
    if spec in (None, "SYMMETRIC_DEFAULT", UNKNOWN):
        yield from _must_be_true(props, "enableKeyRotation", message="key rotation must be on")


# -- S3 (S3.1/S3.8, S3.5) --------------------------------------------------------------------------

def _for_bucket(resources: Sequence[PolicyResource], kind: str, bucket: PolicyResource) -> list[PolicyResource]:
    return [r for r in _of_type(resources, kind) if _points_to(r, bucket, "bucket") or _link_unknown(r, "bucket")]


@stack_policy("s3-public-access-block", "Every bucket blocks public access (S3.8).")
def _s3_public_access(resources: Resources, config: Config) -> Violations:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for bucket in _of_type(resources, *BUCKETS):
        blocks = _for_bucket(resources, BUCKET_PUBLIC_ACCESS_BLOCK, bucket)
        if not any(all(at(b.props, f) in (True, UNKNOWN) for f in flags) for b in blocks):
            yield f"bucket {bucket.name} needs a public access block with all four settings on", bucket.urn


def _denies_plain_http(policy: Any) -> bool:
    document = _json(policy)
    statements = at(document, "Statement")
    for statement in elements(statements) if _is_list(statements) else [statements]:
        secure = at(statement, "Condition", "Bool", "aws:SecureTransport")
        if at(statement, "Effect") == "Deny" and str(secure).lower() == "false":
            return True
    return False


@stack_policy("s3-tls-only", "Every bucket's policy denies requests that do not use TLS (S3.5).")
def _s3_tls_only(resources: Resources, config: Config) -> Violations:
    for bucket in _of_type(resources, *BUCKETS):
        policies = _for_bucket(resources, BUCKET_POLICY, bucket)
        if not any(at(p.props, "policy") is UNKNOWN or _denies_plain_http(at(p.props, "policy")) for p in policies):
            yield f"bucket {bucket.name} needs a policy that denies aws:SecureTransport false", bucket.urn


POLICY_NAMES = tuple(p.name for p in POLICIES)

"""Pulumi mocks that answer like AWS would, and a runner that executes the real program per stack.

The mocks invent provider-side values (IDs, ARNs, endpoints, generated passwords) in the shapes
AWS returns; they never invent the values the program is supposed to set, so a test that checks
an input checks what the program sent.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random as _random
import runpy
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.proto import resource_pb2, source_pb2
from pulumi.runtime.sync_await import _sync_await

# The SDK walks the whole Python stack (pytest's frames included) for every resource to tell the engine which
# line created it; the recording keeps no source positions and no test reads them, and the walk cost about a
# tenth of every render. The mocks' engine gets an empty stack trace instead.
pulumi_resource._get_stack_trace = source_pb2.StackTrace

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "tca"
ACCOUNT = "123456789012"

STACK_REFERENCE = "pulumi:pulumi:StackReference"

_REF_KEY = "4dabf18193072939515e22adb298388d"
_REF_SIG = "5cf8f73096256a8f31e491e813e4eb8e"

# Inputs of awsx components whose names collide with resource-typed outputs.
_COMPONENT_INPUTS_TO_DROP = {
    "awsx:ec2:Vpc": {"natGateways"},
    "awsx:lb:ApplicationLoadBalancer": {"defaultTargetGroup", "defaultSecurityGroup", "listener", "listeners"},
    "awsx:ecs:FargateService": {"taskDefinition"},
    "awsx:ecs:FargateTaskDefinition": {"executionRole", "logGroup", "taskRole"},
}


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    id: str
    inputs: dict
    outputs: dict
    custom: bool
    parent: str = ""
    protect: bool = False
    dependencies: list = field(default_factory=list)
    # Per input property, the URNs its value came from (an Output of another resource).
    property_dependencies: dict = field(default_factory=dict)
    ignore_changes: list = field(default_factory=list)
    transforms: list = field(default_factory=list)
    delete_before_replace: bool = False
    # Alias specs as dicts, e.g. {"spec": {"parentUrn": ...}} for a resource moved to a new parent.
    aliases: list = field(default_factory=list)


def _short_hash(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


# What RDS answers for PostgreSQL in the stack's region (DescribeDBEngineVersions /
# DescribeOrderableDBInstanceOptions), trimmed to the families a user would plausibly type.
RDS_POSTGRES_LATEST = {14: "14.19", 15: "15.14", 16: "16.10", 17: "17.6", 18: "18.1"}
_RDS_SIZES = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")
RDS_POSTGRES_CLASSES = frozenset(
    [f"db.t3.{s}" for s in ("micro", "small", "medium", "large", "xlarge", "2xlarge")]
    + [f"db.t4g.{s}" for s in ("micro", "small", "medium", "large", "xlarge", "2xlarge")]
    + [f"db.{family}.{size}" for family in ("m5", "m6g", "m6i", "m7g", "r5", "r6g", "r6i", "r7g")
       for size in _RDS_SIZES])


def rds_offers_like_aws(instance_class: str, major: int) -> str | None:
    """The answer `infra.config.rds_offers_instance_class` gets from AWS, for tests that skip the engine."""
    if major not in RDS_POSTGRES_LATEST:
        return f"RDS offers no PostgreSQL {major} in this region"
    return None if instance_class in RDS_POSTGRES_CLASSES else f"RDS does not offer {instance_class}"


# AWS's zone IDs abbreviate the region (apse2-az1, euw1-az1, use1-az1).
_DIRECTIONS = {"north": "n", "south": "s", "east": "e", "west": "w", "central": "c", "northeast": "ne",
               "northwest": "nw", "southeast": "se", "southwest": "sw"}


def availability_zones(region: str) -> list[str]:
    """The zone names getAvailabilityZones answers in `region`: the region's name plus a letter."""
    return [f"{region}{letter}" for letter in "abc"]


def zone_id_prefix(region: str) -> str:
    area, *words, number = region.split("-")
    return area + "".join(_DIRECTIONS.get(word, word[:1]) for word in words) + number


# An existing VPC, as EC2 describes it: subnet -> (VPC, AZ, its route table's default-route target or None).
# The public subnets route 0.0.0.0/0 to an internet gateway, the private ones to a NAT gateway; the isolated
# one has no association of its own (it uses the VPC's main route table, which has only the local route); the
# foreign one is in another VPC; the central-egress one routes 0.0.0.0/0 to a transit gateway.
EXISTING_VPC = "vpc-0e1d2c3b4a5968778"
OTHER_VPC = "vpc-0ffeeffeeffeeffee"
EXISTING_PUBLIC = tuple(f"subnet-0a{i}{'0' * 14}" for i in range(3))
EXISTING_PRIVATE = tuple(f"subnet-0b{i}{'0' * 14}" for i in range(3))
EXISTING_ISOLATED = "subnet-0c0" + "0" * 14
FOREIGN_SUBNET = "subnet-0d0" + "0" * 14
EXISTING_CENTRAL_EGRESS = "subnet-0e0" + "0" * 14
TRANSIT_GATEWAY = "tgw-0123456789abcdef0"
# The zone is its letter: the mocks answer in the stack's region (availability_zones).
EC2_SUBNETS: dict[str, tuple[str, str, str | None]] = {
    **{s: (EXISTING_VPC, az, "igw-0123456789abcdef0") for s, az in zip(EXISTING_PUBLIC, "abc", strict=True)},
    **{s: (EXISTING_VPC, az, f"nat-0{az * 16}") for s, az in zip(EXISTING_PRIVATE, "abc", strict=True)},
    EXISTING_ISOLATED: (EXISTING_VPC, "a", None),
    FOREIGN_SUBNET: (OTHER_VPC, "a", "igw-0fedcba9876543210"),
    EXISTING_CENTRAL_EGRESS: (EXISTING_VPC, "a", TRANSIT_GATEWAY),
}
# A deployment into the existing VPC: one public and one private subnet per zone, so it asks for as many zones
# as it lists (tca:azCount), whatever the stack file says.
EXISTING_VPC_SETTINGS: dict[str, Any] = {"tca:vpcId": EXISTING_VPC, "tca:azCount": len(EXISTING_PUBLIC),
                                         "tca:publicSubnetIds": json.dumps(list(EXISTING_PUBLIC)),
                                         "tca:privateSubnetIds": json.dumps(list(EXISTING_PRIVATE))}
# The route field each default-route target's ID is reported in (by its prefix); the rest are gateways.
_TARGET_FIELDS = {"nat-": "natGatewayId", "tgw-": "transitGatewayId"}
_ROUTE_FIELDS = ("carrierGatewayId", "cidrBlock", "coreNetworkArn", "destinationPrefixListId", "egressOnlyGatewayId",
                 "gatewayId", "instanceId", "ipv6CidrBlock", "localGatewayId", "natGatewayId", "networkInterfaceId",
                 "odbNetworkArn", "transitGatewayId", "vpcEndpointId", "vpcPeeringConnectionId")


def _route_table(region: str, vpc_id: str, table_id: str, target: str | None) -> dict:
    """A route table as the provider reads it: the local route is left out, unset fields are ""."""
    routes = []
    if target is not None:
        kind = next((f for prefix, f in _TARGET_FIELDS.items() if target.startswith(prefix)), "gatewayId")
        routes.append({**dict.fromkeys(_ROUTE_FIELDS, ""), "cidrBlock": "0.0.0.0/0", kind: target})
    return {"id": table_id, "routeTableId": table_id, "vpcId": vpc_id, "routes": routes, "associations": [],
            "tags": {}, "arn": f"arn:aws:ec2:{region}:{ACCOUNT}:route-table/{table_id}", "ownerId": ACCOUNT}


_VPCS = {vpc for vpc, _, _ in EC2_SUBNETS.values()}
_NO_ROUTE_TABLE = "query returned no results. Please change your search criteria and try again"


def _get_vpc(query: dict, region: str) -> dict | tuple[dict, list[tuple[str, str]]]:
    if query.get("id") not in _VPCS:
        return {}, [("id", "no matching EC2 VPC found")]
    # The platform team's VPC resolves names; the other one has DNS resolution turned off.
    return {"id": query["id"], "cidrBlock": "10.20.0.0/16", "state": "available",
            "enableDnsSupport": query["id"] == EXISTING_VPC, "enableDnsHostnames": query["id"] == EXISTING_VPC}


def _get_subnet(query: dict, region: str) -> dict | tuple[dict, list[tuple[str, str]]]:
    if query.get("id") not in EC2_SUBNETS:
        return {}, [("id", "no matching EC2 Subnet found")]
    vpc, letter, _ = EC2_SUBNETS[query["id"]]
    return {"id": query["id"], "vpcId": vpc, "availabilityZone": f"{region}{letter}"}


def _get_route_table(query: dict, region: str) -> dict | tuple[dict, list[tuple[str, str]]]:
    subnet = query.get("subnetId")
    if subnet:
        # The filter is association.subnet-id: a subnet on the main route table matches nothing.
        if subnet not in EC2_SUBNETS or EC2_SUBNETS[subnet][2] is None:
            return {}, [("subnetId", _NO_ROUTE_TABLE)]
        vpc, _, target = EC2_SUBNETS[subnet]
        return _route_table(region, vpc, f"rtb-0{_short_hash(subnet, length=16)}", target)
    main = {"name": "association.main", "values": ["true"]} in (query.get("filters") or [])
    if not main or query.get("vpcId") not in _VPCS:
        return {}, [("vpcId", _NO_ROUTE_TABLE)]
    return _route_table(region, query["vpcId"], f"rtb-0{_short_hash(query['vpcId'], length=16)}", None)


_Lookup = Callable[[dict, str], dict | tuple[dict, list[tuple[str, str]]]]
_EC2_LOOKUPS: dict[str, _Lookup] = {
    "aws:ec2/getVpc:getVpc": _get_vpc, "aws:ec2/getSubnet:getSubnet": _get_subnet,
    "aws:ec2/getRouteTable:getRouteTable": _get_route_table}


class AwsMocks(pulumi.runtime.Mocks):
    """Answers resource registrations and calls with realistic AWS-shaped values."""

    def __init__(self, stack: str, region: str, stack_outputs: dict[str, dict[str, Any]] | None = None):
        self.stack = stack
        self.region = region
        # Referenced stacks' outputs by fully qualified name, answered to `pulumi.StackReference`.
        self.stack_outputs = stack_outputs or {}
        self.monitor: RecordingMonitor | None = None
        self.by_name: dict[tuple[str, str], Registration] = {}
        self.generated_secrets: list[str] = []
        self.invoked: list[str] = []

    def call(self, args: pulumi.runtime.MockCallArgs):
        # A dict is the answer; ({}, [(property, reason)]) fails the lookup the way a provider error
        # does (the program sees "invoke of <token> failed: <reason>" and can catch it).
        self.invoked.append(args.token)
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": availability_zones(self.region),
                    "zoneIds": [f"{zone_id_prefix(self.region)}-az{i}" for i in (1, 2, 3)]}
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/test", "userId": "AIDTEST"}
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region}
        lookup = _LOOKUPS.get(args.token)
        return lookup(args.args, self.region) if lookup is not None else {}

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{ACCOUNT}:{resource}"

    # -- resource outputs -------------------------------------------------------------------

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if args.typ == STACK_REFERENCE:
            # The engine reads a stack reference as a resource whose ID is the stack's name.
            name = args.inputs["name"]
            if name not in self.stack_outputs:
                raise Exception(f"unknown stack {name!r}")
            outputs = self.stack_outputs[name]
            return name, {"name": name, "outputs": outputs, "secretOutputNames": []}
        handler = _HANDLERS.get(args.typ, _generic)
        resource_id, extra = handler(self, args.name, dict(args.inputs))
        dropped = _COMPONENT_INPUTS_TO_DROP.get(args.typ, set())
        state = {**{k: v for k, v in args.inputs.items() if k not in dropped}, **extra}
        return resource_id, state

    def child_reference(self, parent_type: str, child_type: str, name: str, resource_id: str,
                        state: dict) -> dict:
        """Register a child an awsx component would create and return a reference to it."""
        assert self.monitor is not None
        urn = f"urn:pulumi:{self.stack}::{PROJECT}::{parent_type}${child_type}::{name}"
        self.monitor.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(
            urn, resource_id, {"id": resource_id, **state})
        return {_REF_KEY: _REF_SIG, "urn": urn, "id": resource_id, "type": child_type, "name": name,
                "packageVersion": ""}


def _rds_engine_version(query: dict) -> dict | tuple[dict, list[tuple[str, str]]]:
    major = str(query.get("version", "")).split(".")[0]
    if query.get("engine") != "postgres" or not major.isdigit() or int(major) not in RDS_POSTGRES_LATEST:
        # The provider's own words when DescribeDBEngineVersions returns nothing.
        return {}, [("version", "no RDS engine versions match the criteria and preferred versions")]
    actual = RDS_POSTGRES_LATEST[int(major)]
    return {"engine": "postgres", "version": query["version"], "versionActual": actual,
            "parameterGroupFamily": f"postgres{major}"}


def _rds_orderable(query: dict) -> dict | tuple[dict, list[tuple[str, str]]]:
    version = str(query.get("engineVersion", ""))
    if (query.get("engine") != "postgres" or version not in RDS_POSTGRES_LATEST.values()
            or query.get("instanceClass") not in RDS_POSTGRES_CLASSES):
        return {}, [("instanceClass",
                     "no RDS Orderable DB Instance Options found matching criteria; try different search")]
    return {"engine": "postgres", "engineVersion": version, "instanceClass": query["instanceClass"],
            "supportsMultiAz": True, "supportsStorageEncryption": True}


_LOOKUPS: dict[str, _Lookup] = {
    "aws:rds/getEngineVersion:getEngineVersion": lambda query, _region: _rds_engine_version(query),
    "aws:rds/getOrderableDbInstance:getOrderableDbInstance": lambda query, _region: _rds_orderable(query),
    **_EC2_LOOKUPS,
}


def _generic(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    return f"{name}-{_short_hash(name)}", {}


def _named(service: str, kind: str) -> Callable[[AwsMocks, str, dict], tuple[str, dict]]:
    def handler(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
        physical = inputs.get("name") or f"{name}-{_short_hash(name, length=7)}"
        return physical, {"name": physical, "arn": m.arn(service, f"{kind}{physical}")}
    return handler


def _security_group(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    sg_id = f"sg-0{_short_hash(name, length=16)}"
    return sg_id, {"arn": m.arn("ec2", f"security-group/{sg_id}"), "name": f"{name}-{_short_hash(name, length=7)}"}


def _random_password(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    alphabet = string.ascii_letters + string.digits + inputs.get("overrideSpecial", "")
    rng = _random.Random(name)
    value = "".join(rng.choice(alphabet) for _ in range(int(inputs["length"])))
    m.generated_secrets.append(value)
    return "none", {"result": value, "bcryptHash": "$2a$10$" + _short_hash(value, length=53)}


def _random_id(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    raw = _short_hash(name, length=2 * int(inputs.get("byteLength", 4)))
    return raw, {"hex": raw, "dec": str(int(raw, 16)), "b64Url": raw, "b64Std": raw}


def _rds_instance(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    identifier = inputs.get("identifier") or f"{name}-{_short_hash(name, length=7)}"
    address = f"{identifier}.c9akciq32.{m.region}.rds.amazonaws.com"
    port = int(inputs.get("port", 5432))
    return f"db-{_short_hash(name, length=26).upper()}", {
        "identifier": identifier,
        "address": address,
        "endpoint": f"{address}:{port}",
        "port": port,
        "arn": m.arn("rds", f"db:{identifier}"),
        "engineVersionActual": f"{inputs.get('engineVersion', '16')}.6",
        "resourceId": f"db-{_short_hash(name, 'dbi', length=26).upper()}",
        # RDS's own secret for the master password, when it manages it (named rds!db-<uuid>).
        "masterUserSecrets": [{
            "secretArn": m.arn("secretsmanager", f"secret:rds!db-{_short_hash(name, 'm', length=8)}-1111-4222-8333-"
                                                 f"{_short_hash(name, 'm', length=12)}-XyZ123"),
            "kmsKeyId": inputs.get("masterUserSecretKmsKeyId"), "secretStatus": "active",
        }] if inputs.get("manageMasterUserPassword") else [],
    }


def _secret(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    arn = m.arn("secretsmanager", f"secret:{name}-{_short_hash(name, length=7)}-AbCdEf")
    return arn, {"arn": arn, "name": f"{name}-{_short_hash(name, length=7)}"}


def _secret_version(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    version = f"{_short_hash(name, length=8)}-0000-4000-8000-{_short_hash(name, length=12)}"
    return f"{inputs.get('secretId')}|{version}", {"versionId": version, "arn": inputs.get("secretId")}


def _log_group(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    group = inputs.get("name") or f"{name}-{_short_hash(name, length=7)}"
    return group, {"name": group, "arn": m.arn("logs", f"log-group:{group}")}


def _iam_role(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    role = f"{name}-{_short_hash(name, length=7)}"
    return role, {"name": role, "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                  "uniqueId": "AROA" + _short_hash(role, length=16).upper()}


def _vpc(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    count = int(inputs.get("numberOfAvailabilityZones", 2))
    vpc_id = f"vpc-0{_short_hash(name, length=16)}"
    subnets = {kind: [f"subnet-0{_short_hash(name, kind, str(i), length=16)}" for i in range(count)]
               for kind in ("private", "public")}
    vpc_ref = m.child_reference("awsx:ec2:Vpc", "aws:ec2/vpc:Vpc", name, vpc_id,
                                {"cidrBlock": inputs.get("cidrBlock"), "arn": m.arn("ec2", f"vpc/{vpc_id}")})
    return f"{name}-component", {
        "vpcId": vpc_id,
        "privateSubnetIds": subnets["private"],
        "publicSubnetIds": subnets["public"],
        "isolatedSubnetIds": [],
        "vpc": vpc_ref,
    }


def _alb(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    suffix = f"{name}-{_short_hash(name, length=7)}"
    lb_arn = m.arn("elasticloadbalancing", f"loadbalancer/app/{suffix}/{_short_hash(name, length=16)}")
    tg_arn = m.arn("elasticloadbalancing", f"targetgroup/{suffix}/{_short_hash(name, 'tg', length=16)}")
    listener_arn = m.arn("elasticloadbalancing",
                        f"listener/app/{suffix}/{_short_hash(name, length=16)}/{_short_hash(name, 'l', length=16)}")
    lb = m.child_reference("awsx:lb:ApplicationLoadBalancer", "aws:lb/loadBalancer:LoadBalancer", name, lb_arn, {
        "arn": lb_arn,
        "arnSuffix": lb_arn.split(":loadbalancer/")[1],
        "dnsName": f"{suffix}-1234567890.{m.region}.elb.amazonaws.com",
        "zoneId": "Z1GM3OXH4ZPM65",
    })
    tg = m.child_reference("awsx:lb:ApplicationLoadBalancer", "aws:lb/targetGroup:TargetGroup", name, tg_arn, {
        "arn": tg_arn,
        "arnSuffix": tg_arn.split(":", 5)[5],
        "name": suffix,
    })
    # awsx creates one listener per entry of `listeners`, or one from `listener` (port 80 by default).
    wanted = inputs.get("listeners") or [inputs.get("listener") or {"port": 80, "protocol": "HTTP"}]
    listeners = [
        m.child_reference("awsx:lb:ApplicationLoadBalancer", "aws:lb/listener:Listener", f"{name}-{i}",
                          f"{listener_arn}{i}", {"arn": f"{listener_arn}{i}", "port": spec.get("port"),
                                                 "protocol": spec.get("protocol")})
        for i, spec in enumerate(wanted)]
    return f"{name}-component", {"loadBalancer": lb, "defaultTargetGroup": tg, "listeners": listeners,
                                 "vpcId": "vpc-0from-subnets"}


def _fargate_service(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    service_name = f"{name}-{_short_hash(name, length=7)}"
    cluster = str(inputs.get("cluster", "cluster"))
    service_arn = m.arn("ecs", f"service/{cluster.rsplit('/', 1)[-1]}/{service_name}")
    service = m.child_reference("awsx:ecs:FargateService", "aws:ecs/service:Service", name, service_arn,
                                {"name": service_name, "arn": service_arn, "cluster": cluster})
    td_arn = m.arn("ecs", f"task-definition/{name}:1")
    task_definition = m.child_reference("awsx:ecs:FargateService", "aws:ecs/taskDefinition:TaskDefinition",
                                        name, td_arn, {"arn": td_arn, "family": name, "revision": 1})
    return f"{name}-component", {"service": service, "taskDefinition": task_definition}


def _fargate_task_definition(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    td_arn = m.arn("ecs", f"task-definition/{name}:1")
    task_definition = m.child_reference("awsx:ecs:FargateTaskDefinition", "aws:ecs/taskDefinition:TaskDefinition",
                                        name, td_arn, {"arn": td_arn, "family": name, "revision": 1})
    return f"{name}-component", {"taskDefinition": task_definition, "loadBalancers": []}


def _dynamic_seed(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    task_arn = m.arn("ecs", f"task/{_short_hash(name, length=12)}/{_short_hash(name, 't', length=32)}")
    return task_arn, {"task_arn": task_arn, "exit_code": 0, "stopped_at": "2026-11-28T00:00:00Z"}


def _dynamic_bootstrap(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    task_arn = m.arn("ecs", f"task/{_short_hash(name, length=12)}/{_short_hash(name, 't', length=32)}")
    return task_arn, {"task_arn": task_arn, "exit_code": 0, "stopped_at": "2026-11-28T00:00:00Z",
                      "credential": "created"}


def _ecs_task_definition(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    family = inputs.get("family", name)
    arn = m.arn("ecs", f"task-definition/{family}:1")
    return arn, {"arn": arn, "arnWithoutRevision": m.arn("ecs", f"task-definition/{family}"), "revision": 1}


def _rds_proxy(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    proxy = f"{name}-{_short_hash(name, length=7)}"
    return proxy, {"name": proxy, "arn": m.arn("rds", f"db-proxy:prx-{_short_hash(name, length=17)}"),
                   "endpoint": f"{proxy}.proxy-c9akciq32.{m.region}.rds.amazonaws.com"}


def _dashboard(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    name = inputs["dashboardName"]
    return name, {"dashboardArn": f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{name}"}


def _certificate(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    arn = m.arn("acm", f"certificate/{_short_hash(name, length=8)}-1111-4222-8333-{_short_hash(name, length=12)}")
    domain = inputs["domainName"]
    return arn, {"arn": arn, "domainValidationOptions": [{
        "domainName": domain,
        "resourceRecordName": f"_{_short_hash(domain, length=32)}.{domain}.",
        "resourceRecordType": "CNAME",
        "resourceRecordValue": f"_{_short_hash(domain, 'v', length=32)}.abcdefghij.acm-validations.aws.",
    }]}


def _record(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    fqdn = str(inputs.get("name", name)).rstrip(".")
    return f"{inputs.get('zoneId')}_{fqdn}_{inputs.get('type')}", {"fqdn": fqdn}


def _certificate_validation(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    return f"{inputs['certificateArn']}", {}


def _scaling_target(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    arn = m.arn("application-autoscaling", f"scalable-target/{_short_hash(name)}")
    return str(inputs.get("resourceId")), {"arn": arn}


def _dynamic_proxy_ready(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    return f"{inputs.get('proxy_name')}/{inputs.get('db_instance')}", {"target_state": "AVAILABLE"}


def _dynamic_rollout_check(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    deployment = f"ecs-svc/{int(_short_hash(name, length=15), 16):019d}"
    return deployment, {"rollout_state": "COMPLETED", "deployment_id": deployment}


def _kms_key(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    key_id = f"{_short_hash(name, length=8)}-1234-4567-89ab-{_short_hash(name, 'k', length=12)}"
    return key_id, {"keyId": key_id, "arn": m.arn("kms", f"key/{key_id}")}


def _target_group(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    physical = f"{name}-{_short_hash(name, length=7)}"
    arn = m.arn("elasticloadbalancing", f"targetgroup/{physical}/{_short_hash(name, 'tg', length=16)}")
    return arn, {"arn": arn, "arnSuffix": arn.split(":", 5)[5], "name": physical}


def _bucket(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    bucket = f"{name}-{_short_hash(name, length=20)}"
    return bucket, {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}


def _web_acl(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    acl_id = f"{_short_hash(name, length=8)}-1111-4222-8333-{_short_hash(name, length=12)}"
    return acl_id, {"arn": m.arn("wafv2", f"regional/webacl/{inputs.get('name', name)}/{acl_id}")}


def _sar_stack(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    """A Serverless Application Repository stack: CloudFormation's stack ID, and the template's outputs."""
    stack_name = inputs.get("name") or f"{name}-{_short_hash(name, length=7)}"
    stack_id = m.arn("cloudformation", f"stack/serverlessrepo-{stack_name}/{_short_hash(name, length=8)}-1111-4222"
                                       f"-8333-{_short_hash(name, 's', length=12)}")
    function = (inputs.get("parameters") or {}).get("functionName")
    return stack_id, {"name": stack_name,
                      "outputs": {"RotationLambdaARN": m.arn("lambda", f"function:{function}")}}


def _schedule(m: AwsMocks, name: str, inputs: dict) -> tuple[str, dict]:
    physical = inputs.get("name") or f"{name}-{_short_hash(name, length=7)}"
    group = inputs.get("groupName") or "default"
    return f"{group}/{physical}", {"name": physical, "arn": m.arn("scheduler", f"schedule/{group}/{physical}")}


_HANDLERS: dict[str, Callable[[AwsMocks, str, dict], tuple[str, dict]]] = {
    "aws:ec2/securityGroup:SecurityGroup": _security_group,
    "random:index/randomPassword:RandomPassword": _random_password,
    "random:index/randomId:RandomId": _random_id,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:rds/subnetGroup:SubnetGroup": _named("rds", "subgrp:"),
    "aws:rds/parameterGroup:ParameterGroup": _named("rds", "pg:"),
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:secretsmanager/secretVersion:SecretVersion": _secret_version,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:iam/role:Role": _iam_role,
    "aws:ecs/cluster:Cluster": _named("ecs", "cluster/"),
    "aws:lb/listenerRule:ListenerRule": _named("elasticloadbalancing", "listener-rule/app/"),
    "aws:appautoscaling/target:Target": _scaling_target,
    "aws:rds/proxy:Proxy": _rds_proxy,
    "aws:sns/topic:Topic": _named("sns", ""),
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:acm/certificate:Certificate": _certificate,
    "aws:route53/record:Record": _record,
    "aws:acm/certificateValidation:CertificateValidation": _certificate_validation,
    "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup": _named("rds", "target-group:"),
    "awsx:ec2:Vpc": _vpc,
    "awsx:lb:ApplicationLoadBalancer": _alb,
    "awsx:ecs:FargateService": _fargate_service,
    "awsx:ecs:FargateTaskDefinition": _fargate_task_definition,
    "pulumi-python:dynamic/seed:DatabaseSeed": _dynamic_seed,
    "pulumi-python:dynamic/bootstrap:DatabaseBootstrap": _dynamic_bootstrap,
    "aws:ecs/taskDefinition:TaskDefinition": _ecs_task_definition,
    # deploy-time steps: proxy readiness and the rollout check
    "pulumi-python:dynamic/proxy:ProxyReady": _dynamic_proxy_ready,
    "pulumi-python:dynamic/release:RolloutCheck": _dynamic_rollout_check,
    # security hardening: the stack's KMS key
    "aws:kms/key:Key": _kms_key,
    # release safety and edge: canary target group, access-log bucket, web ACL
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:wafv2/webAcl:WebAcl": _web_acl,
    # credential rotation: the SAR function's stack, the daily redeployment, the failure rules
    "aws:serverlessrepository/cloudFormationStack:CloudFormationStack": _sar_stack,
    "aws:scheduler/scheduleGroup:ScheduleGroup": _named("scheduler", "schedule-group/"),
    "aws:scheduler/schedule:Schedule": _schedule,
    "aws:cloudwatch/eventRule:EventRule": _named("events", "rule/"),
}


def _alias(alias: Any) -> dict:
    if alias.urn:
        return {"urn": alias.urn}
    fields = ("name", "type", "stack", "project", "parentUrn")
    return {"spec": {f: getattr(alias.spec, f) for f in fields if getattr(alias.spec, f)}}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Records every registration with its options; advertises no resource references.

    Without the resourceReferences feature a resource passed as an input is sent as its ID, as
    the notes describe; the stock monitor intermittently hangs when it is advertised.
    """

    def __init__(self, mocks: AwsMocks):
        super().__init__(mocks)
        mocks.monitor = self
        self.mocks_ref = mocks
        self.registrations: list[Registration] = []
        # Each stack transform the program registers, with how many resources were registered before it.
        self.stack_transforms: list[tuple[Any, int]] = []

    def RegisterStackTransform(self, request):
        response = super().RegisterStackTransform(request)
        self.stack_transforms += [(transform, len(self.registrations))
                                  for transform in pulumi_mocks._resolve_callbacks([request])]
        return response

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        registered = self.resources[response.urn]
        inputs = pulumi.runtime.rpc.deserialize_properties(request.object)
        transforms = pulumi_mocks._resolve_callbacks(request.transforms)
        self.registrations.append(Registration(
            type=request.type, name=request.name, urn=response.urn, id=registered.id,
            inputs=inputs, outputs=registered.state, custom=request.custom, parent=request.parent,
            protect=request.protect, dependencies=list(request.dependencies),
            property_dependencies={key: list(deps.urns) for key, deps in request.propertyDependencies.items()},
            ignore_changes=list(request.ignoreChanges), transforms=transforms,
            delete_before_replace=bool(request.deleteBeforeReplace),
            aliases=[_alias(alias) for alias in request.aliases],
        ))
        return response

    def SupportsFeature(self, request):
        if request.id == "resourceReferences":
            return type("SupportsFeatureResponse", (object,), {"hasSupport": False})
        return super().SupportsFeature(request)

    def GetDeploymentInfo(self, request):
        info = super().GetDeploymentInfo(request)
        features = [f for f in info.supportedFeatures
                    if f != resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES]
        return resource_pb2.DeploymentInfo(supportedFeatures=features)


# -- configuration ----------------------------------------------------------------------------

_parsed: dict[str, Any] = {}


def _yaml(text: str) -> Any:
    """Parse with libyaml when PyYAML has it: the suite reads the stack files thousands of times, so each
    distinct text is parsed once and every caller gets its own deep copy (nobody shares a mutable value).
    Keyed by the text itself, so an edited file is parsed afresh."""
    if text not in _parsed:
        _parsed[text] = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return copy.deepcopy(_parsed[text])


def stack_region(stack: str) -> str:
    """The aws:region the stack file sets (what `run_program(stack)` runs in)."""
    return str(_yaml((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]["aws:region"])


def read_yaml(path: Path) -> Any:
    """A YAML file of the repository (stack files, workflows), parsed afresh: tests may not share a mutable copy."""
    return _yaml(path.read_text())


def _as_config_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def stack_config(stack: str, overrides: dict[str, Any] | None = None,
                 remove: tuple[str, ...] = ()) -> dict[str, str]:
    """What the CLI would hand the program: Pulumi.yaml defaults under the stack file's values."""
    project = _yaml((ROOT / "Pulumi.yaml").read_text())
    values: dict[str, str] = {}
    for key, spec in (project.get("config") or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(spec, dict) and "default" in spec:
            values[full] = _as_config_string(spec["default"])
    stack_file = ROOT / f"Pulumi.{stack}.yaml"
    if stack_file.exists():
        for key, value in (_yaml(stack_file.read_text()).get("config") or {}).items():
            values[key] = _as_config_string(value)
    for key, value in (overrides or {}).items():
        values[key] = _as_config_string(value)
    for key in remove:
        values.pop(key, None)
    return values


# -- running the program ----------------------------------------------------------------------

@dataclass
class Run:
    stack: str
    registrations: list[Registration]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    generated_secrets: list[str]
    states: dict[str, dict]
    error: BaseException | None = None
    invoked: list[str] = field(default_factory=list)
    # The run's aws:region, which every regional ARN and endpoint the mocks answer carries.
    region: str = ""
    # Stack transforms as the engine received them: (transform, resources registered before it).
    stack_transforms: list[tuple[Any, int]] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def one(self, type_: str, name_contains: str = "") -> Registration:
        found = [r for r in self.of_type(type_) if name_contains in r.name]
        assert len(found) == 1, f"expected one {type_} named *{name_contains}*, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.registrations if r.urn == urn)

    def referenced(self, reference: dict) -> dict:
        """State of the awsx child a component output refers to."""
        return self.states[reference["urn"]]

    def by_id(self, resource_id: str) -> Registration:
        return next(r for r in self.registrations if r.id == resource_id)


def run_program(stack: str, overrides: dict[str, Any] | None = None,
                remove: tuple[str, ...] = (), *, stack_file: str | None = None,
                stack_outputs: dict[str, dict[str, Any]] | None = None) -> Run:
    """Execute __main__.py under mocks with the stack's real config; collect everything it did.

    `stack_file` names the Pulumi.<stack_file>.yaml to read when the stack is named differently
    (e.g. a new stack that starts from dev's settings). `stack_outputs` answers stack references:
    fully qualified stack name -> that stack's outputs (e.g. another run's `outputs`).
    """
    pulumi_settings.ROOT.set(None)
    config = stack_config(stack_file or stack, overrides, remove)
    mocks = AwsMocks(stack, config.get("aws:region", ""), stack_outputs)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(config, [])

    error: BaseException | None = None

    def program() -> None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    try:
        pulumi.runtime.mocks.test(program)()
    except BaseException as exc:  # noqa: BLE001 - the run's failure is what some tests examine
        error = exc

    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()
    root = pulumi_settings.get_root_resource()
    if error is None and root is not None:
        for key, value in root.outputs.items():  # type: ignore[attr-defined]
            out = pulumi.Output.from_input(value)
            outputs[key] = _sync_await(out.future())
            if _sync_await(out.is_secret()):
                secret_outputs.add(key)
    # Later runs must not see this run's config.
    pulumi.runtime.set_all_config({}, [])
    states = {urn: dict(reg.state) for urn, reg in monitor.resources.items()}
    return Run(stack, monitor.registrations, outputs, secret_outputs, mocks.generated_secrets, states, error,
               mocks.invoked, mocks.region, monitor.stack_transforms)

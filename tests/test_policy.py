"""The policy pack (policy/) passes on what the program declares and catches what breaks each control.

The policies are imported from `policy/tca_policies.py`, never from `policy/__main__.py` (building a
PolicyPack starts a server and never returns). Each policy runs the way the engine calls it: resource
policies once per resource, stack policies once over all of them, with the stack's config file.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy import (
    Policy,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy import tca_policies as pack
from tests.conftest import PROD_CHANGED, shared_run, stack_file, stack_run
from tests.mocks import ROOT, Run
from tests.policy_resources import options, policy_resources, resource

BY_NAME = {p.name: p for p in pack.POLICIES}


def case_id(name: str) -> str:
    """The policy's name plus the Security Hub controls its description cites: `rds-multi-az_rds_5`."""
    controls = re.findall(r"\b([A-Z][A-Za-z0-9]*)\.(\d+)\b", BY_NAME[name].description)
    return "_".join([name, *(f"{service.lower()}_{number}" for service, number in controls)])


POLICY_IDS = [case_id(name) for name in pack.POLICY_NAMES]

# dev, prod, and prod with a custom domain (HTTPS listener, port 80 redirecting).
VARIANTS = {
    "dev": ("dev", {}),
    "prod": ("prod", {}),
    "prod-https": ("prod", PROD_CHANGED),
}


def variant_run(variant: str) -> Run:
    stack, overrides = VARIANTS[variant]
    return shared_run(stack, overrides) if overrides else stack_run(stack)


def _floats(value: Any) -> Any:
    """The engine hands policy config over as protobuf Struct values: every number is a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, dict)):
        return value
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    return float(value)


def stack_config(stack: str) -> dict[str, dict[str, Any]]:
    """Each policy's settings from policy/<stack>.json, as the engine passes them."""
    raw = json.loads((ROOT / "policy" / f"{stack}.json").read_text())
    return {name: _floats({k: v for k, v in value.items() if k != "enforcementLevel"})
            for name, value in raw.items() if isinstance(value, dict)}


def violations(policy: Policy, resources: list[PolicyResource],
               config: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """(resource name or URN, message) for every violation the policy reports."""
    found: list[tuple[str, str]] = []
    if isinstance(policy, ResourceValidationPolicy):
        for r in resources:
            def report(message: str, urn: str | None = None, name: str = r.name) -> None:
                found.append((name, message))
            policy.validate(ResourceValidationArgs(r.resource_type, r.props, r.urn, r.name, options(), None, config),
                            report)
    else:
        assert isinstance(policy, StackValidationPolicy), policy

        def report_stack(message: str, urn: str | None = None) -> None:
            found.append((urn or "", message))
        policy.validate(StackValidationArgs(resources, config), report_stack)
    return found


def violated(resources: list[PolicyResource], stack: str = "prod") -> set[str]:
    config = stack_config(stack)
    return {p.name for p in pack.POLICIES if violations(p, resources, config.get(p.name))}


_expanded: dict[str, list[PolicyResource]] = {}


def expanded(variant: str) -> list[PolicyResource]:
    if variant not in _expanded:
        _expanded[variant] = policy_resources(variant_run(variant))
    return _expanded[variant]


# -- (a) the program and awsx's children pass ------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", pack.POLICY_NAMES, ids=POLICY_IDS)
def test_policy_passes_on_the_programs_resources_and_awsx_children(variant: str, name: str):
    stack = VARIANTS[variant][0]
    assert violations(BY_NAME[name], expanded(variant), stack_config(stack).get(name)) == []


def test_the_expansion_shows_awsx_children_as_the_engine_registers_them(prod: Run):
    settings = stack_file("prod")
    azs, port = settings["tca:azCount"], settings["tca:appPort"]
    types = [r.resource_type for r in expanded("prod")]
    assert types.count("aws:ec2/subnet:Subnet") == 2 * azs
    # The service's and the seed's (awsx), and the database bootstrap's.
    assert types.count("aws:ecs/taskDefinition:TaskDefinition") == 3
    assert types.count("aws:ecs/service:Service") == 1
    assert types.count("aws:lb/loadBalancer:LoadBalancer") == 1
    assert types.count("aws:lb/listener:Listener") == (2 if settings["tca:domainName"] else 1)
    assert types.count("aws:ec2/natGateway:NatGateway") == (azs if settings["tca:natGateways"] == "OnePerAz" else 1)
    service = next(r for r in expanded("prod") if r.resource_type == "aws:ecs/service:Service")
    containers = json.loads(next(r for r in expanded("prod") if r.name == "tca-prod-svc"
                                 and r.resource_type == "aws:ecs/taskDefinition:TaskDefinition")
                            .props["containerDefinitions"])
    assert [c["name"] for c in containers] == ["app"]
    assert containers[0]["portMappings"] == [{"protocol": "tcp", "hostPort": port, "containerPort": port}]
    # On Fargate Spot the service names a capacity provider strategy instead of a launch type.
    assert service.props.get("launchType") == (None if settings["tca:fargateSpot"] else "FARGATE")
    assert service.props["networkConfiguration"]["assignPublicIp"] is False


def test_the_expansion_carries_what_the_merges_give_awsx(dev: Run, prod: Run):
    """Release safety, hardening and the idle timeout reach awsx's children as the engine would show them."""
    by_type = {variant: {r.resource_type: r for r in expanded(variant)} for variant in ("dev", "prod")}
    service = by_type["prod"]["aws:ecs/service:Service"].props
    assert service["deploymentController"] == {"type": "ECS"}
    # prod's policy config requires a canary (ecs-canary), so the committed prod file has one.
    assert service["deploymentConfiguration"]["strategy"] == "CANARY"
    assert service["alarms"] == {"enable": True, "rollback": True, "alarmNames": [
        "tca-prod-rollback-target-5xx", "tca-prod-rollback-response-time", "tca-prod-rollback-unhealthy-hosts"]}
    [balancer] = service["loadBalancers"]
    production_rule = next(r for r in expanded("prod") if r.name == "tca-prod-production")
    assert balancer["advancedConfiguration"]["productionListenerRule"] == production_rule.props["arn"]
    # Fargate Spot is a capacity provider strategy and no launch type; on-demand is awsx's launch type FARGATE.
    dev_settings = stack_file("dev")
    dev_service = by_type["dev"]["aws:ecs/service:Service"].props
    if dev_settings["tca:fargateSpot"]:
        assert "launchType" not in dev_service
        assert dev_service["capacityProviderStrategies"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    else:
        assert dev_service["launchType"] == "FARGATE"
    assert dev_service["deploymentConfiguration"]["strategy"] == dev_settings["tca:deploymentStrategy"]
    lb = by_type["prod"]["aws:lb/loadBalancer:LoadBalancer"].props
    # prod's policy config requires access logs (alb-access-logs).
    assert (lb["idleTimeout"], lb["accessLogs"]["enabled"]) == (50.0, True)
    [container] = json.loads(by_type["prod"]["aws:ecs/taskDefinition:TaskDefinition"].props["containerDefinitions"])
    assert (container["user"], container["readonlyRootFilesystem"], container["linuxParameters"]) == (
        "65534:65534", True, {"capabilities": {"drop": ["ALL"]}})
    # The Vpc's transform reaches its public subnets.
    assert {r.props["mapPublicIpOnLaunch"] for r in expanded("prod") if r.resource_type == "aws:ec2/subnet:Subnet"} \
        == {False}


def test_the_https_variant_has_an_https_listener_and_a_redirecting_http_one():
    listeners = {r.props["port"]: r.props for r in expanded("prod-https")
                 if r.resource_type == "aws:lb/listener:Listener"}
    assert listeners[443.0]["protocol"] == "HTTPS"
    assert listeners[443.0]["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert [a["type"] for a in listeners[80.0]["defaultActions"]] == ["redirect"]


def test_every_policy_is_mandatory():
    assert {p.enforcement_level for p in pack.POLICIES} == {pack.EnforcementLevel.MANDATORY}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_config_file_names_only_policies_and_settings_they_declare(stack: str):
    raw = json.loads((ROOT / "policy" / f"{stack}.json").read_text())
    assert raw["all"] == "mandatory"
    for name, settings in stack_config(stack).items():
        assert set(settings) <= set(pack.CONFIG_DEFAULTS[name]), name


# What each policy setting in policy/<stack>.json requires of that stack's Pulumi.<stack>.yaml: the config is
# a floor the stack file must stay above (an operator may keep more backups or logs, never fewer).
SATISFIED_BY: dict[tuple[str, str], Callable[[dict[str, Any], Any], bool]] = {
    ("rds-backups", "minRetentionDays"): lambda s, v: s["tca:dbBackupRetentionDays"] >= v,
    ("rds-deletion-protection", "required"): lambda s, v: s["tca:deletionProtection"] or not v,
    ("rds-multi-az", "required"): lambda s, v: s["tca:dbMultiAz"] or not v,
    ("rds-enhanced-monitoring", "required"): lambda s, v: s["tca:dbMonitoringIntervalSeconds"] > 0 or not v,
    ("rds-enhanced-monitoring", "maxIntervalSeconds"): lambda s, v: 0 < s["tca:dbMonitoringIntervalSeconds"] <= v,
    ("alb-deletion-protection", "required"): lambda s, v: s["tca:deletionProtection"] or not v,
    ("alb-access-logs", "required"): lambda s, v: s["tca:albAccessLogs"] or not v,
    ("alb-waf", "required"): lambda s, v: s["tca:waf"] or not v,
    ("ecs-canary", "required"): lambda s, v: s["tca:deploymentStrategy"] == "CANARY" or not v,
    ("log-group-retention", "minRetentionDays"): lambda s, v: s["tca:logRetentionDays"] >= v,
}


def _policy_settings(stack: str) -> dict[tuple[str, str], Any]:
    raw = json.loads((ROOT / "policy" / f"{stack}.json").read_text())
    return {(name, key): value for name, config in raw.items() if isinstance(config, dict)
            for key, value in config.items() if key != "enforcementLevel"}


def _settings_below_the_floor(stack: str, settings: dict[str, Any]) -> list[tuple[str, str]]:
    return [setting for setting, value in _policy_settings(stack).items() if not SATISFIED_BY[setting](settings, value)]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_stack_file_stays_within_its_policy_config(stack: str):
    """A deploy would fail on a mandatory policy, so CI fails first: every guardrail the config sets holds."""
    assert set(_policy_settings(stack)) <= set(SATISFIED_BY)
    assert _settings_below_the_floor(stack, stack_file(stack)) == []


def test_prods_policy_config_holds_the_prod_guardrails():
    """prod.json is where the guardrails live: protection, Multi-AZ, monitoring, WAF, logs, canary, backups."""
    required = {name for (name, key), value in _policy_settings("prod").items() if key == "required" and value}
    assert required == {"rds-deletion-protection", "rds-multi-az", "rds-enhanced-monitoring",
                        "alb-deletion-protection", "alb-access-logs", "alb-waf", "ecs-canary"}


@pytest.mark.parametrize("change", [{"tca:deletionProtection": False}, {"tca:dbMultiAz": False},
                                    {"tca:dbBackupRetentionDays": 1}, {"tca:logRetentionDays": 30},
                                    {"tca:dbMonitoringIntervalSeconds": 0}, {"tca:waf": False},
                                    {"tca:deploymentStrategy": "ROLLING"}, {"tca:albAccessLogs": False}])
def test_a_prod_file_weaker_than_its_guardrails_is_caught(change: dict[str, Any]):
    assert _settings_below_the_floor("prod", {**stack_file("prod"), **change}) != []


# -- (b) a compliant stack, and one break per policy ------------------------------------------------

KEY = "arn:aws:kms:ap-southeast-2:123456789012:key/1111"
LB_ARN = "arn:aws:elasticloadbalancing:ap-southeast-2:123456789012:loadbalancer/app/lb/1"
LISTENER_ARN = LB_ARN.replace("loadbalancer", "listener")
HTTP_ARN, HTTPS_ARN = f"{LISTENER_ARN}/80", f"{LISTENER_ARN}/443"
TG_ARN = "arn:aws:elasticloadbalancing:ap-southeast-2:123456789012:targetgroup/tg/1"
ALT_TG_ARN = "arn:aws:elasticloadbalancing:ap-southeast-2:123456789012:targetgroup/alt/2"
RULE_ARN = "arn:aws:elasticloadbalancing:ap-southeast-2:123456789012:listener-rule/app/lb/1/443/10"
CANARY_LOAD_BALANCER = {"containerName": "app", "containerPort": 3000.0, "targetGroupArn": TG_ARN,
                        "advancedConfiguration": {"alternateTargetGroupArn": ALT_TG_ARN,
                                                  "productionListenerRule": RULE_ARN,
                                                  "roleArn": "arn:aws:iam::123456789012:role/ecs-lb"}}
CONTAINER = {
    "name": "app", "image": "servian/techchallengeapp:0.11.0", "essential": True, "user": "65534:65534",
    "readonlyRootFilesystem": True, "privileged": False, "linuxParameters": {"capabilities": {"drop": ["ALL"]}},
    "environment": [{"name": "VTT_DBUSER", "value": "tcaadmin"}],
    "secrets": [{"name": "VTT_DBPASSWORD", "valueFrom": "arn:aws:secretsmanager:...:password::"}],
}
TLS_ONLY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}


def _rule(group: str, port: int, *, cidr: str | None = None, peer: str | None = None, kind: str = "Ingress",
          description: str = "a described path") -> tuple[str, dict[str, Any]]:
    props: dict[str, Any] = {"securityGroupId": group, "ipProtocol": "tcp", "fromPort": float(port),
                             "toPort": float(port), "description": description}
    if cidr:
        props["cidrIpv4"] = cidr
    if peer:
        props["referencedSecurityGroupId"] = peer
    return f"aws:vpc/securityGroup{kind}Rule:SecurityGroup{kind}Rule", props


def compliant_stack() -> dict[str, tuple[str, dict[str, Any]]]:
    """Logical name -> (type, props): a small stack that satisfies every policy under prod's config."""
    return {
        "vpc": ("aws:ec2/vpc:Vpc", {"id": "vpc-1", "cidrBlock": "10.0.0.0/16"}),
        "default-sg": ("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", {"vpcId": "vpc-1", "ingress": [],
                                                                            "egress": []}),
        "flow-log": ("aws:ec2/flowLog:FlowLog", {"vpcId": "vpc-1", "trafficType": "ALL"}),
        "private": ("aws:ec2/subnet:Subnet", {"id": "subnet-priv", "vpcId": "vpc-1", "mapPublicIpOnLaunch": False,
                                              "tags": {"SubnetType": "Private"}}),
        "public": ("aws:ec2/subnet:Subnet", {"id": "subnet-pub", "vpcId": "vpc-1", "mapPublicIpOnLaunch": False,
                                             "tags": {"SubnetType": "Public"}}),
        "igw": ("aws:ec2/internetGateway:InternetGateway", {"id": "igw-1", "vpcId": "vpc-1"}),
        "public-rt": ("aws:ec2/routeTable:RouteTable", {"id": "rtb-pub"}),
        "private-rt": ("aws:ec2/routeTable:RouteTable", {"id": "rtb-priv"}),
        "public-assoc": ("aws:ec2/routeTableAssociation:RouteTableAssociation",
                         {"subnetId": "subnet-pub", "routeTableId": "rtb-pub"}),
        "private-assoc": ("aws:ec2/routeTableAssociation:RouteTableAssociation",
                          {"subnetId": "subnet-priv", "routeTableId": "rtb-priv"}),
        "public-route": ("aws:ec2/route:Route", {"routeTableId": "rtb-pub", "gatewayId": "igw-1",
                                                 "destinationCidrBlock": "0.0.0.0/0"}),
        "private-route": ("aws:ec2/route:Route", {"routeTableId": "rtb-priv", "natGatewayId": "nat-1",
                                                  "destinationCidrBlock": "0.0.0.0/0"}),
        **{f"{role}-sg": ("aws:ec2/securityGroup:SecurityGroup", {"id": f"sg-{role}", "description": role})
           for role in ("lb", "svc", "proxy", "db")},
        "lb-in-80": _rule("sg-lb", 80, cidr="0.0.0.0/0"),
        "lb-in-443": _rule("sg-lb", 443, cidr="0.0.0.0/0"),
        "svc-in": _rule("sg-svc", 3000, peer="sg-lb"),
        "proxy-in": _rule("sg-proxy", 5432, peer="sg-svc"),
        "db-in": _rule("sg-db", 5432, peer="sg-proxy"),
        "svc-out": _rule("sg-svc", 443, cidr="0.0.0.0/0", kind="Egress"),
        "db": ("aws:rds/instance:Instance", {
            "storageEncrypted": True, "publiclyAccessible": False, "backupRetentionPeriod": 7.0,
            "deletionProtection": True, "skipFinalSnapshot": False, "multiAz": True,
            "iamDatabaseAuthenticationEnabled": True, "monitoringInterval": 60.0,
            "monitoringRoleArn": "arn:aws:iam::123456789012:role/monitoring",
            "dbSubnetGroupName": "db-subnets", "vpcSecurityGroupIds": ["sg-db"]}),
        "db-subnets": ("aws:rds/subnetGroup:SubnetGroup", {"name": "db-subnets", "subnetIds": ["subnet-priv"]}),
        "proxy": ("aws:rds/proxy:Proxy", {"vpcSecurityGroupIds": ["sg-proxy"], "vpcSubnetIds": ["subnet-priv"]}),
        "service": ("aws:ecs/service:Service", {
            "networkConfiguration": {"assignPublicIp": False, "securityGroups": ["sg-svc"],
                                     "subnets": ["subnet-priv"]},
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "alarms": {"enable": True, "rollback": True, "alarmNames": ["tca-prod-target-5xx"]},
            "deploymentController": {"type": "ECS"},
            "deploymentConfiguration": {"strategy": "CANARY", "bakeTimeInMinutes": "10", "canaryConfiguration": {
                "canaryPercent": 10.0, "canaryBakeTimeInMinutes": "5"}},
            "loadBalancers": [CANARY_LOAD_BALANCER]}),
        "rollback-alarm": ("aws:cloudwatch/metricAlarm:MetricAlarm", {"name": "tca-prod-target-5xx"}),
        "tg": ("aws:lb/targetGroup:TargetGroup", {"id": TG_ARN, "arn": TG_ARN, "targetType": "ip"}),
        "alt-tg": ("aws:lb/targetGroup:TargetGroup", {"id": ALT_TG_ARN, "arn": ALT_TG_ARN, "targetType": "ip"}),
        "task": ("aws:ecs/taskDefinition:TaskDefinition", {
            "containerDefinitions": json.dumps([CONTAINER]),
            "executionRoleArn": "arn:aws:iam::123456789012:role/exec"}),
        "exec-secret": ("aws:iam/rolePolicy:RolePolicy", {"policy": json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:secret"},
            {"Effect": "Deny", "Action": "*", "Resource": "arn:other"}]})}),
        "alb": ("aws:lb/loadBalancer:LoadBalancer", {
            "id": LB_ARN, "arn": LB_ARN, "loadBalancerType": "application", "securityGroups": ["sg-lb"],
            "dropInvalidHeaderFields": True, "idleTimeout": 55.0, "enableDeletionProtection": True,
            "accessLogs": {"enabled": True, "bucket": "alb-logs"}}),
        "waf": ("aws:wafv2/webAclAssociation:WebAclAssociation", {"resourceArn": LB_ARN, "webAclArn": "acl"}),
        "http": ("aws:lb/listener:Listener", {
            "id": HTTP_ARN, "arn": HTTP_ARN, "loadBalancerArn": LB_ARN, "port": 80.0, "protocol": "HTTP",
            "defaultActions": [{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443",
                                                                 "statusCode": "HTTP_301"}}]}),
        "https": ("aws:lb/listener:Listener", {
            "id": HTTPS_ARN, "arn": HTTPS_ARN, "loadBalancerArn": LB_ARN, "port": 443.0, "protocol": "HTTPS",
            "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "defaultActions": [{"type": "fixed-response", "fixedResponse": {"statusCode": "503"}}]}),
        "block-debug": ("aws:lb/listenerRule:ListenerRule", {
            "listenerArn": HTTPS_ARN, "priority": 1.0,
            "conditions": [{"pathPattern": {"values": ["/debug", "/debug/*"]}}],
            "actions": [{"type": "fixed-response", "fixedResponse": {"statusCode": "404"}}]}),
        "production": ("aws:lb/listenerRule:ListenerRule", {
            "id": RULE_ARN, "arn": RULE_ARN,
            "listenerArn": HTTPS_ARN, "priority": 10.0, "conditions": [{"pathPattern": {"values": ["/*"]}}],
            "actions": [{"type": "forward", "forward": {"targetGroups": [{"arn": TG_ARN, "weight": 100.0},
                                                                         {"arn": ALT_TG_ARN, "weight": 0.0}]}}]}),
        "logs": ("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 365.0, "kmsKeyId": KEY}),
        "topic": ("aws:sns/topic:Topic", {"kmsMasterKeyId": KEY}),
        "secret": ("aws:secretsmanager/secret:Secret", {"kmsKeyId": KEY}),
        "key": ("aws:kms/key:Key", {"enableKeyRotation": True, "arn": KEY}),
        "bucket": ("aws:s3/bucketV2:BucketV2", {"id": "alb-logs", "bucket": "alb-logs"}),
        "bucket-pab": ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", {
            "bucket": "alb-logs", "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
            "restrictPublicBuckets": True}),
        "bucket-policy": ("aws:s3/bucketPolicy:BucketPolicy", {"bucket": "alb-logs", "policy": json.dumps(TLS_ONLY)}),
    }


def build(stack: dict[str, tuple[str, dict[str, Any]]]) -> list[PolicyResource]:
    return [resource(type_, name, props) for name, (type_, props) in stack.items()]


def _container(**changes: Any) -> Callable[[dict], None]:
    def change(stack: dict) -> None:
        stack["task"][1]["containerDefinitions"] = json.dumps([{**CONTAINER, **changes}])
    return change


def _set(name: str, **changes: Any) -> Callable[[dict], None]:
    return lambda stack: stack[name][1].update(changes)


def _drop(name: str, key: str) -> Callable[[dict], None]:
    return lambda stack: stack[name][1].pop(key)


# One break per policy: the smallest change to the compliant stack that violates that control alone.
BREAKS: dict[str, Callable[[dict], None]] = {
    "rds-storage-encrypted": _set("db", storageEncrypted=False),
    "rds-not-public": _set("db", publiclyAccessible=True),
    "rds-backups": _set("db", backupRetentionPeriod=3.0),
    "rds-deletion-protection": _set("db", deletionProtection=False),
    "rds-multi-az": _set("db", multiAz=False),
    "rds-iam-auth": _set("db", iamDatabaseAuthenticationEnabled=False),
    "rds-enhanced-monitoring": _set("db", monitoringInterval=0.0),
    "rds-private-subnets": _set("db-subnets", subnetIds=["subnet-priv", "subnet-pub"]),
    "sg-no-public-ingress": _set("lb-in-443", fromPort=22.0, toPort=22.0),
    "db-ingress-only-from-app": _set("db-in", referencedSecurityGroupId="sg-lb"),
    "sg-rule-description": _set("db-in", description=""),
    "default-sg-no-rules": _set("default-sg", egress=[{"protocol": "-1", "fromPort": 0.0, "toPort": 0.0,
                                                       "cidrBlocks": ["0.0.0.0/0"]}]),
    "vpc-flow-logs": _set("flow-log", trafficType="REJECT"),
    "subnet-no-auto-public-ip": _set("public", mapPublicIpOnLaunch=True),
    "ecs-no-public-ip": lambda s: s["service"][1]["networkConfiguration"].update(assignPublicIp=True),
    "ecs-circuit-breaker-rollback": _set("service", deploymentCircuitBreaker={"enable": True, "rollback": False}),
    "ecs-deployment-alarms-rollback": _set("service", alarms={"enable": True, "rollback": False,
                                                              "alarmNames": ["tca-prod-target-5xx"]}),
    "ecs-deployment-alarms-defined": lambda s: s["rollback-alarm"][1].update(name="tca-prod-something-else"),
    "ecs-canary": lambda s: s["production"][1]["actions"][0]["forward"].update(
        targetGroups=[{"arn": TG_ARN, "weight": 100.0}]),
    "ecs-container-not-privileged": _container(privileged=True),
    "ecs-container-readonly-root": _container(readonlyRootFilesystem=False),
    "ecs-container-non-root-user": _container(user="0:0"),
    "ecs-container-drop-all-capabilities": _container(linuxParameters={"capabilities": {"drop": ["NET_RAW"]}}),
    "ecs-container-no-secret-env": _container(environment=[{"name": "VTT_DBPASSWORD", "value": "hunter2"}]),
    "ecs-task-no-role": _set("task", taskRoleArn="arn:aws:iam::123456789012:role/task"),
    "iam-no-wildcard-actions": _set("exec-secret", policy=json.dumps({"Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "s3:*"], "Resource": "*"}]})),
    "alb-drop-invalid-headers": _set("alb", dropInvalidHeaderFields=False),
    "alb-idle-timeout": _drop("alb", "idleTimeout"),
    "alb-access-logs": _set("alb", accessLogs={"enabled": False, "bucket": "alb-logs"}),
    "alb-deletion-protection": _set("alb", enableDeletionProtection=False),
    "alb-waf": _set("waf", resourceArn=LB_ARN.replace("/lb/1", "/other/2")),
    "listener-tls-policy": _set("https", sslPolicy="ELBSecurityPolicy-2016-08"),
    "http-redirects-to-https": _set("http", defaultActions=[{"type": "redirect", "redirect": {"protocol": "HTTP",
                                                                                             "port": "8080"}}]),
    "alb-debug-blocked": _set("block-debug", priority=20.0),
    "log-group-retention": _drop("logs", "retentionInDays"),
    "log-group-kms": _drop("logs", "kmsKeyId"),
    "sns-topic-encrypted": _set("topic", kmsMasterKeyId="alias/aws/sns"),
    "secret-cmk": _drop("secret", "kmsKeyId"),
    "kms-key-rotation": _set("key", enableKeyRotation=False),
    "s3-public-access-block": _set("bucket-pab", restrictPublicBuckets=False),
    "s3-tls-only": _set("bucket-policy", policy=json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*",
                                                                          "Action": "s3:GetObject"}]})),
}


def broken(change: Callable[[dict], None]) -> list[PolicyResource]:
    stack = copy.deepcopy(compliant_stack())
    change(stack)
    return build(stack)


def _with_admin_group(tags: dict[str, str]) -> Callable[[dict], None]:
    def change(stack: dict) -> None:
        stack["admin-sg"] = ("aws:ec2/securityGroup:SecurityGroup", {"id": "sg-admin", "description": "admin",
                                                                     "tags": tags})
        stack["db-in-admin"] = _rule("sg-db", 5432, peer="sg-admin")
    return change


def test_the_database_group_admits_the_database_admin_tasks_group_known_by_its_tag():
    assert violated(broken(_with_admin_group({"PathHop": "admin"}))) == set()


def test_the_database_group_admits_no_other_group_the_policy_cannot_place():
    assert violated(broken(_with_admin_group({"PathHop": "svc-extra"}))) == {"db-ingress-only-from-app"}


def test_the_compliant_stack_passes_every_policy_with_prods_config():
    assert violated(build(compliant_stack())) == set()


def test_every_policy_has_a_break():
    assert set(BREAKS) == set(pack.POLICY_NAMES)


@pytest.mark.parametrize("name", list(BREAKS), ids=[case_id(name) for name in BREAKS])
def test_policy_reports_the_resource_that_breaks_it(name: str):
    assert violated(broken(BREAKS[name])) == {name}


# Further breaks of the network and listener controls, each caught by exactly one policy.
@pytest.mark.parametrize(("name", "change"), [
    ("sg-no-public-ingress", _set("svc-in", cidrIpv4="0.0.0.0/0", referencedSecurityGroupId=None)),
    ("sg-no-public-ingress", lambda s: s["lb-in-80"][1].update(cidrIpv4=None, cidrIpv6="::/0", ipProtocol="-1")),
    ("sg-no-public-ingress", _set("svc-sg", ingress=[{"protocol": "tcp", "fromPort": 3000.0, "toPort": 3000.0,
                                                      "ipv6CidrBlocks": ["::/0"], "description": "open"}])),
    ("db-ingress-only-from-app", _set("db-in", cidrIpv4="10.0.0.0/16", referencedSecurityGroupId=None)),
    ("db-ingress-only-from-app", _set("db-sg", ingress=[{"protocol": "tcp", "fromPort": 5432.0, "toPort": 5432.0,
                                                         "securityGroups": ["sg-lb"], "description": "lb"}])),
    ("alb-debug-blocked", lambda s: s.pop("block-debug")),
    ("alb-debug-blocked", _set("block-debug", conditions=[{"pathPattern": {"values": ["/debug"]}}])),
    ("rds-private-subnets", _drop("db", "dbSubnetGroupName")),
    ("rds-private-subnets", lambda s: s["private-route"][1].update(gatewayId="igw-1", natGatewayId=None)),
    ("ecs-canary", _set("service", deploymentConfiguration={"strategy": "ROLLING"})),
    ("ecs-canary", _set("service", deploymentController={"type": "CODE_DEPLOY"})),
    ("ecs-canary", lambda s: s["service"][1]["deploymentConfiguration"].pop("canaryConfiguration")),
    ("ecs-canary", _set("service", loadBalancers=[])),
    ("ecs-canary", _set("service", loadBalancers=[{k: v for k, v in CANARY_LOAD_BALANCER.items()
                                                   if k != "advancedConfiguration"}])),
    ("ecs-canary", lambda s: s.pop("alt-tg")),
    ("ecs-canary", lambda s: s["service"][1]["loadBalancers"][0]["advancedConfiguration"].update(
        productionListenerRule=HTTPS_ARN)),
    ("ecs-canary", lambda s: s["service"][1]["loadBalancers"][0]["advancedConfiguration"].update(
        alternateTargetGroupArn=TG_ARN)),
    ("ecs-canary", lambda s: s["service"][1]["loadBalancers"][0]["advancedConfiguration"].pop("roleArn")),
    ("ecs-deployment-alarms-defined", lambda s: s.pop("rollback-alarm")),
    ("rds-enhanced-monitoring", _set("db", monitoringInterval=61.0)),
    ("ecs-container-non-root-user", _container(user="root")),
    ("ecs-container-non-root-user", lambda s: s["task"][1].update(
        containerDefinitions=json.dumps([{k: v for k, v in CONTAINER.items() if k != "user"}]))),
])
def test_variant_breaks_are_reported_by_that_policy_alone(name: str, change: Callable[[dict], None]):
    assert violated(broken(change)) == {name}


def _without(name: str, *path: str) -> Callable[[dict], None]:
    """Remove one (possibly nested) property, as a program that never sets it would."""
    def change(stack: dict) -> None:
        target = stack[name][1]
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


def _container_without(key: str) -> Callable[[dict], None]:
    return lambda stack: stack["task"][1].update(
        containerDefinitions=json.dumps([{k: v for k, v in CONTAINER.items() if k != key}]))


# Every control that needs a setting on: left out, the setting takes its AWS or provider default, which is the
# insecure one (pulumi-aws: storageEncrypted "The default is `false` if not specified", deletionProtection "The
# default is `false`", backupRetentionPeriod "Default is `0`", enableKeyRotation "Defaults to `false`",
# dropInvalidHeaderFields "The default is false", enableDeletionProtection "Defaults to `false`", accessLogs.enabled
# "Defaults to `false`, even when `bucket` is specified", each BucketPublicAccessBlock flag "Defaults to `false`",
# Listener sslPolicy "Default is `ELBSecurityPolicy-2016-08`" (TLS 1.0), idleTimeout "Default: 60"; multiAz, IAM
# auth, the circuit breaker, deployment alarms, a read-only root and dropped capabilities are off unless asked for).
ABSENT_SETTINGS: list[tuple[str, Callable[[dict], None]]] = [
    ("rds-storage-encrypted", _without("db", "storageEncrypted")),
    ("rds-deletion-protection", _without("db", "deletionProtection")),
    ("rds-multi-az", _without("db", "multiAz")),
    ("rds-iam-auth", _without("db", "iamDatabaseAuthenticationEnabled")),
    ("rds-backups", _without("db", "backupRetentionPeriod")),
    ("rds-enhanced-monitoring", _without("db", "monitoringInterval")),
    ("rds-enhanced-monitoring", _without("db", "monitoringRoleArn")),
    ("ecs-circuit-breaker-rollback", _without("service", "deploymentCircuitBreaker")),
    ("ecs-circuit-breaker-rollback", _without("service", "deploymentCircuitBreaker", "enable")),
    ("ecs-circuit-breaker-rollback", _without("service", "deploymentCircuitBreaker", "rollback")),
    ("ecs-deployment-alarms-rollback", _without("service", "alarms")),
    ("ecs-deployment-alarms-rollback", _without("service", "alarms", "enable")),
    ("ecs-deployment-alarms-rollback", _without("service", "alarms", "rollback")),
    ("ecs-deployment-alarms-rollback", _without("service", "alarms", "alarmNames")),
    ("ecs-container-readonly-root", _container_without("readonlyRootFilesystem")),
    ("ecs-container-drop-all-capabilities", _container_without("linuxParameters")),
    ("ecs-container-non-root-user", _container_without("user")),
    ("alb-drop-invalid-headers", _without("alb", "dropInvalidHeaderFields")),
    ("alb-deletion-protection", _without("alb", "enableDeletionProtection")),
    ("alb-access-logs", _without("alb", "accessLogs")),
    ("alb-access-logs", _without("alb", "accessLogs", "enabled")),
    ("alb-idle-timeout", _without("alb", "idleTimeout")),
    ("listener-tls-policy", _without("https", "sslPolicy")),
    ("kms-key-rotation", _without("key", "enableKeyRotation")),
    ("sns-topic-encrypted", _without("topic", "kmsMasterKeyId")),
    ("secret-cmk", _without("secret", "kmsKeyId")),
    ("log-group-kms", _without("logs", "kmsKeyId")),
    ("log-group-retention", _without("logs", "retentionInDays")),
    *[("s3-public-access-block", _without("bucket-pab", flag))
      for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")],
]


@pytest.mark.parametrize(("name", "change"), ABSENT_SETTINGS,
                         ids=[f"{case_id(name)}-{i}" for i, (name, _) in enumerate(ABSENT_SETTINGS)])
def test_a_required_setting_left_out_is_reported_since_its_default_is_the_insecure_one(
        name: str, change: Callable[[dict], None]):
    assert violated(broken(change)) == {name}


# The converse: where the default is the secure value, leaving the setting out passes (pulumi-aws:
# publiclyAccessible "Default is `false`", skipFinalSnapshot "Default is `false`", mapPublicIpOnLaunch "Default is
# `false`", assignPublicIp "Default `false`"; ECS runs a container privileged only when asked).
@pytest.mark.parametrize("change", [
    _without("db", "publiclyAccessible"),
    _without("db", "skipFinalSnapshot"),
    _without("public", "mapPublicIpOnLaunch"),
    _without("service", "networkConfiguration", "assignPublicIp"),
    _container_without("privileged"),
], ids=["publiclyAccessible_rds_2", "skipFinalSnapshot_rds_8", "mapPublicIpOnLaunch_ec2_15", "assignPublicIp_ecs_2",
        "privileged_ecs_4"])
def test_a_setting_whose_default_is_secure_may_be_left_out(change: Callable[[dict], None]):
    assert violated(broken(change)) == set()


def _lb_rule(name: str, **changes: Any) -> Callable[[dict], None]:
    return lambda stack: stack[name][1].update(changes)


# Ingress from anywhere to the load balancer: only TCP 80 and 443, each alone. A range opens every port in it, and
# protocol -1/"all" opens every protocol and port whatever the range says (pulumi-aws: "if `ip_protocol` is set to
# `-1`, it translates to all protocols, all port ranges").
PUBLIC_LB_BREAKS: dict[str, Callable[[dict], None]] = {
    "80-65535 over IPv4": _lb_rule("lb-in-80", toPort=65535.0),
    "0-443 over IPv4": _lb_rule("lb-in-443", fromPort=0.0),
    "443-444 over IPv6": _lb_rule("lb-in-443", cidrIpv4=None, cidrIpv6="::/0", toPort=444.0),
    "all protocols on 80 over IPv4": _lb_rule("lb-in-80", ipProtocol="-1"),
    "udp 443 over IPv4": _lb_rule("lb-in-443", ipProtocol="udp"),
    "IPv6 anywhere written ::0/0": _lb_rule("lb-in-80", cidrIpv4=None, cidrIpv6="::0/0", toPort=8080.0),
    "inline 80-8080 over IPv6": _set("lb-sg", ingress=[{"protocol": "tcp", "fromPort": 80.0, "toPort": 8080.0,
                                                         "ipv6CidrBlocks": ["::/0"], "description": "web"}]),
    "legacy rule, all protocols": lambda s: s.update({"lb-legacy": ("aws:ec2/securityGroupRule:SecurityGroupRule", {
        "type": "ingress", "securityGroupId": "sg-lb", "protocol": "all", "fromPort": 443.0, "toPort": 443.0,
        "cidrBlocks": ["0.0.0.0/0"], "description": "web"})}),
}


@pytest.mark.parametrize("change", PUBLIC_LB_BREAKS.values(), ids=PUBLIC_LB_BREAKS.keys())
def test_public_ingress_to_the_load_balancer_beyond_tcp_80_and_443_is_reported_ec2_18(
        change: Callable[[dict], None]):
    """EC2.18 (authorized ports only: 80 and 443 here), and EC2.19 for the other ports it opens."""
    assert violated(broken(change)) == {"sg-no-public-ingress"}


def test_a_public_port_range_is_reported_with_the_whole_range():
    found = violations(BY_NAME["sg-no-public-ingress"], broken(PUBLIC_LB_BREAKS["80-65535 over IPv4"]))
    assert found == [(f"urn:pulumi:test::tca::{_rule('sg-lb', 80)[0]}::lb-in-80",
                      "ingress from anywhere is allowed only to the load balancer on 80/443: "
                      "lb-in-80 ('tcp' 80.0-65535.0 from ['0.0.0.0/0'])")]


def test_tcp_80_and_443_alone_from_anywhere_on_both_address_families_pass():
    stack = copy.deepcopy(compliant_stack())
    stack["lb-in-80-v6"] = _rule("sg-lb", 80, cidr=None)
    stack["lb-in-80-v6"][1].update(cidrIpv6="::/0")
    stack["lb-in-443-v6"] = _rule("sg-lb", 443)
    stack["lb-in-443-v6"][1].update(cidrIpv6="::/0", ipProtocol="6")
    assert violated(build(stack)) == set()


def test_an_environment_variable_naming_a_secret_by_arn_is_not_a_credential():
    env = [{"name": "DB_SECRET_ARN", "value": "arn:aws:secretsmanager:..."}, {"name": "TOKEN_NAME", "value": "x"}]
    assert violated(broken(_container(environment=env))) == set()


def test_dev_config_accepts_a_single_az_unprotected_rolling_stack_without_waf_or_access_logs():
    stack = copy.deepcopy(compliant_stack())
    stack["db"][1].update(multiAz=False, deletionProtection=False, skipFinalSnapshot=True, monitoringInterval=0.0,
                          backupRetentionPeriod=1.0)
    stack["alb"][1].update(enableDeletionProtection=False, accessLogs={"enabled": False})
    stack["logs"][1].update(retentionInDays=7.0)
    stack["service"][1].update(deploymentConfiguration={"strategy": "ROLLING"},
                               loadBalancers=[{"containerName": "app", "containerPort": 3000.0,
                                               "targetGroupArn": TG_ARN}])
    stack.pop("waf")
    assert violated(build(stack), "dev") == set()
    assert violated(build(stack), "prod") == {"rds-multi-az", "rds-deletion-protection", "rds-enhanced-monitoring",
                                              "rds-backups", "alb-deletion-protection", "alb-access-logs", "alb-waf",
                                              "ecs-canary", "log-group-retention"}


def test_violation_message_names_the_offending_value():
    found = violations(BY_NAME["listener-tls-policy"], broken(BREAKS["listener-tls-policy"]))
    assert found == [("https", "an HTTPS listener needs a TLS 1.2+ security policy "
                               "(sslPolicy is 'ELBSecurityPolicy-2016-08')")]


def test_links_made_only_by_property_dependencies_are_followed_during_preview():
    """In a first preview IDs are unknown; the engine still says which resource a property depends on."""
    stack = compliant_stack()
    resources = {name: resource(type_, name, props) for name, (type_, props) in stack.items()}
    waf = resources["waf"]
    resources["waf"] = resource(waf.resource_type, "waf", {"resourceArn": UNKNOWN_STRING_VALUE},
                                property_dependencies={"resourceArn": [resources["alb"]]})
    resources["alb"] = resource("aws:lb/loadBalancer:LoadBalancer", "alb", {
        **stack["alb"][1], "id": UNKNOWN_STRING_VALUE, "arn": UNKNOWN_STRING_VALUE})
    assert violations(BY_NAME["alb-waf"], list(resources.values()), {"required": True}) == []
    resources["waf"].property_dependencies["resourceArn"] = [resources["topic"]]
    assert [m for _, m in violations(BY_NAME["alb-waf"], list(resources.values()), {"required": True})] == [
        "load balancer alb has no WAF web ACL association"]


def test_canary_links_made_only_by_property_dependencies_are_followed_during_preview():
    """First preview: the alternate group's and the rule's ARNs are unknown; loadBalancers depends on them."""
    stack = compliant_stack()
    resources = {name: resource(type_, name, props) for name, (type_, props) in stack.items()}
    unknown = {**CANARY_LOAD_BALANCER, "advancedConfiguration": {
        "alternateTargetGroupArn": UNKNOWN_STRING_VALUE, "productionListenerRule": UNKNOWN_STRING_VALUE,
        "roleArn": UNKNOWN_STRING_VALUE}}

    def service(*deps: str) -> PolicyResource:
        return resource("aws:ecs/service:Service", "service", {**stack["service"][1], "loadBalancers": [unknown]},
                        property_dependencies={"loadBalancers": [resources[d] for d in deps]})

    canary = BY_NAME["ecs-canary"]
    others = [r for name, r in resources.items() if name != "service"]
    assert violations(canary, [*others, service("tg", "alt-tg", "production")], {"required": True}) == []
    assert [m for _, m in violations(canary, [*others, service("tg", "alt-tg")], {"required": True})] == [
        "service service: the production listener rule <unknown> is not a listener rule of this stack (an ALB "
        "canary needs a rule ARN, not a listener ARN)"]


# The program's own resources (prod, awsx children included), each broken where a merged control lives: the
# policy guarding it must notice, so none of them passes the program only because it sees nothing there.
Change = Callable[[dict[str, Any]], dict[str, Any]]


def _nested(*path: str | int, value: Any) -> Change:
    def change(props: dict[str, Any]) -> dict[str, Any]:
        target: Any = props
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return props
    return change


def _each_container(**changes: Any) -> Change:
    return lambda props: {**props, "containerDefinitions": json.dumps(
        [{**c, **changes} for c in json.loads(props["containerDefinitions"])])}


LOG_GROUP, LB, SERVICE = ("aws:cloudwatch/logGroup:LogGroup", "aws:lb/loadBalancer:LoadBalancer",
                          "aws:ecs/service:Service")
# (policy, resource type, logical name, change; None removes the resource)
PROGRAM_BREAKS: list[tuple[str, str, str, Change | None]] = [
    ("log-group-kms", LOG_GROUP, "tca-prod-pg-logs", lambda props: {**props, "kmsKeyId": None}),
    ("log-group-kms", LOG_GROUP, "aws-waf-logs-tca-prod", lambda props: {**props, "kmsKeyId": None}),
    ("log-group-retention", LOG_GROUP, "aws-waf-logs-tca-prod", _nested("retentionInDays", value=30.0)),
    ("alb-waf", "aws:wafv2/webAclAssociation:WebAclAssociation", "tca-prod-waf-alb", None),
    ("alb-access-logs", LB, "tca-prod", _nested("accessLogs", "enabled", value=False)),
    ("alb-idle-timeout", LB, "tca-prod", _nested("idleTimeout", value=60.0)),
    ("s3-tls-only", "aws:s3/bucketPolicy:BucketPolicy", "tca-prod-alb-logs", None),
    ("ecs-deployment-alarms-rollback", SERVICE, "tca-prod-svc", _nested("alarms", "rollback", value=False)),
    ("ecs-deployment-alarms-defined", "aws:cloudwatch/metricAlarm:MetricAlarm", "tca-prod-rollback-target-5xx",
     None),
    ("ecs-canary", "aws:lb/listenerRule:ListenerRule", "tca-prod-production", None),
    ("ecs-canary", "aws:lb/targetGroup:TargetGroup", "tca-prod-alt", None),
    ("ecs-canary", SERVICE, "tca-prod-svc", _nested("deploymentConfiguration", "strategy", value="ROLLING")),
    ("ecs-container-readonly-root", "aws:ecs/taskDefinition:TaskDefinition", "tca-prod-svc",
     _each_container(readonlyRootFilesystem=False)),
    ("ecs-container-non-root-user", "aws:ecs/taskDefinition:TaskDefinition", "tca-prod-svc",
     _each_container(user="0")),
    ("subnet-no-auto-public-ip", "aws:ec2/subnet:Subnet", "tca-prod-vpc-public-1",
     _nested("mapPublicIpOnLaunch", value=True)),
    ("rds-enhanced-monitoring", "aws:rds/instance:Instance", "tca-prod-pg", _nested("monitoringInterval", value=0.0)),
    ("rds-iam-auth", "aws:rds/instance:Instance", "tca-prod-pg",
     _nested("iamDatabaseAuthenticationEnabled", value=False)),
    ("default-sg-no-rules", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "tca-prod-default-sg", None),
    ("vpc-flow-logs", "aws:ec2/flowLog:FlowLog", "tca-prod-vpc-flow", None),
]


def _break_program(type_: str, name: str, change: Change | None) -> list[PolicyResource]:
    found: list[PolicyResource] = []
    targets = [r for r in expanded("prod") if (r.resource_type, r.name) == (type_, name)]
    assert len(targets) == 1, (type_, name)
    for r in expanded("prod"):
        if r is not targets[0]:
            found.append(r)
        elif change is not None:
            found.append(resource(type_, name, change(copy.deepcopy(dict(r.props))), r.urn))
    return found


@pytest.mark.parametrize(("policy", "type_", "name", "change"), PROGRAM_BREAKS,
                         ids=[f"{p}-{n}" for p, _, n, _ in PROGRAM_BREAKS])
def test_the_program_broken_where_a_merged_control_lives_is_reported(policy: str, type_: str, name: str,
                                                                     change: Change | None):
    assert violated(_break_program(type_, name, change), "prod") == {policy}


def test_a_dependency_on_the_awsx_component_satisfies_a_required_link_but_never_a_forbidden_one():
    """First preview: a value from an awsx component depends on the component, not on the child inside it."""
    stack = compliant_stack()
    vpc_component = resource("awsx:ec2:Vpc", "vpc", {})
    children = {name: resource(stack[name][0], name, stack[name][1], parent=vpc_component)
                for name in ("vpc", "private", "public")}
    unknown = {"vpcId": [vpc_component]}
    flow_log = resource("aws:ec2/flowLog:FlowLog", "flow-log", {"vpcId": UNKNOWN_STRING_VALUE, "trafficType": "ALL"},
                        property_dependencies=unknown)
    default_sg = resource("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "default-sg",
                          {"vpcId": UNKNOWN_STRING_VALUE}, property_dependencies=unknown)
    subnet_group = resource("aws:rds/subnetGroup:SubnetGroup", "db-subnets",
                            {"name": "db-subnets", "subnetIds": UNKNOWN_STRING_VALUE},
                            property_dependencies={"subnetIds": [vpc_component]})
    rest = [resource(t, n, p) for n, (t, p) in stack.items()
            if n not in {*children, "flow-log", "default-sg", "db-subnets"}]
    resources = [vpc_component, *children.values(), flow_log, default_sg, subnet_group, *rest]
    assert violated(resources) == set()


# -- (c) shapes the policies do not expect never crash them -----------------------------------------

def _garbage_variants(props: dict[str, Any]) -> list[Any]:
    """Missing properties, unknown values, strings where objects belong, objects where strings belong."""
    variants: list[Any] = [{}, None, "garbage", [1, "x"], {"unrelated": {"deep": [None]}}]
    for key in props:
        for value in ("garbage", None, True, ["garbage", None, {"x": 1}], {"x": [1]}, UNKNOWN_STRING_VALUE):
            variants.append({**props, key: value})
        for unknown in (UNKNOWN_STRING_VALUE, [UNKNOWN_STRING_VALUE], {"enabled": UNKNOWN_BOOLEAN_VALUE}):
            variants.append(unknown_checking_proxy({**props, key: unknown}))
    variants.append(unknown_checking_proxy({key: UNKNOWN_STRING_VALUE for key in props}))
    return variants


GARBAGE_TASK_DEFINITIONS = ["[", "{}", "null", "[1, \"x\", null]", json.dumps([{"environment": "x", "user": 0,
                                                                                 "linuxParameters": []}]),
                            json.dumps([{"linuxParameters": {"capabilities": "ALL"}, "environment": [None, 3]}])]


@pytest.mark.parametrize("name", pack.POLICY_NAMES, ids=POLICY_IDS)
def test_policy_survives_resources_of_unknown_shape(name: str):
    policy = BY_NAME[name]
    stack = compliant_stack()
    config = {"required": True, "minRetentionDays": "seven"}
    for logical, (type_, props) in stack.items():
        samples = _garbage_variants(props)
        if logical == "task":
            samples += [{"containerDefinitions": text} for text in GARBAGE_TASK_DEFINITIONS]
        # A resource policy sees one resource at a time; a stack policy sees the garbage among the rest.
        others = [] if isinstance(policy, ResourceValidationPolicy) else [
            resource(t, n, p) for n, (t, p) in stack.items() if n != logical]
        for sample in samples:
            violations(policy, [*others, resource(type_, logical, sample)], config)
    violations(policy, [resource("aws:unknown/thing:Thing", "x", {"anything": 1})], None)
    violations(policy, [], {"required": "yes"})


# -- through the analyzer the engine talks to ---------------------------------------------------------
# pulumi-policy's servicer is private API: these two tests drive it in-process (no server, no engine) so the
# pack's startup and the engine's data path (protobuf Struct props, numbers as floats, config from the JSON
# file) are exercised once. If a pulumi-policy upgrade renames it, adapt or drop them.

def _servicer(stack: str) -> Any:
    from pulumi.runtime import proto
    from pulumi_policy.policy import _PolicyAnalyzerServicer

    servicer = _PolicyAnalyzerServicer(pack.PACK_NAME, "1.0.0", pack.POLICIES, pack.EnforcementLevel.MANDATORY)
    request = proto.ConfigureAnalyzerRequest()
    for name, settings in json.loads((ROOT / "policy" / f"{stack}.json").read_text()).items():
        if name == "all":
            continue
        config = proto.PolicyConfig(enforcementLevel=proto.MANDATORY)
        config.properties.update({k: v for k, v in settings.items() if k != "enforcementLevel"})
        request.policyConfig[name].CopyFrom(config)
    servicer.Configure(request, None)
    return servicer


def _analyze(stack: str, type_: str, props: dict[str, Any]) -> list[tuple[str, str]]:
    from google.protobuf import struct_pb2
    from pulumi.runtime import proto

    properties = struct_pb2.Struct()
    properties.update(props)
    response = _servicer(stack).Analyze(proto.AnalyzeRequest(
        type=type_, properties=properties, urn=f"urn:pulumi:{stack}::tca::{type_}::r", name="r"), None)
    return [(d.policyName, d.enforcementLevel) for d in response.diagnostics]


def test_the_pack_describes_every_policy_as_mandatory_to_the_engine():
    from pulumi.runtime import proto

    info = _servicer("prod").GetAnalyzerInfo(None, None)
    assert [p.name for p in info.policies] == list(pack.POLICY_NAMES)
    assert {p.enforcementLevel for p in info.policies} == {proto.MANDATORY}


def test_the_engine_path_applies_each_stacks_config_file():
    from pulumi.runtime import proto

    db = dict(compliant_stack()["db"][1], multiAz=False)
    assert _analyze("prod", "aws:rds/instance:Instance", db) == [("rds-multi-az", proto.MANDATORY)]
    assert _analyze("dev", "aws:rds/instance:Instance", db) == []
    # A value the engine cannot know yet during preview is not judged.
    assert _analyze("prod", "aws:rds/instance:Instance", {**db, "multiAz": UNKNOWN_BOOLEAN_VALUE}) == []

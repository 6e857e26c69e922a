"""Network: the VPC layout and the one open path internet -> ALB -> tasks -> database."""

from __future__ import annotations

import itertools
import json
import re

import pulumi
import pytest

from infra.config import subnet_layout
from infra.network import SUBNET_TYPE, no_public_ip_on_launch
from tests.conftest import run_where, stack_file
from tests.helpers import EGRESS, INGRESS, SG, VPC, group_id, int_of
from tests.mocks import ACCOUNT


def test_vpc_spans_the_configured_zones_and_cidr(run, settings):
    vpc = run.one(VPC).inputs
    assert int_of(vpc["numberOfAvailabilityZones"]) == settings["tca:azCount"]
    assert vpc["cidrBlock"] == settings["tca:vpcCidr"]
    assert vpc["enableDnsHostnames"] is True and vpc["enableDnsSupport"] is True


def test_vpc_uses_the_configured_nat_strategy(run, settings):
    assert run.one(VPC).inputs["natGateways"] == {"strategy": settings["tca:natGateways"]}


def test_vpc_has_a_private_and_a_public_subnet_per_zone_from_the_validated_layout(run, settings):
    specs = {s["type"]: s["cidrBlocks"] for s in run.one(VPC).inputs["subnetSpecs"]}
    private, public = subnet_layout(settings["tca:vpcCidr"], settings["tca:azCount"])
    assert specs == {"Private": list(private), "Public": list(public)}
    assert run.one(VPC).inputs["subnetStrategy"] == "Auto"


def _rules(run):
    """Every security-group rule as (direction, group role, port, source or destination)."""
    roles = {g.id: g.name.split("-")[-2] for g in run.of_type(SG)}
    found = set()
    for kind, direction in ((INGRESS, "in"), (EGRESS, "out")):
        for rule in run.of_type(kind):
            i = rule.inputs
            assert i["ipProtocol"] == "tcp" and i["fromPort"] == i["toPort"], rule.name
            peer = roles.get(i.get("referencedSecurityGroupId")) or i.get("cidrIpv4")
            assert peer, f"{rule.name} names neither a group of ours nor a CIDR"
            found.add((direction, roles[i["securityGroupId"]], int_of(i["fromPort"]), peer))
    return found


# The database administration path (bootstrap task, rotation function): 5432 to the database, HTTPS out, nothing in.
ADMIN_PATH = {("out", "admin", 5432, "db"), ("in", "db", 5432, "admin"), ("out", "admin", 443, "0.0.0.0/0")}


def _expected_chain(port: int, proxy: bool) -> set:
    hops = [("lb", port), ("svc", 5432)] + ([("proxy", 5432)] if proxy else []) + [("db", 0)]
    rules = {("in", "lb", 80, "0.0.0.0/0"), ("in", "lb", 443, "0.0.0.0/0"), ("out", "svc", 443, "0.0.0.0/0"),
             *ADMIN_PATH}
    if proxy:
        rules.add(("out", "proxy", 443, "0.0.0.0/0"))
    for (src, hop_port), (dst, _) in itertools.pairwise(hops):
        rules |= {("out", src, hop_port, dst), ("in", dst, hop_port, src)}
    return rules


def test_security_groups_open_exactly_the_chain_and_nothing_else_ec2_18(run, settings):
    assert _rules(run) == _expected_chain(settings["tca:appPort"], settings["tca:dbProxy"])


def test_dev_chain_goes_straight_from_tasks_to_the_database():
    rules = _rules(run_where("dev", {"tca:dbProxy": False}))
    assert ("in", "db", 5432, "svc") in rules and not any("proxy" in r for r in rules)


def test_prod_chain_puts_the_proxy_between_tasks_and_database():
    rules = _rules(run_where("prod", {"tca:dbProxy": True}))
    assert {("out", "svc", 5432, "proxy"), ("in", "proxy", 5432, "svc"),
            ("out", "proxy", 5432, "db"), ("in", "db", 5432, "proxy")} <= rules
    assert ("in", "db", 5432, "svc") not in rules and ("out", "svc", 5432, "db") not in rules


def _proxy_outbound(run) -> set:
    return {(port, peer) for direction, role, port, peer in _rules(run) if (direction, role) == ("out", "proxy")}


def test_proxy_reaches_secrets_manager_over_https_for_its_credentials():
    """RDS Proxy fetches the secret from its own interfaces; with 5432 alone its target never comes up."""
    assert _proxy_outbound(run_where("prod", {"tca:dbProxy": True})) == {(443, "0.0.0.0/0"), (5432, "db")}


def test_a_stack_without_the_proxy_opens_nothing_for_it():
    assert _proxy_outbound(run_where("dev", {"tca:dbProxy": False})) == set()


def test_a_proxied_stack_opens_exactly_the_chain_through_the_proxy_and_its_https_path_ec2_18():
    settings = {**stack_file("prod"), "tca:dbProxy": True}
    assert _rules(run_where("prod", {"tca:dbProxy": True})) == _expected_chain(settings["tca:appPort"], True)


def test_database_group_admits_only_its_one_client_group_and_the_admin_tasks_on_5432_rds_2(run, settings):
    client = "proxy" if settings["tca:dbProxy"] else "svc"
    db_rules = [r.inputs for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == group_id(run, "db")]
    assert sorted((int_of(r["fromPort"]), r.get("referencedSecurityGroupId"), r.get("cidrIpv4")) for r in db_rules) \
        == sorted([(5432, group_id(run, client), None), (5432, group_id(run, "admin"), None)])


def test_admin_group_opens_exactly_5432_to_the_database_and_443_out_and_admits_nothing(run):
    assert {r for r in _rules(run) if r[1] == "admin" or r[3] == "admin"} == ADMIN_PATH


def test_admin_group_is_tagged_as_the_admin_hop_and_exported_for_the_layers_after_it(run):
    group = run.one(SG, "-admin-sg")
    assert group.inputs["tags"]["PathHop"] == "admin"
    from infra.refs import NetworkRefs
    assert NetworkRefs.EXPORTS["admin_security_group_id"] == "adminSecurityGroupId"
    assert "admin_security_group_id" not in NetworkRefs.OPTIONAL


def test_security_groups_have_no_inline_rules_that_would_fight_the_rule_resources(run):
    for group in run.of_type(SG):
        assert "ingress" not in group.inputs and "egress" not in group.inputs, group.name


def test_security_groups_live_in_the_vpc(run):
    vpc_id = run.one(VPC).outputs["vpcId"]
    assert {g.inputs["vpcId"] for g in run.of_type(SG)} == {vpc_id}


def test_app_port_change_moves_every_rule_with_it():
    from tests.conftest import shared_run
    rules = _rules(shared_run("dev", {"tca:appPort": 8080}))
    assert rules == _expected_chain(8080, stack_file("dev")["tca:dbProxy"])


# -- security hardening: flow logs, default group, public IPs, rule descriptions -------------------

FLOW_LOG = "aws:ec2/flowLog:FlowLog"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"


def test_vpc_flow_logs_capture_all_traffic_into_the_flow_log_group_ec2_6(run):
    flow = run.one(FLOW_LOG).inputs
    assert flow["vpcId"] == run.one(VPC).outputs["vpcId"]
    assert flow["trafficType"] == "ALL"
    assert flow["logDestinationType"] == "cloud-watch-logs"
    assert flow["logDestination"] == run.one(LOG_GROUP, "-vpc-flow").outputs["arn"]
    assert flow["iamRoleArn"] == run.one(ROLE, "-vpc-flow").outputs["arn"]


def test_flow_log_group_keeps_the_stack_retention_and_uses_the_stack_key(run, settings):
    group = run.one(LOG_GROUP, "-vpc-flow").inputs
    assert int_of(group["retentionInDays"]) == settings["tca:logRetentionDays"]
    assert group["kmsKeyId"] == run.one("aws:kms/key:Key").outputs["arn"]
    assert group.get("skipDestroy", False) is False


def test_flow_log_role_is_assumable_only_by_vpc_flow_logs_for_this_account(run):
    trust = json.loads(run.one(ROLE, "-vpc-flow").inputs["assumeRolePolicy"])
    assert trust["Statement"] == [{
        "Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                      "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{run.region}:{ACCOUNT}:vpc-flow-log/*"}},
    }]


def test_flow_log_role_can_write_only_to_its_own_group(run):
    policy = run.one(ROLE_POLICY, "-vpc-flow")
    group = run.one(LOG_GROUP, "-vpc-flow").outputs["arn"]
    assert policy.inputs["role"] == run.one(ROLE, "-vpc-flow").id
    assert json.loads(policy.inputs["policy"])["Statement"] == [
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
         "Resource": [group, f"{group}:*"]},
        {"Effect": "Allow", "Action": "logs:DescribeLogGroups",
         "Resource": f"arn:aws:logs:{run.region}:{ACCOUNT}:log-group:*"},
    ]


def test_flow_log_starts_after_its_role_can_write(run):
    assert run.one(ROLE_POLICY, "-vpc-flow").urn in run.one(FLOW_LOG).dependencies


def test_default_security_group_is_adopted_with_no_rules_at_all_ec2_2(run):
    default = run.one(DEFAULT_SG)
    assert default.inputs["vpcId"] == run.one(VPC).outputs["vpcId"]
    assert not default.inputs.get("ingress") and not default.inputs.get("egress")
    assert default.parent == run.one("tca:infra:Network").urn


def _subnet(props: dict) -> pulumi.ResourceTransformArgs:
    return pulumi.ResourceTransformArgs(custom=True, type_=SUBNET_TYPE, name="tca-dev-vpc-public-1",
                                        props=props, opts=pulumi.ResourceOptions(parent=None))


def test_public_subnets_stop_assigning_public_ips_on_launch_ec2_15():
    props = {"vpcId": "vpc-1", "cidrBlock": "10.0.128.0/18", "mapPublicIpOnLaunch": True,
             "tags": {"SubnetType": "Public"}}
    result = no_public_ip_on_launch(_subnet(props))
    assert result is not None
    assert result.props == {**props, "mapPublicIpOnLaunch": False}


@pytest.mark.parametrize("props", [{"cidrBlock": "10.0.0.0/17"}, {"cidrBlock": "10.0.0.0/17",
                                                                  "mapPublicIpOnLaunch": False}])
def test_private_subnets_are_left_as_awsx_made_them(props):
    assert no_public_ip_on_launch(_subnet(props)) is None


def test_the_public_ip_transform_touches_nothing_but_subnets():
    args = pulumi.ResourceTransformArgs(custom=True, type_="aws:ec2/natGateway:NatGateway", name="nat",
                                        props={"mapPublicIpOnLaunch": True}, opts=pulumi.ResourceOptions())
    assert no_public_ip_on_launch(args) is None


def test_vpc_carries_the_public_ip_transform_to_its_subnets_ec2_15(run):
    assert run.one(VPC).transforms == [no_public_ip_on_launch]


def _described_rules(run) -> dict[tuple, str]:
    roles = {g.id: g.name.split("-")[-2] for g in run.of_type(SG)}
    found = {}
    for kind, direction in ((INGRESS, "in"), (EGRESS, "out")):
        for rule in run.of_type(kind):
            i = rule.inputs
            peer = roles.get(i.get("referencedSecurityGroupId")) or i.get("cidrIpv4")
            found[(direction, roles[i["securityGroupId"]], int_of(i["fromPort"]), peer)] = i.get("description")
    return found


def test_every_security_group_rule_describes_the_path_it_opens(run, settings):
    port = settings["tca:appPort"]
    expected = {
        ("in", "lb", 80, "0.0.0.0/0"): "Internet to ALB (HTTP)",
        ("in", "lb", 443, "0.0.0.0/0"): "Internet to ALB (HTTPS)",
        ("out", "svc", 443, "0.0.0.0/0"): "App tasks to HTTPS endpoints (image registry, Secrets Manager, "
                                          "CloudWatch Logs)",
        ("out", "lb", port, "svc"): "ALB to app tasks",
        ("in", "svc", port, "lb"): "ALB to app tasks",
        ("out", "admin", 443, "0.0.0.0/0"): "Database admin tasks to HTTPS endpoints (Secrets Manager, ECR Public, "
                                            "CloudWatch Logs, RDS API)",
        ("out", "admin", 5432, "db"): "Database admin tasks to database",
        ("in", "db", 5432, "admin"): "Database admin tasks to database",
    }
    if settings["tca:dbProxy"]:
        expected |= {("out", "svc", 5432, "proxy"): "App tasks to RDS Proxy",
                     ("in", "proxy", 5432, "svc"): "App tasks to RDS Proxy",
                     ("out", "proxy", 5432, "db"): "RDS Proxy to database",
                     ("in", "db", 5432, "proxy"): "RDS Proxy to database",
                     ("out", "proxy", 443, "0.0.0.0/0"): "RDS Proxy to Secrets Manager (HTTPS)"}
    else:
        expected |= {("out", "svc", 5432, "db"): "App tasks to database",
                     ("in", "db", 5432, "svc"): "App tasks to database"}
    assert _described_rules(run) == expected


def test_rule_descriptions_use_only_characters_ec2_accepts(run):
    # EC2: up to 255 characters of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=;{}!$*
    for description in _described_rules(run).values():
        assert re.fullmatch(r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=;{}!$*]{1,255}", description), description

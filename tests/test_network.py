"""Network: the VPC layout and the one open path internet -> ALB -> tasks -> database."""

from __future__ import annotations

import itertools

from infra.config import subnet_layout
from tests.helpers import EGRESS, INGRESS, SG, VPC, group_id, int_of


def test_vpc_spans_the_configured_zones_and_cidr(run, settings):
    vpc = run.one(VPC).inputs
    assert int_of(vpc["numberOfAvailabilityZones"]) == settings["tca:azCount"]
    assert vpc["cidrBlock"] == settings["tca:vpcCidr"]
    assert vpc["enableDnsHostnames"] is True and vpc["enableDnsSupport"] is True


def test_vpc_uses_the_configured_nat_strategy(run, settings):
    assert run.one(VPC).inputs["natGateways"] == {"strategy": settings["tca:natGateways"]}


def test_prod_has_a_nat_gateway_per_zone_and_dev_shares_one(dev, prod):
    assert dev.one(VPC).inputs["natGateways"]["strategy"] == "Single"
    assert prod.one(VPC).inputs["natGateways"]["strategy"] == "OnePerAz"


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


def _expected_chain(port: int, proxy: bool) -> set:
    hops = [("lb", port), ("svc", 5432)] + ([("proxy", 5432)] if proxy else []) + [("db", 0)]
    rules = {("in", "lb", 80, "0.0.0.0/0"), ("in", "lb", 443, "0.0.0.0/0"), ("out", "svc", 443, "0.0.0.0/0")}
    for (src, hop_port), (dst, _) in itertools.pairwise(hops):
        rules |= {("out", src, hop_port, dst), ("in", dst, hop_port, src)}
    return rules


def test_security_groups_open_exactly_the_chain_and_nothing_else_ec2_18(run, settings):
    assert _rules(run) == _expected_chain(settings["tca:appPort"], settings["tca:dbProxy"])


def test_dev_chain_goes_straight_from_tasks_to_the_database(dev):
    rules = _rules(dev)
    assert ("in", "db", 5432, "svc") in rules and not any("proxy" in r for r in rules)


def test_prod_chain_puts_the_proxy_between_tasks_and_database(prod):
    rules = _rules(prod)
    assert {("out", "svc", 5432, "proxy"), ("in", "proxy", 5432, "svc"),
            ("out", "proxy", 5432, "db"), ("in", "db", 5432, "proxy")} <= rules
    assert ("in", "db", 5432, "svc") not in rules and ("out", "svc", 5432, "db") not in rules


def test_database_group_admits_only_its_one_client_group_on_5432_rds_2(run, settings):
    client = "proxy" if settings["tca:dbProxy"] else "svc"
    db_rules = [r.inputs for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == group_id(run, "db")]
    assert [(int_of(r["fromPort"]), r.get("referencedSecurityGroupId"), r.get("cidrIpv4")) for r in db_rules] \
        == [(5432, group_id(run, client), None)]


def test_security_groups_have_no_inline_rules_that_would_fight_the_rule_resources(run):
    for group in run.of_type(SG):
        assert "ingress" not in group.inputs and "egress" not in group.inputs, group.name


def test_security_groups_live_in_the_vpc(run):
    vpc_id = run.one(VPC).outputs["vpcId"]
    assert {g.inputs["vpcId"] for g in run.of_type(SG)} == {vpc_id}


def test_app_port_change_moves_every_rule_with_it():
    from tests.mocks import run_program
    run = run_program("dev", overrides={"tca:appPort": 8080})
    assert run.error is None
    rules = _rules(run)
    assert rules == _expected_chain(8080, False)

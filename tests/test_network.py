"""Network: the VPC layout and the one open path internet -> ALB -> tasks -> database."""

from __future__ import annotations

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
    roles = {group_id(run, role): role for role in ("lb", "svc", "db")}
    found = set()
    for kind, direction in ((INGRESS, "in"), (EGRESS, "out")):
        for rule in run.of_type(kind):
            i = rule.inputs
            assert i["ipProtocol"] == "tcp" and i["fromPort"] == i["toPort"], rule.name
            peer = roles.get(i.get("referencedSecurityGroupId")) or i.get("cidrIpv4")
            assert peer, f"{rule.name} names neither a group of ours nor a CIDR"
            found.add((direction, roles[i["securityGroupId"]], int_of(i["fromPort"]), peer))
    return found


def test_security_groups_open_exactly_the_chain_and_nothing_else_ec2_18(run, settings):
    port = settings["tca:appPort"]
    assert _rules(run) == {
        ("in", "lb", 80, "0.0.0.0/0"),
        ("in", "lb", 443, "0.0.0.0/0"),
        ("out", "lb", port, "svc"),
        ("in", "svc", port, "lb"),
        ("out", "svc", 5432, "db"),
        ("out", "svc", 443, "0.0.0.0/0"),
        ("in", "db", 5432, "svc"),
    }


def test_database_group_admits_only_the_service_group_on_5432_rds_2(run):
    db_rules = [r.inputs for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == group_id(run, "db")]
    assert [(int_of(r["fromPort"]), r.get("referencedSecurityGroupId"), r.get("cidrIpv4")) for r in db_rules] \
        == [(5432, group_id(run, "svc"), None)]


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
    assert ("in", "svc", 8080, "lb") in rules and ("out", "lb", 8080, "svc") in rules
    assert not any(port == 3000 for _, _, port, _ in rules)

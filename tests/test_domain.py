"""HTTPS on a custom domain, and plain HTTP without one."""

from __future__ import annotations

import pytest

from infra.config import ConfigError
from infra.service import TLS_POLICY
from tests.conftest import DOMAIN, PROD_CHANGED, run_where, shared_run
from tests.helpers import ALB
from tests.mocks import run_program

CERT = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
RECORD = "aws:route53/record:Record"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"


@pytest.fixture(scope="module")
def https():
    return shared_run("prod", PROD_CHANGED)  # with DOMAIN


def test_without_a_domain_there_is_no_certificate_and_only_http(run):
    run = run_where(run.stack, {"tca:domainName": "", "tca:hostedZoneId": ""})
    assert run.of_type(CERT) == [] and run.of_type(RECORD) == [] and run.of_type("tca:infra:Domain") == []
    assert run.one(ALB).inputs["listener"] == {"port": 80.0, "protocol": "HTTP"}
    assert "listeners" not in run.one(ALB).inputs
    assert run.outputs["url"] == "http://" + run.referenced(run.one(ALB).outputs["loadBalancer"])["dnsName"]


def test_certificate_is_for_the_domain_with_dns_validation(https):
    cert = https.one(CERT).inputs
    assert cert["domainName"] == "todo.example.com"
    assert cert["validationMethod"] == "DNS"


def test_validation_record_is_the_one_acm_asked_for_in_the_zone(https):
    option = https.one(CERT).outputs["domainValidationOptions"][0]
    record = https.one(RECORD, "-cert-validation").inputs
    assert record["zoneId"] == DOMAIN["tca:hostedZoneId"]
    assert (record["name"], record["type"], record["records"]) == (
        option["resourceRecordName"], option["resourceRecordType"], [option["resourceRecordValue"]])


def test_deploy_waits_for_the_certificate_to_validate(https):
    validation = https.one(VALIDATION).inputs
    assert validation["certificateArn"] == https.one(CERT).outputs["arn"]
    assert validation["validationRecordFqdns"] == [https.one(RECORD, "-cert-validation").outputs["fqdn"]]


def test_https_listener_uses_the_validated_certificate_and_a_tls13_policy(https):
    listeners = https.one(ALB).inputs["listeners"]
    assert "listener" not in https.one(ALB).inputs
    secure = listeners[1]
    assert (secure["port"], secure["protocol"]) == (443, "HTTPS")
    assert secure["certificateArn"] == https.one(VALIDATION).outputs["certificateArn"]
    assert secure["sslPolicy"] == TLS_POLICY and "TLS13" in TLS_POLICY
    assert "defaultActions" not in secure, "awsx then forwards it to the target group"


def test_https_listener_waits_for_acm_to_issue_the_certificate(https):
    """The listener's certificate comes from the CertificateValidation, so a first `up` never attaches a pending one.

    ELB refuses a certificate ACM has not issued; the mocks give the certificate and its validation the same ARN,
    so only the dependency tells which one the listener waits for.
    """
    listeners = https.one(ALB).property_dependencies["listeners"]
    assert https.one(VALIDATION).urn in listeners
    assert https.one(CERT).urn not in listeners, "the requested certificate is not yet issued"


def test_http_listener_redirects_permanently_to_https(https):
    plain = https.one(ALB).inputs["listeners"][0]
    assert (plain["port"], plain["protocol"]) == (80, "HTTP")
    assert plain["defaultActions"] == [{"type": "redirect", "redirect": {
        "protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}]


def test_debug_block_sits_on_the_forwarding_https_listener(https):
    listener = https.referenced(https.one(ALB).outputs["listeners"][1])
    assert https.one(LISTENER_RULE, "-block-debug").inputs["listenerArn"] == listener["arn"]


def test_domain_points_at_the_load_balancer(https):
    lb = https.referenced(https.one(ALB).outputs["loadBalancer"])
    alias = https.one(RECORD, "-alias").inputs
    assert (alias["zoneId"], alias["name"], alias["type"]) == (DOMAIN["tca:hostedZoneId"], "todo.example.com", "A")
    assert alias["aliases"] == [{"name": lb["dnsName"], "zoneId": lb["zoneId"], "evaluateTargetHealth": True}]


def test_url_becomes_https_on_the_domain(https):
    assert https.outputs["url"] == "https://todo.example.com"
    assert https.outputs["healthcheckUrl"] == "https://todo.example.com/healthcheck/"


def test_domain_children_belong_to_the_domain_component(https):
    parent = https.one("tca:infra:Domain").urn
    for r in https.of_type(CERT) + https.of_type(VALIDATION) + https.of_type(RECORD):
        assert r.parent == parent, r.name


@pytest.mark.parametrize("key", ["tca:domainName", "tca:hostedZoneId"])
def test_one_https_key_without_the_other_is_a_config_error(key):
    other = ({"tca:domainName", "tca:hostedZoneId"} - {key}).pop()
    run = run_program("dev", overrides={key: DOMAIN[key], other: ""})
    assert isinstance(run.error, ConfigError)
    assert f"{other} is not set" in str(run.error)
    assert run.registrations == []


@pytest.mark.parametrize("key,value", [("tca:domainName", "not a domain"), ("tca:hostedZoneId", "zone-1"),
                                       ("tca:alarmEmail", "ops-at-example.com")])
def test_malformed_domain_zone_or_email_is_refused(key, value):
    run = run_program("dev", overrides={**DOMAIN, key: value})
    assert isinstance(run.error, ConfigError) and f"{key} = {value!r}" in str(run.error)

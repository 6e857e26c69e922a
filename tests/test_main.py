"""The program as a whole: composition, outputs and where secrets may appear."""

from __future__ import annotations

import json
import re

from tests.conftest import PROD_CHANGED, run_where, shared_run
from tests.helpers import ALB, RDS, SECRET, is_secret, security_decisions
from tests.mocks import ROOT, Run

TOP_LEVEL = {"tca:infra:Keys", "tca:infra:Network", "tca:infra:Database", "tca:infra:Service",
             "tca:infra:Monitoring", "tca:infra:ReleaseCheck", "tca:infra:Images", "tca:infra:AlarmTopic",
             "tca:infra:Edge", "tca:infra:CredentialAlarms", "tca:infra:CredentialRotation",
             "tca:infra:ScheduledRedeploy"}
# Only where the app credential rotates by alternating users (no RDS Proxy).
ROTATING = {"tca:infra:CredentialRotation", "tca:infra:ScheduledRedeploy"}
COMPONENTS = TOP_LEVEL | {"tca:infra:Seed", "tca:infra:Domain", "tca:infra:Release", "tca:infra:DatabaseBootstrap"}
OUTPUTS = {"url", "healthcheckUrl", "clusterName", "serviceName", "logGroupName", "dbEndpoint", "dbSecretArn",
           "reseedCommand", "dashboardUrl", "alarmTopicArn", "dbCredentialRotation"}


def test_program_exports_exactly_the_documented_outputs(run):
    assert set(run.outputs) == OUTPUTS


def test_no_output_is_secret_or_carries_a_secret_value(run):
    assert run.secret_outputs == set()
    text = json.dumps(run.outputs)
    assert not any(s in text for s in run.generated_secrets)


def stack_generated_master() -> Run:
    """prod keeping the stack-generated master password (tca:dbManagedMasterPassword false)."""
    assert PROD_CHANGED["tca:dbManagedMasterPassword"] is False
    return shared_run("prod", PROD_CHANGED)


def test_no_output_carries_the_stack_generated_master_password():
    run = stack_generated_master()
    text = json.dumps(run.outputs)
    assert run.secret_outputs == set()
    assert run.generated_secrets and not any(s in text for s in run.generated_secrets)


def test_url_outputs_point_at_the_load_balancer(run):
    run = run_where(run.stack, {"tca:domainName": "", "tca:hostedZoneId": ""})
    lb = run.referenced(run.one(ALB).outputs["loadBalancer"])
    assert run.outputs["url"] == f"http://{lb['dnsName']}"
    assert run.outputs["healthcheckUrl"] == f"http://{lb['dnsName']}/healthcheck/"


def test_operational_outputs_name_the_real_resources(run):
    service = run.referenced(run.one("awsx:ecs:FargateService").outputs["service"])
    assert run.outputs["clusterName"] == run.one("aws:ecs/cluster:Cluster", "-cluster").outputs["name"]
    assert run.outputs["serviceName"] == service["name"]
    app_logs = run.one("aws:cloudwatch/logGroup:LogGroup", f"tca-{run.stack}-logs")
    assert run.outputs["logGroupName"] == app_logs.outputs["name"]
    assert run.outputs["dbEndpoint"] == run.one(RDS).outputs["endpoint"]
    assert run.outputs["dbSecretArn"] == run.one(SECRET, "-app-credentials").outputs["arn"]


def _occurrences(value, secret, wrapped=False):
    """Yield whether each occurrence of `secret` inside `value` sits inside a secret wrapper."""
    if is_secret(value):
        yield from _occurrences(value["value"], secret, True)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _occurrences(v, secret, wrapped)
    elif isinstance(value, list):
        for v in value:
            yield from _occurrences(v, secret, wrapped)
    elif isinstance(value, str) and secret in value:
        yield wrapped


def test_no_password_is_generated_by_the_program_when_rds_manages_the_master(run):
    run = run_where(run.stack, {"tca:dbManagedMasterPassword": True})
    assert run.generated_secrets == []
    assert run.of_type("random:index/randomPassword:RandomPassword") == []


def test_password_reaches_resources_only_as_a_pulumi_secret():
    run = stack_generated_master()
    (password,) = run.generated_secrets
    places = {r.name + ":" + r.type: list(_occurrences(r.inputs, password)) for r in run.registrations}
    places = {k: v for k, v in places.items() if v}
    assert set(places) == {f"tca-{run.stack}-pg:{RDS}",
                           f"tca-{run.stack}-credentials:aws:secretsmanager/secretVersion:SecretVersion"}
    assert all(all(v) for v in places.values()), places


def test_main_composes_the_components_and_the_service_owns_the_seed(run, settings):
    components = [r for r in run.registrations if r.type.startswith("tca:")]
    # A Domain component exists only with a custom domain.
    expected = COMPONENTS if settings["tca:domainName"] else COMPONENTS - {"tca:infra:Domain"}
    expected -= ROTATING if settings["tca:dbProxy"] else set()
    assert sorted(c.type for c in components) == sorted(expected)
    top = [c for c in components if c.type in TOP_LEVEL]
    assert all(c.parent.endswith("pulumi:pulumi:Stack::tca-" + run.stack) for c in top)
    assert run.one("tca:infra:Seed").parent == run.one("tca:infra:Service").urn
    assert run.one("tca:infra:Release").parent == run.one("tca:infra:Service").urn
    assert run.one("tca:infra:DatabaseBootstrap").parent == run.one("tca:infra:Database").urn


def test_every_resource_is_a_child_of_one_of_the_components(run):
    component_urns = {r.urn for r in run.registrations if r.type in COMPONENTS}
    orphans = [r.name for r in run.registrations if r.type not in COMPONENTS and r.parent not in component_urns]
    assert orphans == []


# Security Hub's spelling of the services whose controls the tests name (test_..._ecs_5 -> ECS.5).
_HUB_SERVICES = {"ecs": "ECS", "ec2": "EC2", "rds": "RDS", "iam": "IAM", "elb": "ELB", "kms": "KMS", "sns": "SNS",
                 "secretsmanager": "SecretsManager", "cloudwatch": "CloudWatch", "s3": "S3", "waf": "WAF"}


def test_every_control_a_test_checks_has_a_row_in_the_security_decisions_table():
    names = re.findall(r"def (test_\w+)", "".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py")))
    pattern = re.compile(rf"_({'|'.join(_HUB_SERVICES)})_(\d+)$")
    checked = {f"{_HUB_SERVICES[m[1]]}.{m[2]}" for m in map(pattern.search, names) if m}
    assert {"ECS.5", "EC2.2", "EC2.6", "EC2.15", "KMS.4", "SNS.1", "RDS.6", "RDS.10", "SecretsManager.1"} <= checked
    assert checked - set(security_decisions()) == set()

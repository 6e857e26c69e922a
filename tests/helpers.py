"""Small readers over recorded registrations."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from tests.mocks import Run

SECRET_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

ECS_SERVICE = "awsx:ecs:FargateService"
ALB = "awsx:lb:ApplicationLoadBalancer"
VPC = "awsx:ec2:Vpc"
RDS = "aws:rds/instance:Instance"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"


@functools.cache
def aws_service_model(service: str) -> Any:
    """botocore's model of an AWS API, loaded once per service (loading one takes a tenth of a second)."""
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_KEY) == SECRET_SIG


def plain(value: Any) -> Any:
    """The value with Pulumi's secret wrappers removed, at any depth."""
    if is_secret(value):
        return plain(value["value"])
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def container(run: Run) -> dict:
    return plain(run.one(ECS_SERVICE).inputs["taskDefinitionArgs"]["container"])


def environment(run: Run) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(run)["environment"]}


def group_id(run: Run, role: str) -> str:
    return run.one(SG, f"-{role}-sg").id


def int_of(value: Any) -> int:
    """Numbers cross the mock boundary as floats (3000.0); compare them as integers."""
    assert float(value).is_integer(), value
    return int(value)


def stubbed_client(service: str, region: str | None = None) -> Iterator[tuple[Any, Any]]:
    """A real botocore client whose calls are checked against the API model and answered by a Stubber.

    Use from a fixture (`yield from stubbed_client("ecs")`); every queued response must be consumed.
    `region` defaults to the dev stack file's aws:region.
    """
    import boto3
    from botocore.stub import Stubber

    from tests.mocks import stack_region

    client = boto3.client(service, region_name=region or stack_region("dev"),
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()
def security_decisions() -> dict[str, str]:
    """docs/security.md's "Security decisions" table: each row's text, keyed by Security Hub ID (or control name)."""
    from tests.mocks import ROOT

    text = (ROOT / "docs" / "security.md").read_text()
    section = text.split("\n## Security decisions\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 2 or set(cells[0]) <= {"-", " "} or cells[0] == "control":
            continue
        for key in [k.strip() for k in cells[1].split(",") if k.strip() not in ("", "—")] or [cells[0]]:
            rows[key] = line
    return rows

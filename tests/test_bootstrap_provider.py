"""The bootstrap provider against Secrets Manager and ECS as botocore's Stubber plays them: requests are validated
against the real API models, and each response is one AWS could send."""

from __future__ import annotations

import datetime
import json

import pytest
from botocore.stub import ANY

from infra import bootstrap_provider
from infra.bootstrap import APP_USER, APP_USER_CLONE
from infra.bootstrap_provider import BootstrapError, BootstrapProvider, ensure_app_credential, run_bootstrap_task
from infra.database import PASSWORD_EXCLUDE_CHARACTERS, PASSWORD_LENGTH
from infra.deploy_step import DeployStepProvider
from tests.helpers import stubbed_client

REGION = "us-west-2"
ACCOUNT = "123456789012"
APP_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:tca-dev-app-credentials-1a2b3c4-AbCdEf"
MASTER = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!db-0f1e2d3c-1111-4222-8333-444455556666-XyZ123"
HOST = f"tca-dev-pg-1a2b3c4d.c9akciq32.{REGION}.rds.amazonaws.com"
CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/tca-dev-dbadmin-1a2b3c4d"
TASK_DEF = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/tca-dev-db-bootstrap:2"
TASK = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/tca-dev-dbadmin-1a2b3c4d/0123456789abcdef0123456789abcdef"
PROPS = {
    "region": REGION, "profile": "",
    "cluster": CLUSTER, "task_definition": TASK_DEF,
    "subnets": ["subnet-0aaa1111bbbb2222c", "subnet-0ddd3333eeee4444f"], "security_groups": ["sg-0a1b2c3d4e5f60718"],
    "container_name": "psql", "log_group": "tca-dev-dbadmin-logs-1a2b3c4", "log_stream_prefix": "bootstrap",
    "host": HOST, "port": 5432.0, "dbname": "tca", "app_user": APP_USER, "app_users": [APP_USER, APP_USER_CLONE],
    "password_length": PASSWORD_LENGTH, "exclude_characters": PASSWORD_EXCLUDE_CHARACTERS,
    "db_resource_id": "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ", "app_secret_arn": APP_SECRET, "master_secret_arn": MASTER,
    "sql_hash": "0" * 64,
}
CONNECTION = {"engine": "postgres", "host": HOST, "port": 5432, "dbname": "tca", "masterarn": MASTER}
GENERATED = "Q7v!x9#Kp2-Lm4^Zr8~Tw6.Yb3:Nc5=D"
VERSION = "a1b2c3d4-5678-4abc-8def-0123456789ab"
# A rotated credential: the clone is current, with a password the rotation function chose.
ROTATED = {**CONNECTION, "username": APP_USER_CLONE, "password": "rotated-Password-1234567890abcdef"}


@pytest.fixture
def secrets():
    yield from stubbed_client("secretsmanager", REGION)


@pytest.fixture
def ecs():
    yield from stubbed_client("ecs", REGION)


def _describe(stub, stages: dict[str, list[str]]) -> None:
    stub.add_response("describe_secret", {"ARN": APP_SECRET, "Name": "tca-dev-app-credentials-1a2b3c4",
                                          "VersionIdsToStages": stages}, {"SecretId": APP_SECRET})


def _current(stub, value: dict) -> None:
    stub.add_response("get_secret_value", {"ARN": APP_SECRET, "Name": "tca-dev-app-credentials-1a2b3c4",
                                           "VersionId": VERSION, "SecretString": json.dumps(value),
                                           "VersionStages": ["AWSCURRENT"]},
                      {"SecretId": APP_SECRET, "VersionStage": "AWSCURRENT"})


def _expect_put(stub) -> dict:
    """Queue PutSecretValue; the returned dict receives the SecretString the provider sent."""
    sent: dict = {}

    class Captured:
        def __eq__(self, other):
            sent.update(json.loads(other))
            return True

        __hash__ = None  # type: ignore[assignment]

    stub.add_response("put_secret_value", {"ARN": APP_SECRET, "VersionId": VERSION, "VersionStages": ["AWSCURRENT"]},
                      {"SecretId": APP_SECRET, "ClientRequestToken": ANY, "SecretString": Captured(),
                       "VersionStages": ["AWSCURRENT"]})
    return sent


def test_a_secret_without_a_current_version_gets_a_generated_password_for_tca_app_and_the_instance(secrets):
    client, stub = secrets
    _describe(stub, {})
    stub.add_response("get_random_password", {"RandomPassword": GENERATED}, {
        "PasswordLength": PASSWORD_LENGTH, "ExcludeCharacters": PASSWORD_EXCLUDE_CHARACTERS,
        "IncludeSpace": False, "RequireEachIncludedType": True})
    sent = _expect_put(stub)
    assert ensure_app_credential(client, PROPS) == "created"
    assert sent == {**CONNECTION, "username": APP_USER, "password": GENERATED}


def test_a_version_that_is_only_pending_is_not_current_so_a_first_value_is_written(secrets):
    client, stub = secrets
    _describe(stub, {VERSION: ["AWSPENDING"]})
    stub.add_response("get_random_password", {"RandomPassword": GENERATED}, {
        "PasswordLength": PASSWORD_LENGTH, "ExcludeCharacters": PASSWORD_EXCLUDE_CHARACTERS,
        "IncludeSpace": False, "RequireEachIncludedType": True})
    sent = _expect_put(stub)
    assert ensure_app_credential(client, PROPS) == "created"
    assert sent["password"] == GENERATED


def test_a_current_credential_for_this_instance_is_left_exactly_as_it_is(secrets):
    client, stub = secrets
    _describe(stub, {VERSION: ["AWSCURRENT"]})
    _current(stub, ROTATED)
    # No PutSecretValue and no GetRandomPassword queued: the Stubber fails on any further call.
    assert ensure_app_credential(client, PROPS) == "kept"


@pytest.mark.parametrize("field,old", [("host", "tca-dev-pg-old00000.c9akciq32.us-west-2.rds.amazonaws.com"),
                                       ("port", 5433), ("dbname", "postgres"),
                                       ("masterarn", MASTER.replace("0f1e2d3c", "99999999"))])
def test_a_replaced_instance_corrects_the_connection_fields_and_keeps_the_rotated_user_and_password(secrets, field,
                                                                                                     old):
    client, stub = secrets
    _describe(stub, {VERSION: ["AWSCURRENT"], "b1b2c3d4-5678-4abc-8def-0123456789ab": ["AWSPREVIOUS"]})
    _current(stub, {**ROTATED, field: old})
    sent = _expect_put(stub)
    assert ensure_app_credential(client, PROPS) == "corrected"
    assert sent == ROTATED


def test_a_current_value_without_a_password_is_refused_and_not_overwritten(secrets):
    client, stub = secrets
    _describe(stub, {VERSION: ["AWSCURRENT"]})
    _current(stub, {**CONNECTION, "username": APP_USER})
    with pytest.raises(BootstrapError, match=r"without password; it was left as it is"):
        ensure_app_credential(client, PROPS)


def test_a_current_value_for_a_user_outside_the_pair_is_refused_and_not_overwritten(secrets):
    client, stub = secrets
    _describe(stub, {VERSION: ["AWSCURRENT"]})
    _current(stub, {**ROTATED, "username": "tcaadmin", "host": "elsewhere"})
    with pytest.raises(BootstrapError, match=r"names the user 'tcaadmin', not one of tca_app, tca_app_clone"):
        ensure_app_credential(client, PROPS)


def test_the_excluded_characters_sent_to_secrets_manager_fit_its_limits():
    """GetRandomPassword: ExcludeCharacters up to 4096 characters, PasswordLength 1 to 4096."""
    from tests.helpers import aws_service_model

    members = aws_service_model("secretsmanager").operation_model("GetRandomPassword").input_shape.members
    assert len(PASSWORD_EXCLUDE_CHARACTERS) <= members["ExcludeCharacters"].metadata["max"]
    assert members["PasswordLength"].metadata["min"] <= PASSWORD_LENGTH \
        <= members["PasswordLength"].metadata["max"]


# -- the task ---------------------------------------------------------------------------------------------

STOPPED_AT = datetime.datetime(2026, 12, 7, 8, 0, tzinfo=datetime.UTC)


def _expect_run(stub):
    stub.add_response("run_task", {"tasks": [{"taskArn": TASK, "lastStatus": "PROVISIONING"}], "failures": []}, {
        "cluster": CLUSTER, "taskDefinition": TASK_DEF, "launchType": "FARGATE", "platformVersion": "LATEST",
        "count": 1, "startedBy": "pulumi-db-bootstrap",
        "networkConfiguration": {"awsvpcConfiguration": {
            "subnets": PROPS["subnets"], "securityGroups": PROPS["security_groups"], "assignPublicIp": "DISABLED"}},
    })


def _expect_stop(stub, container: dict):
    stopped = {"tasks": [{"taskArn": TASK, "lastStatus": "STOPPED", "stoppedReason": "Essential container in task "
                          "exited", "stoppedAt": STOPPED_AT, "containers": [{"name": "psql", **container}]}],
               "failures": []}
    for _ in range(2):
        stub.add_response("describe_tasks", stopped, {"cluster": CLUSTER, "tasks": [TASK]})


def test_the_task_runs_on_demand_in_the_given_private_subnets_and_admin_group_without_a_public_ip(ecs):
    client, stub = ecs
    _expect_run(stub)
    _expect_stop(stub, {"exitCode": 0})
    assert run_bootstrap_task(client, PROPS, delay=0, max_attempts=3)["task_arn"] == TASK


def test_a_failed_psql_names_its_exit_code_and_the_log_stream(ecs):
    client, stub = ecs
    _expect_run(stub)
    _expect_stop(stub, {"exitCode": 3})
    with pytest.raises(BootstrapError) as err:
        run_bootstrap_task(client, PROPS, delay=0, max_attempts=3)
    assert "database bootstrap failed: container psql exited with code 3" in str(err.value)
    assert "stream bootstrap/psql/0123456789abcdef0123456789abcdef" in str(err.value)


def test_create_writes_the_credential_before_the_task_reads_it(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(bootstrap_provider, "aws_client", lambda props, service: service)
    def credential(client, props):
        calls.append(client)
        return "created"

    def task(client, props):
        calls.append(client)
        return {"task_arn": TASK, "exit_code": 0, "stopped_at": "x"}

    monkeypatch.setattr(bootstrap_provider, "ensure_app_credential", credential)
    monkeypatch.setattr(bootstrap_provider, "run_bootstrap_task", task)
    result = BootstrapProvider().create(dict(PROPS))
    assert calls == ["secretsmanager", "ecs"]
    assert result.id == TASK and result.outs is not None and result.outs["credential"] == "created"


# -- diff: what reruns the bootstrap ----------------------------------------------------------------------

def _diff(**changes):
    olds = {**PROPS, "task_arn": TASK, "exit_code": 0, "stopped_at": "x", "credential": "kept", "__provider": "p"}
    return BootstrapProvider().diff(TASK, olds, {**PROPS, "__provider": "p", **changes})


def test_the_bootstrap_is_a_deploy_step():
    assert issubclass(BootstrapProvider, DeployStepProvider)


@pytest.mark.parametrize("key,value", [("db_resource_id", "db-NEWINSTANCE0000000000000"),
                                       ("app_secret_arn", APP_SECRET.replace("1a2b3c4", "9z9z9z9")),
                                       ("master_secret_arn", MASTER.replace("0f1e2d3c", "99999999")),
                                       ("sql_hash", "1" * 64)])
def test_a_new_instance_secret_or_sql_reruns_the_bootstrap(key, value):
    assert _diff(**{key: value}).replaces == [key]


@pytest.mark.parametrize("key,value", [("task_definition", TASK_DEF.replace(":2", ":3")),
                                       ("subnets", ["subnet-0fff5555aaaa6666b"])])
def test_other_changes_only_update_the_record(key, value):
    result = _diff(**{key: value})
    assert result.changes is True and result.replaces == []


def test_delete_never_calls_aws(monkeypatch):
    monkeypatch.setattr(bootstrap_provider, "aws_client", lambda props, service: pytest.fail("delete called AWS"))
    BootstrapProvider().delete(TASK, PROPS)

"""The seed provider against ECS as botocore's Stubber plays it: requests are validated against
the real ECS API model, and each response is one ECS could send."""

from __future__ import annotations

import datetime

import pytest

from infra import seed_provider
from infra.deploy_step import DeployStepProvider
from infra.seed_provider import SeedError, SeedProvider, reseed_reasons, run_seed_task
from tests.helpers import stubbed_client

# The provider takes its region from its inputs; any region works, this one is not a stack's.
REGION = "us-west-2"

CLUSTER = f"arn:aws:ecs:{REGION}:123456789012:cluster/tca-dev-cluster-1a2b3c4"
TASK_DEF = f"arn:aws:ecs:{REGION}:123456789012:task-definition/tca-dev-seed-5d6e7f8:3"
TASK = f"arn:aws:ecs:{REGION}:123456789012:task/tca-dev-cluster-1a2b3c4/0123456789abcdef0123456789abcdef"
PROPS = {
    "cluster": CLUSTER,
    "task_definition": TASK_DEF,
    "subnets": ["subnet-0aaa1111bbbb2222c", "subnet-0ddd3333eeee4444f"],
    "security_groups": ["sg-0123456789abcdef0"],
    "region": REGION,
    "profile": "",
    "container_name": "app",
    "log_group": "tca-dev-logs-7ad38b3",
    "log_stream_prefix": "seed",
    "db_instance_id": "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "seed_revision": 1,
}
STOPPED_AT = datetime.datetime(2026, 11, 28, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def ecs():
    yield from stubbed_client("ecs", REGION)


def _expect_run(stub, response=None):
    stub.add_response("run_task", response or {"tasks": [{"taskArn": TASK, "lastStatus": "PROVISIONING"}],
                                               "failures": []}, {
        "cluster": CLUSTER,
        "taskDefinition": TASK_DEF,
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "count": 1,
        "startedBy": "pulumi-seed",
        "networkConfiguration": {"awsvpcConfiguration": {
            "subnets": PROPS["subnets"], "securityGroups": PROPS["security_groups"], "assignPublicIp": "DISABLED"}},
    })


def _stopped_task(container: dict, reason: str = "Essential container in task exited") -> dict:
    return {"tasks": [{"taskArn": TASK, "lastStatus": "STOPPED", "stoppedReason": reason,
                       "stoppedAt": STOPPED_AT, "containers": [{"name": "app", **container}]}],
            "failures": []}


def _expect_stop(stub, container: dict, reason: str = "Essential container in task exited"):
    # The tasks_stopped waiter polls describe_tasks; then the provider reads the result once more.
    for _ in range(2):
        stub.add_response("describe_tasks", _stopped_task(container, reason), {"cluster": CLUSTER, "tasks": [TASK]})


def test_seed_succeeds_when_the_container_exits_zero(ecs):
    client, stub = ecs
    _expect_run(stub)
    _expect_stop(stub, {"exitCode": 0})
    result = run_seed_task(client, PROPS, delay=0, max_attempts=3)
    assert result["task_arn"] == TASK and result["exit_code"] == 0


def test_seed_failure_reports_exit_code_reason_and_where_the_logs_are(ecs):
    client, stub = ecs
    _expect_run(stub)
    _expect_stop(stub, {"exitCode": 1})
    with pytest.raises(SeedError) as err:
        run_seed_task(client, PROPS, delay=0, max_attempts=3)
    message = str(err.value)
    assert "exited with code 1" in message
    assert "Essential container in task exited" in message
    assert "group tca-dev-logs-7ad38b3" in message
    assert "stream seed/app/0123456789abcdef0123456789abcdef" in message


def test_task_that_never_started_reports_ecs_failures(ecs):
    client, stub = ecs
    _expect_run(stub, {"tasks": [], "failures": [{"arn": CLUSTER, "reason": "RESOURCE:ENI",
                                                  "detail": "no free addresses"}]})
    with pytest.raises(SeedError, match=r"did not start the seed task.*RESOURCE:ENI no free addresses"):
        run_seed_task(client, PROPS, delay=0, max_attempts=3)


def test_waiter_timeout_stops_the_task_and_says_so(ecs):
    client, stub = ecs
    _expect_run(stub)
    running = {"tasks": [{"taskArn": TASK, "lastStatus": "RUNNING", "containers": [{"name": "app"}]}],
               "failures": []}
    for _ in range(2):
        stub.add_response("describe_tasks", running, {"cluster": CLUSTER, "tasks": [TASK]})
    stub.add_response("stop_task", {"task": {"taskArn": TASK, "lastStatus": "STOPPING"}},
                      {"cluster": CLUSTER, "task": TASK, "reason": "pulumi up stopped waiting for the seed"})
    with pytest.raises(SeedError, match=r"did not stop within 0 s.*asked to stop.*stream seed/app/"):
        run_seed_task(client, PROPS, delay=0, max_attempts=2)


def test_missing_exit_code_is_a_failure_with_the_container_reason(ecs):
    client, stub = ecs
    _expect_run(stub)
    _expect_stop(stub, {"reason": "CannotPullContainerError: toomanyrequests"},
                 reason="Task failed to start")
    with pytest.raises(SeedError) as err:
        run_seed_task(client, PROPS, delay=0, max_attempts=3)
    assert "never ran to completion (no exit code)" in str(err.value)
    assert "CannotPullContainerError: toomanyrequests" in str(err.value)
    assert "Task failed to start" in str(err.value)


def test_create_runs_the_seed_with_the_deployers_client(ecs, monkeypatch):
    client, stub = ecs
    _expect_run(stub)
    _expect_stop(stub, {"exitCode": 0})
    monkeypatch.setattr(seed_provider, "aws_client", lambda props, service: client)
    monkeypatch.setattr(seed_provider.run_seed_task, "__defaults__", (0, 3))  # no real waiting
    result = SeedProvider().create(dict(PROPS))
    assert result.id == TASK and result.outs is not None
    assert result.outs["exit_code"] == 0 and result.outs["db_instance_id"] == PROPS["db_instance_id"]


def test_seed_is_a_deploy_step_and_no_longer_polls_the_proxy_itself(monkeypatch):
    # The ProxyReady step, a dependency of the seed, waits for the proxy; the seed calls only ECS.
    assert issubclass(SeedProvider, DeployStepProvider)
    services: list[str] = []

    def client(props, service):
        services.append(service)
        return service

    monkeypatch.setattr(seed_provider, "aws_client", client)
    monkeypatch.setattr(seed_provider, "run_seed_task", lambda ecs, props: {"task_arn": TASK, "exit_code": 0})
    SeedProvider().create(dict(PROPS))
    assert services == ["ecs"]


# -- diff: what re-runs the destructive seed, and what must not ---------------------------------

def _diff(**changes):
    olds = {**PROPS, "task_arn": TASK, "exit_code": 0, "stopped_at": "x", "__provider": "old"}
    news = {**PROPS, "__provider": "old", **changes}
    return SeedProvider().diff(TASK, olds, news)


def test_unchanged_inputs_mean_no_change():
    result = _diff()
    assert result.changes is False and result.replaces == []


def test_a_new_provider_serialization_alone_changes_nothing():
    assert _diff(__provider="new").changes is False


@pytest.mark.parametrize("key,value", [
    ("task_definition", TASK_DEF.replace(":3", ":4")),   # new image or task size
    ("subnets", ["subnet-0fff5555aaaa6666b"]),
    ("security_groups", ["sg-0fedcba9876543210"]),
    ("log_group", "tca-dev-logs-new"),
])
def test_ordinary_changes_update_without_reseeding(key, value):
    result = _diff(**{key: value})
    assert result.changes is True and result.replaces == []


def test_a_replaced_database_is_seeded_again():
    assert _diff(db_instance_id="db-NEWINSTANCE0000000000000").replaces == ["db_instance_id"]


def test_raising_seed_revision_reseeds():
    assert _diff(seed_revision=2).replaces == ["seed_revision"]


def test_lowering_seed_revision_does_not_reseed():
    result = SeedProvider().diff(TASK, {**PROPS, "seed_revision": 3}, {**PROPS, "seed_revision": 2})
    assert result.changes is True and result.replaces == []


def test_unknown_values_during_preview_may_reseed():
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    assert reseed_reasons(PROPS, {**PROPS, "db_instance_id": unknown, "seed_revision": unknown}) \
        == ["db_instance_id", "seed_revision"]


def test_update_keeps_the_seed_result_and_never_calls_ecs(monkeypatch):
    monkeypatch.setattr(seed_provider, "aws_client", lambda props, service: pytest.fail("update called AWS"))
    olds = {**PROPS, "task_arn": TASK, "exit_code": 0, "stopped_at": "x"}
    news = {**PROPS, "task_definition": TASK_DEF.replace(":3", ":4")}
    outs = SeedProvider().update(TASK, olds, news).outs
    assert outs is not None
    assert outs["task_arn"] == TASK and outs["task_definition"].endswith(":4")


def test_delete_never_calls_ecs(monkeypatch):
    monkeypatch.setattr(seed_provider, "aws_client", lambda props, service: pytest.fail("delete called AWS"))
    SeedProvider().delete(TASK, PROPS)

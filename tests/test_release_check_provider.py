"""The rollout check against ECS as botocore's Stubber plays it: `pulumi up` passes only when the
service deployment of this update's task definition is SUCCESSFUL, for rolling and canary alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra import release_check_provider
from infra.release_check_provider import (
    FAILED,
    PASSED,
    WAITING,
    RolloutCheckProvider,
    RolloutFailedError,
    wait_for_rollout,
)
from tests.helpers import stubbed_client

# The provider takes its region from its inputs; any region works, this one is not a stack's.
REGION = "us-west-2"

CLUSTER = f"arn:aws:ecs:{REGION}:123456789012:cluster/tca-prod-cluster-1a2b3c4"
SERVICE = "tca-prod-svc-5d6e7f8"
OLD_TD = f"arn:aws:ecs:{REGION}:123456789012:task-definition/tca-prod-svc:6"
NEW_TD = f"arn:aws:ecs:{REGION}:123456789012:task-definition/tca-prod-svc:7"
PROPS = {"region": REGION, "profile": "", "cluster": CLUSTER, "service": SERVICE, "task_definition": NEW_TD}
REGION_ACCOUNT = f"{REGION}:123456789012"
BREAKER = "ECS deployment circuit breaker: tasks failed to start."
CREATED = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
NEW_NUMBER = 4980306466373577095
OLD_NUMBER = 4980306466373570001


def _revision(number: int) -> str:
    return f"arn:aws:ecs:{REGION_ACCOUNT}:service-revision/tca-prod-cluster-1a2b3c4/{SERVICE}/{number}"


def _service_deployment_arn(number: int) -> str:
    return f"arn:aws:ecs:{REGION_ACCOUNT}:service-deployment/tca-prod-cluster-1a2b3c4/{SERVICE}/sd{number}"


NEW_SD = _service_deployment_arn(NEW_NUMBER)


@pytest.fixture
def ecs():
    yield from stubbed_client("ecs", REGION)


def _deployment(number: int, td: str, status: str, state: str | None = None) -> dict:
    """A DescribeServices deployment; ECS gives rolloutState to rolling deployments only."""
    d: dict = {"id": f"ecs-svc/{number}", "status": status, "taskDefinition": td, "desiredCount": 2,
               "createdAt": CREATED}
    if state:
        d["rolloutState"] = state
    return d


def _expect_service(stub, *deployments: dict):
    stub.add_response("describe_services",
                      {"services": [{"serviceName": SERVICE, "clusterArn": CLUSTER, "deployments": list(deployments)}],
                       "failures": []},
                      {"cluster": CLUSTER, "services": [SERVICE]})


def _brief(number: int, status: str = "IN_PROGRESS") -> dict:
    return {"serviceDeploymentArn": _service_deployment_arn(number), "targetServiceRevisionArn": _revision(number),
            "status": status}


def _expect_list(stub, *briefs: dict, token: str | None = None, next_token: str | None = None):
    params: dict = {"cluster": CLUSTER, "service": SERVICE, "createdAt": {"after": CREATED - timedelta(minutes=5)}}
    if token:
        params["nextToken"] = token
    answer: dict = {"serviceDeployments": list(briefs)}
    if next_token:
        answer["nextToken"] = next_token
    stub.add_response("list_service_deployments", answer, params)


def _expect_status(stub, status: str, reason: str = "", rollback: str = "", arn: str = NEW_SD):
    found: dict = {"serviceDeploymentArn": arn, "status": status,
                   "targetServiceRevision": {"arn": _revision(NEW_NUMBER)}}
    if reason:
        found["statusReason"] = reason
    if rollback:
        found["rollback"] = {"reason": rollback, "serviceRevisionArn": _revision(OLD_NUMBER)}
    stub.add_response("describe_service_deployments", {"serviceDeployments": [found], "failures": []},
                      {"serviceDeploymentArns": [arn]})


def _found(stub, state: str | None = None):
    """ECS lists this update's deployment as PRIMARY, and its service deployment."""
    _expect_service(stub, _deployment(NEW_NUMBER, NEW_TD, "PRIMARY", state))
    _expect_list(stub, _brief(NEW_NUMBER))


def _wait(client, attempts=5):
    return wait_for_rollout(client, CLUSTER, SERVICE, NEW_TD, delay=0, max_attempts=attempts)


def test_passes_when_the_new_revisions_service_deployment_succeeded(ecs):
    client, stub = ecs
    _found(stub, "COMPLETED")
    _expect_status(stub, "SUCCESSFUL", "Service deployment succeeded")
    assert _wait(client)["serviceDeploymentArn"] == NEW_SD


def test_a_canary_without_rollout_state_passes_on_its_service_deployment(ecs):
    # ECS returns rolloutState for rolling deployments only: a canary's deployment has none.
    client, stub = ecs
    _found(stub, None)
    _expect_status(stub, "IN_PROGRESS")
    _expect_status(stub, "SUCCESSFUL")
    assert _wait(client)["status"] == "SUCCESSFUL"


def test_keeps_waiting_while_the_deployment_is_pending_or_in_progress_without_listing_again(ecs):
    client, stub = ecs
    _found(stub, "IN_PROGRESS")
    for status in ("PENDING", "IN_PROGRESS", "IN_PROGRESS", "SUCCESSFUL"):
        _expect_status(stub, status)
    assert _wait(client)["status"] == "SUCCESSFUL"


def test_finds_the_service_deployment_of_this_revision_across_pages(ecs):
    client, stub = ecs
    _expect_service(stub, _deployment(NEW_NUMBER, NEW_TD, "PRIMARY"), _deployment(OLD_NUMBER, OLD_TD, "ACTIVE"))
    # A revision number that merely ends in the same digits is another deployment.
    _expect_list(stub, _brief(OLD_NUMBER, "SUCCESSFUL"), _brief(int(f"1{NEW_NUMBER}")), next_token="page-2")
    _expect_list(stub, _brief(NEW_NUMBER), token="page-2")
    _expect_status(stub, "SUCCESSFUL")
    assert _wait(client)["serviceDeploymentArn"] == NEW_SD


def test_waits_while_ecs_lists_no_service_deployment_for_this_revision_yet(ecs):
    client, stub = ecs
    _expect_service(stub, _deployment(NEW_NUMBER, NEW_TD, "PRIMARY"))
    _expect_list(stub)
    _found(stub)
    _expect_status(stub, "SUCCESSFUL")
    assert _wait(client)["status"] == "SUCCESSFUL"


def test_fails_naming_status_and_reason_when_the_deployment_stopped(ecs):
    client, stub = ecs
    _found(stub)
    _expect_status(stub, "STOPPED", BREAKER)
    with pytest.raises(RolloutFailedError) as failed:
        _wait(client)
    assert str(failed.value) == f"ECS did not roll out {NEW_TD}: service deployment {NEW_SD} is STOPPED ({BREAKER})"


# Literal, not derived from the code's sets: a rollback that has only been requested fails the check too.
@pytest.mark.parametrize("status", ["STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS",
                                    "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"])
def test_fails_at_once_on_a_rollback_or_stop_naming_its_reasons(ecs, status):
    client, stub = ecs
    _found(stub)
    _expect_status(stub, status, "alarm tca-prod-rollback-target-5xx in ALARM", "Deployment alarm triggered")
    with pytest.raises(RolloutFailedError) as failed:
        _wait(client)
    assert str(failed.value) == (f"ECS did not roll out {NEW_TD}: service deployment {NEW_SD} is {status} "
                                 "(alarm tca-prod-rollback-target-5xx in ALARM); rollback: Deployment alarm triggered")


def test_fails_when_a_rollback_made_the_old_revision_primary_and_ours_is_gone(ecs):
    client, stub = ecs
    _expect_service(stub, _deployment(OLD_NUMBER, OLD_TD, "PRIMARY", "COMPLETED"))
    with pytest.raises(RolloutFailedError) as failed:
        _wait(client)
    assert str(failed.value) == (
        f"ECS rolled back instead of rolling out {NEW_TD}: the service's PRIMARY deployment runs {OLD_TD} "
        f"(PRIMARY deployment ecs-svc/{OLD_NUMBER}); this update's deployment is not listed")


def test_times_out_with_the_last_service_deployment_status(ecs):
    client, stub = ecs
    _found(stub)
    _expect_status(stub, "IN_PROGRESS", "Waiting for bake time")
    _expect_status(stub, "IN_PROGRESS", "Waiting for bake time")
    with pytest.raises(RolloutFailedError) as failed:
        _wait(client, attempts=2)
    assert str(failed.value) == (
        f"ECS did not finish rolling out {NEW_TD} within 0 s: service deployment {NEW_SD} is IN_PROGRESS "
        f"(Waiting for bake time). Check: aws ecs list-service-deployments --cluster {CLUSTER} --service {SERVICE}")


def test_times_out_naming_the_deployment_when_no_service_deployment_turned_up(ecs):
    client, stub = ecs
    for _ in range(2):
        _expect_service(stub, _deployment(NEW_NUMBER, NEW_TD, "PRIMARY"))
        _expect_list(stub)
    with pytest.raises(RolloutFailedError, match=rf"within 0 s: no service deployment found yet for PRIMARY "
                                                 rf"deployment ecs-svc/{NEW_NUMBER}\."):
        _wait(client, attempts=2)


def test_a_missing_service_fails_at_once(ecs):
    client, stub = ecs
    stub.add_response("describe_services",
                      {"services": [], "failures": [{"arn": f"{CLUSTER}/{SERVICE}", "reason": "MISSING"}]},
                      {"cluster": CLUSTER, "services": [SERVICE]})
    with pytest.raises(RolloutFailedError, match="MISSING"):
        _wait(client)


def test_status_sets_cover_every_ecs_service_deployment_status_once():
    from tests.helpers import aws_service_model
    model = aws_service_model("ecs")
    statuses = set(model.shape_for("ServiceDeploymentStatus").enum)
    assert PASSED | FAILED | WAITING == statuses
    assert len(PASSED) + len(FAILED) + len(WAITING) == len(statuses)


def test_the_operations_the_check_calls_are_in_ecs_api():
    from tests.helpers import aws_service_model
    model = aws_service_model("ecs")
    assert {"DescribeServices", "ListServiceDeployments", "DescribeServiceDeployments"} <= set(model.operation_names)


def test_create_checks_with_the_deployers_ecs_client(ecs, monkeypatch):
    client, stub = ecs
    _found(stub)
    _expect_status(stub, "SUCCESSFUL")
    monkeypatch.setattr(release_check_provider, "aws_client", lambda props, service: service == "ecs" and client)
    result = RolloutCheckProvider().create(dict(PROPS))
    assert result.outs is not None
    assert result.id == NEW_SD
    assert (result.outs["rollout_state"], result.outs["deployment_id"]) == ("SUCCESSFUL", NEW_SD)
    assert result.outs["task_definition"] == NEW_TD


def test_a_new_task_definition_is_checked_and_the_same_one_is_not():
    olds = {**PROPS, "task_definition": OLD_TD, "rollout_state": "COMPLETED", "deployment_id": "d"}
    assert RolloutCheckProvider().diff("id", olds, PROPS).replaces == ["task_definition"]
    same = {**PROPS, "rollout_state": "COMPLETED", "deployment_id": "d"}
    assert RolloutCheckProvider().diff("id", same, dict(PROPS)).changes is False


def test_create_waits_as_long_as_the_stack_allows_for_its_bake_times(monkeypatch):
    waited = {}

    def fake_wait(ecs, cluster, service, task_definition, *, max_attempts, **_):
        waited["seconds"] = max_attempts * release_check_provider.ROLLOUT_DELAY_SECONDS
        return {"serviceDeploymentArn": NEW_SD, "status": "SUCCESSFUL"}

    monkeypatch.setattr(release_check_provider, "aws_client", lambda props, service: None)
    monkeypatch.setattr(release_check_provider, "wait_for_rollout", fake_wait)
    RolloutCheckProvider().create({**PROPS, "wait_minutes": 55})
    assert waited["seconds"] == 55 * 60


def test_a_longer_wait_alone_does_not_check_the_same_revision_again():
    olds = {**PROPS, "wait_minutes": 30, "rollout_state": "COMPLETED", "deployment_id": "d"}
    diff = RolloutCheckProvider().diff("id", olds, {**PROPS, "wait_minutes": 55})
    assert diff.replaces == []

"""The rollout check against ECS as botocore's Stubber plays it: `pulumi up` passes only when the
deployment of this update's task definition COMPLETED, for rolling and canary deployments alike."""

from __future__ import annotations

import pytest

from infra import release_check_provider
from infra.release_check_provider import RolloutCheckProvider, RolloutFailedError, wait_for_rollout
from tests.helpers import stubbed_client

# The provider takes its region from its inputs; any region works, this one is not a stack's.
REGION = "us-west-2"

CLUSTER = f"arn:aws:ecs:{REGION}:123456789012:cluster/tca-prod-cluster-1a2b3c4"
SERVICE = "tca-prod-svc-5d6e7f8"
OLD_TD = f"arn:aws:ecs:{REGION}:123456789012:task-definition/tca-prod-svc:6"
NEW_TD = f"arn:aws:ecs:{REGION}:123456789012:task-definition/tca-prod-svc:7"
PROPS = {"region": REGION, "profile": "", "cluster": CLUSTER, "service": SERVICE, "task_definition": NEW_TD}
BREAKER = "ECS deployment circuit breaker: tasks failed to start."


@pytest.fixture
def ecs():
    yield from stubbed_client("ecs", REGION)


def _deployment(number: int, td: str, status: str, state: str | None, reason: str = "") -> dict:
    d: dict = {"id": f"ecs-svc/{number:019d}", "status": status, "taskDefinition": td, "desiredCount": 2}
    if state:
        d["rolloutState"] = state
    if reason:
        d["rolloutStateReason"] = reason
    return d


def _expect(stub, *deployments: dict):
    stub.add_response("describe_services",
                      {"services": [{"serviceName": SERVICE, "clusterArn": CLUSTER, "deployments": list(deployments)}],
                       "failures": []},
                      {"cluster": CLUSTER, "services": [SERVICE]})


def _wait(client, attempts=3):
    return wait_for_rollout(client, CLUSTER, SERVICE, NEW_TD, delay=0, max_attempts=attempts)


def test_passes_when_the_new_revision_completed(ecs):
    client, stub = ecs
    _expect(stub, _deployment(2, NEW_TD, "PRIMARY", "COMPLETED", "ECS deployment ecs-svc/2 completed."))
    assert _wait(client)["id"] == "ecs-svc/0000000000000000002"


def test_keeps_polling_while_the_rollout_or_canary_is_in_progress(ecs):
    client, stub = ecs
    # Rolling or canary: the new revision is PRIMARY and IN_PROGRESS while the old one is ACTIVE.
    _expect(stub, _deployment(2, NEW_TD, "PRIMARY", "IN_PROGRESS"), _deployment(1, OLD_TD, "ACTIVE", "COMPLETED"))
    _expect(stub, _deployment(2, NEW_TD, "PRIMARY", "IN_PROGRESS"), _deployment(1, OLD_TD, "ACTIVE", "COMPLETED"))
    _expect(stub, _deployment(2, NEW_TD, "PRIMARY", "COMPLETED"))
    assert _wait(client)["rolloutState"] == "COMPLETED"


def test_fails_naming_state_and_reason_when_the_new_revision_failed(ecs):
    client, stub = ecs
    _expect(stub, _deployment(3, OLD_TD, "PRIMARY", "IN_PROGRESS", "rolling back"),
            _deployment(2, NEW_TD, "ACTIVE", "FAILED", BREAKER))
    with pytest.raises(RolloutFailedError) as failed:
        _wait(client)
    message = str(failed.value)
    assert f"ECS failed to roll out {NEW_TD}" in message
    assert f"rolloutState FAILED ({BREAKER})" in message
    assert OLD_TD in message


def test_fails_when_a_rollback_made_the_old_revision_primary_again(ecs):
    # After a rollback the failed deployment may be gone; the old revision is PRIMARY and steady,
    # which is exactly what awsx's steady-state wait accepts as success.
    client, stub = ecs
    _expect(stub, _deployment(3, OLD_TD, "PRIMARY", "COMPLETED", "ECS deployment ecs-svc/3 completed."))
    with pytest.raises(RolloutFailedError) as failed:
        _wait(client)
    message = str(failed.value)
    assert f"ECS rolled back instead of rolling out {NEW_TD}" in message
    assert f"PRIMARY deployment runs {OLD_TD}" in message
    assert "rolloutState COMPLETED" in message
    assert "this update's deployment: not listed" in message


def test_fails_when_our_revision_is_still_listed_but_no_longer_primary(ecs):
    client, stub = ecs
    _expect(stub, _deployment(3, OLD_TD, "PRIMARY", "IN_PROGRESS", "alarm tca-prod-5xx in ALARM"),
            _deployment(2, NEW_TD, "ACTIVE", "IN_PROGRESS"))
    with pytest.raises(RolloutFailedError, match=r"rolled back.*this update's deployment: ACTIVE deployment "
                                                 r"ecs-svc/0+2, rolloutState IN_PROGRESS"):
        _wait(client)


def test_times_out_with_the_last_rollout_state(ecs):
    client, stub = ecs
    for _ in range(2):
        _expect(stub, _deployment(2, NEW_TD, "PRIMARY", "IN_PROGRESS", "waiting for bake time"))
    with pytest.raises(RolloutFailedError, match=r"did not finish rolling out .* within 0 s: PRIMARY deployment "
                                                 r"ecs-svc/0+2, rolloutState IN_PROGRESS \(waiting for bake time\)"):
        _wait(client, attempts=2)


def test_a_missing_service_fails_at_once(ecs):
    client, stub = ecs
    stub.add_response("describe_services",
                      {"services": [], "failures": [{"arn": f"{CLUSTER}/{SERVICE}", "reason": "MISSING"}]},
                      {"cluster": CLUSTER, "services": [SERVICE]})
    with pytest.raises(RolloutFailedError, match="MISSING"):
        _wait(client)


def test_create_checks_with_the_deployers_ecs_client(ecs, monkeypatch):
    client, stub = ecs
    _expect(stub, _deployment(2, NEW_TD, "PRIMARY", "COMPLETED"))
    monkeypatch.setattr(release_check_provider, "aws_client", lambda props, service: service == "ecs" and client)
    result = RolloutCheckProvider().create(dict(PROPS))
    assert result.outs is not None
    assert result.outs["rollout_state"] == "COMPLETED" and result.outs["task_definition"] == NEW_TD


def test_a_new_task_definition_is_checked_and_the_same_one_is_not():
    olds = {**PROPS, "task_definition": OLD_TD, "rollout_state": "COMPLETED", "deployment_id": "d"}
    assert RolloutCheckProvider().diff("id", olds, PROPS).replaces == ["task_definition"]
    same = {**PROPS, "rollout_state": "COMPLETED", "deployment_id": "d"}
    assert RolloutCheckProvider().diff("id", same, dict(PROPS)).changes is False


def test_create_waits_as_long_as_the_stack_allows_for_its_bake_times(monkeypatch):
    waited = {}

    def fake_wait(ecs, cluster, service, task_definition, *, max_attempts, **_):
        waited["seconds"] = max_attempts * release_check_provider.ROLLOUT_DELAY_SECONDS
        return {"id": "ecs-svc/1", "rolloutState": "COMPLETED"}

    monkeypatch.setattr(release_check_provider, "aws_client", lambda props, service: None)
    monkeypatch.setattr(release_check_provider, "wait_for_rollout", fake_wait)
    RolloutCheckProvider().create({**PROPS, "wait_minutes": 55})
    assert waited["seconds"] == 55 * 60


def test_a_longer_wait_alone_does_not_check_the_same_revision_again():
    olds = {**PROPS, "wait_minutes": 30, "rollout_state": "COMPLETED", "deployment_id": "d"}
    diff = RolloutCheckProvider().diff("id", olds, {**PROPS, "wait_minutes": 55})
    assert diff.replaces == []

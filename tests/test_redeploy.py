"""The daily forced redeployment where the app credential rotates by alternating users."""

from __future__ import annotations

import json

import pytest

from tests.conftest import STACKS, run_where
from tests.helpers import ECS_SERVICE
from tests.mocks import ACCOUNT

SCHEDULE = "aws:scheduler/schedule:Schedule"
GROUP = "aws:scheduler/scheduleGroup:ScheduleGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
WITHOUT_PROXY = {"tca:dbProxy": False}
WITH_PROXY = {"tca:dbProxy": True}


def _service(run) -> dict:
    return run.referenced(run.one(ECS_SERVICE).outputs["service"])


@pytest.mark.parametrize("stack", STACKS)
def test_no_forced_redeployment_where_the_app_credential_does_not_rotate(stack):
    run = run_where(stack, WITH_PROXY)
    assert run.of_type(SCHEDULE) == []
    assert run.of_type("tca:infra:ScheduledRedeploy") == []


@pytest.mark.parametrize("stack", STACKS)
def test_schedule_forces_a_new_deployment_of_this_service_once_a_day_on_time(stack):
    run = run_where(stack, WITHOUT_PROXY)
    (schedule,) = run.of_type(SCHEDULE)
    service = _service(run)
    assert schedule.inputs["scheduleExpression"] == "rate(1 day)"
    assert schedule.inputs["flexibleTimeWindow"] == {"mode": "OFF"}
    target = schedule.inputs["target"]
    assert target["arn"] == "arn:aws:scheduler:::aws-sdk:ecs:updateService"
    assert json.loads(target["input"]) == {"Cluster": run.one("aws:ecs/cluster:Cluster", "-cluster").outputs["name"],
                                           "Service": service["name"], "ForceNewDeployment": True}
    assert schedule.inputs["groupName"] == run.one(GROUP).outputs["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_schedule_runs_as_its_own_role(stack):
    run = run_where(stack, WITHOUT_PROXY)
    role = run.one(ROLE, "-redeploy-role")
    assert run.one(SCHEDULE).inputs["target"]["roleArn"] == role.outputs["arn"]


@pytest.mark.parametrize("stack", STACKS)
def test_redeploy_role_may_only_update_this_one_service(stack):
    run = run_where(stack, WITHOUT_PROXY)
    role = run.one(ROLE, "-redeploy-role")
    policies = [p for p in run.of_type(ROLE_POLICY) if p.inputs["role"] == role.id]
    assert [json.loads(p.inputs["policy"]) for p in policies] == [{
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecs:UpdateService", "Resource": _service(run)["arn"]}],
    }]
    attached = [a for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.inputs["role"] in (role.id, role.outputs["name"])]
    assert attached == []


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_scheduler_may_assume_the_redeploy_role_for_this_account_and_schedule_group(stack):
    run = run_where(stack, WITHOUT_PROXY)
    role = run.one(ROLE, "-redeploy-role")
    group = run.one(GROUP).outputs["name"]
    assert json.loads(role.inputs["assumeRolePolicy"]) == {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {
            "aws:SourceAccount": ACCOUNT,
            "aws:SourceArn": f"arn:aws:scheduler:{run.region}:{ACCOUNT}:schedule-group/{group}"}},
    }]}


@pytest.mark.parametrize("stack", STACKS)
def test_the_schedule_exists_only_after_its_role_may_update_the_service(stack):
    run = run_where(stack, WITHOUT_PROXY)
    role = run.one(ROLE, "-redeploy-role")
    (policy,) = [p for p in run.of_type(ROLE_POLICY) if p.inputs["role"] == role.id]
    assert policy.urn in run.one(SCHEDULE).dependencies


@pytest.mark.parametrize("stack", STACKS)
def test_a_failed_call_is_retried_briefly_then_alarmed_rather_than_retried_for_a_day(stack):
    (schedule,) = run_where(stack, WITHOUT_PROXY).of_type(SCHEDULE)
    retry = schedule.inputs["target"]["retryPolicy"]
    assert retry["maximumEventAgeInSeconds"] <= 3600
    assert retry["maximumRetryAttempts"] <= 3


@pytest.mark.parametrize("stack", STACKS)
def test_redeploy_resources_belong_to_the_scheduled_redeploy_component(stack):
    run = run_where(stack, WITHOUT_PROXY)
    parent = run.one("tca:infra:ScheduledRedeploy").urn
    for r in run.of_type(SCHEDULE) + run.of_type(GROUP) + [run.one(ROLE, "-redeploy-role")]:
        assert r.parent == parent, r.name

"""Watching the database credentials: failed rotations, failed deployments, failed logins, all to the topic."""

from __future__ import annotations

import fnmatch
import json
import re

import pytest

from infra.config import MAX_NAME_PREFIX
from infra.credential_alarms import FAILED_LOGIN_THRESHOLD
from tests.conftest import STACKS, run_where
from tests.helpers import ECS_SERVICE, RDS
from tests.mocks import ACCOUNT, run_program

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
TOPIC = "aws:sns/topic:Topic"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
WITHOUT_PROXY = {"tca:dbProxy": False}
WITH_PROXY = {"tca:dbProxy": True}
BOTH = [(stack, proxy) for stack in STACKS for proxy in (False, True)]


def _alarm(run, metric):
    (alarm,) = [a.inputs for a in run.of_type(ALARM) if a.inputs.get("metricName") == metric]
    return alarm


ROTATION_FAILED, DEPLOYMENT_FAILED = "rotfail", "deployfail"


def _rule(run, key):
    return run.one(RULE, f"tca-{run.stack}-{key}")


def _master_secret(run) -> str:
    managed = run.one(RDS).outputs.get("masterUserSecrets") or []
    if managed:
        return managed[0]["secretArn"]
    # The stack's own master secret while it moves to the RDS-managed master (`<prefix>-credentials`).
    return next(s.id for s in run.of_type("aws:secretsmanager/secret:Secret")
                if s.name.endswith("-credentials") and not s.name.endswith("-app-credentials"))


def _app_secret(run) -> str:
    return next(s.id for s in run.of_type("aws:secretsmanager/secret:Secret") if s.name.endswith("-app-credentials"))


@pytest.mark.parametrize(("stack", "proxy"), BOTH)
def test_failed_logins_are_counted_from_the_instances_postgresql_log(stack, proxy):
    run = run_where(stack, {"tca:dbProxy": proxy})
    (metric_filter,) = run.of_type(FILTER)
    identifier = run.one(RDS).outputs["identifier"]
    assert metric_filter.inputs["logGroupName"] == f"/aws/rds/instance/{identifier}/postgresql"
    assert metric_filter.inputs["pattern"] == '"password authentication failed"'
    assert metric_filter.inputs["metricTransformation"] == {
        "name": "FailedLogins", "namespace": f"tca-{stack}/Database", "value": "1", "unit": "Count"}


@pytest.mark.parametrize(("stack", "proxy"), BOTH)
def test_failed_login_alarm_reads_the_filters_metric_and_tolerates_what_a_rotation_logs(stack, proxy):
    run = run_where(stack, {"tca:dbProxy": proxy})
    transformation = run.one(FILTER).inputs["metricTransformation"]
    alarm = _alarm(run, transformation["name"])
    assert alarm["namespace"] == transformation["namespace"]
    assert alarm["statistic"] == "Sum"
    assert alarm["threshold"] == FAILED_LOGIN_THRESHOLD
    assert alarm["period"] == 300
    assert alarm["comparisonOperator"] == "GreaterThanThreshold"
    assert alarm["treatMissingData"] == "notBreaching"


@pytest.mark.parametrize("stack", STACKS)
def test_rotation_function_errors_raise_an_alarm_on_that_function(stack):
    run = run_where(stack, WITHOUT_PROXY)
    function = run.one("aws:serverlessrepository/cloudFormationStack:CloudFormationStack")
    alarm = _alarm(run, "Errors")
    assert (alarm["namespace"], alarm["dimensions"]) == (
        "AWS/Lambda", {"FunctionName": function.inputs["parameters"]["functionName"]})
    assert (alarm["statistic"], alarm["threshold"], alarm["comparisonOperator"]) == ("Sum", 0, "GreaterThanThreshold")


@pytest.mark.parametrize("stack", STACKS)
def test_failed_daily_redeployment_calls_raise_an_alarm_on_its_own_schedule_group(stack):
    run = run_where(stack, WITHOUT_PROXY)
    group = run.one("aws:scheduler/scheduleGroup:ScheduleGroup").outputs["name"]
    alarm = _alarm(run, "TargetErrorCount")
    assert (alarm["namespace"], alarm["dimensions"]) == ("AWS/Scheduler", {"ScheduleGroup": group})
    assert (alarm["statistic"], alarm["threshold"], alarm["comparisonOperator"]) == ("Sum", 0, "GreaterThanThreshold")


@pytest.mark.parametrize("stack", STACKS)
def test_failed_client_logins_at_the_proxy_raise_an_alarm(stack):
    run = run_where(stack, WITH_PROXY)
    alarm = _alarm(run, "ClientConnectionsSetupFailedAuth")
    assert (alarm["namespace"], alarm["dimensions"]) == (
        "AWS/RDS", {"ProxyName": run.one("aws:rds/proxy:Proxy").outputs["name"]})
    assert (alarm["statistic"], alarm["threshold"], alarm["comparisonOperator"]) == ("Sum", 0, "GreaterThanThreshold")


@pytest.mark.parametrize(("stack", "proxy"), BOTH)
def test_each_credential_alarm_notifies_the_stacks_topic(stack, proxy):
    run = run_where(stack, {"tca:dbProxy": proxy})
    topic = run.one(TOPIC).outputs["arn"]
    credential = {"FailedLogins", *(["ClientConnectionsSetupFailedAuth"] if proxy else ["Errors", "TargetErrorCount"])}
    alarms = [a.inputs for a in run.of_type(ALARM) if a.inputs.get("metricName") in credential]
    assert sorted(a["metricName"] for a in alarms) == sorted(credential)
    for alarm in alarms:
        assert (alarm["alarmActions"], alarm["okActions"]) == ([topic], [topic]), alarm["metricName"]


@pytest.mark.parametrize(("stack", "proxy"), BOTH)
def test_rotation_failures_of_the_master_and_of_a_rotated_app_secret_reach_the_topic(stack, proxy):
    run = run_where(stack, {"tca:dbProxy": proxy})
    secrets = [_master_secret(run), *([] if proxy else [_app_secret(run)])]
    assert json.loads(_rule(run, ROTATION_FAILED).inputs["eventPattern"]) == {
        "source": ["aws.secretsmanager"],
        "detail-type": ["AWS Service Event via CloudTrail"],
        "detail": {"eventSource": ["secretsmanager.amazonaws.com"], "eventName": ["RotationFailed"],
                   "additionalEventData": {"SecretId": secrets}},
    }


@pytest.mark.parametrize("stack", STACKS)
def test_failed_deployments_of_this_service_reach_the_topic(stack):
    run = run_where(stack, WITHOUT_PROXY)
    service = run.referenced(run.one(ECS_SERVICE).outputs["service"])["arn"]
    assert json.loads(_rule(run, DEPLOYMENT_FAILED).inputs["eventPattern"]) == {
        "source": ["aws.ecs"], "detail-type": ["ECS Deployment State Change"], "resources": [service],
        "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]},
    }


@pytest.mark.parametrize("stack", STACKS)
def test_each_event_rule_targets_the_stacks_topic_with_a_readable_message(stack):
    run = run_where(stack, WITHOUT_PROXY)
    topic = run.one(TOPIC).outputs["arn"]
    targets = {t.inputs["rule"]: t.inputs for t in run.of_type(TARGET)}
    expected = {
        ROTATION_FAILED: ({"secret": "$.detail.additionalEventData.SecretId", "time": "$.time"},
                            "Rotation of database secret <secret> failed at <time>. See docs/operations.md."),
        DEPLOYMENT_FAILED: ({"service": "$.resources[0]", "time": "$.time", "reason": "$.detail.reason"},
                              "A deployment of <service> failed at <time>: <reason>. See docs/operations.md."),
    }
    assert sorted(targets) == sorted(_rule(run, key).outputs["name"] for key in expected)
    for key, (paths, message) in expected.items():
        target = targets[_rule(run, key).outputs["name"]]
        assert target["arn"] == topic
        assert target["targetId"] == "topic"
        # One quoted JSON string: SNS delivers it as the plain sentence.
        assert target["inputTransformer"] == {"inputPaths": paths, "inputTemplate": json.dumps(message)}


@pytest.mark.parametrize("stack", STACKS)
def test_the_topic_admits_only_this_stacks_event_rules_besides_its_own_account(stack):
    run = run_where(stack, WITHOUT_PROXY)
    topic = run.one(TOPIC).outputs["arn"]
    (policy,) = run.of_type("aws:sns/topicPolicy:TopicPolicy")
    assert policy.inputs["arn"] == topic
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements["ThisStacksEventRulesPublish"] == {
        "Sid": "ThisStacksEventRulesPublish", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sns:Publish", "Resource": topic,
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                      "ArnLike": {"aws:SourceArn": f"arn:aws:events:{run.region}:{ACCOUNT}:rule/tca-{stack}-*"}}}
    assert statements["AccountUsesTheTopic"]["Condition"] == {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}
    assert set(statements) == {"AccountUsesTheTopic", "ThisStacksEventRulesPublish"}
    for rule in (_rule(run, ROTATION_FAILED), _rule(run, DEPLOYMENT_FAILED)):
        assert rule.outputs["name"].startswith(f"tca-{stack}-")


@pytest.mark.parametrize("stack", STACKS)
def test_eventbridge_may_use_the_stack_key_for_this_stacks_topics_without_the_source_keys_sns_refuses_for_it(stack):
    """SNS Developer Guide: "Adding the aws:SourceAccount, aws:SourceArn, and aws:SourceOrgID to a AWS KMS policy is
    not supported for EventBridge-to-encrypted topics." The topic SNS names in its KMS calls narrows it instead."""
    run = run_where(stack, WITHOUT_PROXY)
    statements = {s["Sid"]: s for s in json.loads(run.one("aws:kms/key:Key").inputs["policy"])["Statement"]}
    assert statements["EventBridgePublishesToTheEncryptedTopic"] == {
        "Sid": "EventBridgePublishesToTheEncryptedTopic", "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"}, "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*", "Condition": {"StringLike": {
            "kms:EncryptionContext:aws:sns:topicArn": f"arn:aws:sns:{run.region}:{ACCOUNT}:tca-{stack}-*"}}}
    topic = run.one(TOPIC).outputs["arn"]
    assert fnmatch.fnmatchcase(topic, f"arn:aws:sns:{run.region}:{ACCOUNT}:tca-{stack}-*")


@pytest.mark.parametrize(("stack", "proxy"), BOTH)
def test_the_dashboard_graphs_how_often_each_event_rule_matched(stack, proxy):
    run = run_where(stack, {"tca:dbProxy": proxy})
    body = json.loads(run.one(DASHBOARD).inputs["dashboardBody"])
    graphed = [w["properties"]["metrics"] for w in body["widgets"]
               if w["properties"]["metrics"][0][:2] == ["AWS/Events", "TriggeredRules"]]
    rules = [_rule(run, key).outputs["name"] for key in (ROTATION_FAILED, DEPLOYMENT_FAILED)]
    assert graphed == [[["AWS/Events", "TriggeredRules", "RuleName", rule, {"stat": "Sum"}]] for rule in rules]


@pytest.mark.parametrize("stack", STACKS)
def test_credential_watch_resources_belong_to_their_component(stack):
    run = run_where(stack, WITHOUT_PROXY)
    parent = run.one("tca:infra:CredentialAlarms").urn
    for r in run.of_type(FILTER) + run.of_type(RULE) + run.of_type(TARGET):
        assert r.parent == parent, r.name


def test_the_failed_login_threshold_tolerates_a_rotations_lines_and_little_more():
    # The function tries its new password with TLS and then without it: at most two lines per rotation. Much more
    # than that and a task with a stale password would go unnoticed for long.
    assert 2 <= FAILED_LOGIN_THRESHOLD <= 10


@pytest.mark.parametrize(("stack", "proxy"), BOTH)
def test_each_event_rule_has_an_alarm_on_its_failed_deliveries_to_the_topic(stack, proxy):
    run = run_where(stack, {"tca:dbProxy": proxy})
    topic = run.one(TOPIC).outputs["arn"]
    alarms = [a.inputs for a in run.of_type(ALARM) if a.inputs.get("metricName") == "FailedInvocations"]
    rules = sorted(_rule(run, key).outputs["name"] for key in (ROTATION_FAILED, DEPLOYMENT_FAILED))
    assert sorted(a["dimensions"]["RuleName"] for a in alarms) == rules
    for alarm in alarms:
        # EventBridge publishes FailedInvocations only when it is not zero: no data is no failure.
        assert {k: alarm[k] for k in ("namespace", "dimensions", "statistic", "period", "evaluationPeriods",
                                      "threshold", "comparisonOperator", "treatMissingData")} == {
            "namespace": "AWS/Events", "dimensions": {"RuleName": alarm["dimensions"]["RuleName"]},
            "statistic": "Sum", "period": 300, "evaluationPeriods": 1, "threshold": 0,
            "comparisonOperator": "GreaterThanThreshold", "treatMissingData": "notBreaching"}
        assert (alarm["alarmActions"], alarm["okActions"]) == ([topic], [topic])


@pytest.mark.parametrize("stack", STACKS)
def test_rotation_errors_and_redeployment_errors_are_summed_over_five_minutes_and_quiet_without_data(stack):
    run = run_where(stack, WITHOUT_PROXY)
    for metric in ("Errors", "TargetErrorCount"):
        alarm = _alarm(run, metric)
        assert (alarm["period"], alarm["evaluationPeriods"], alarm["treatMissingData"]) == (
            300, 1, "notBreaching"), metric


# AWS's name limits: EventBridge rule names and target ids 64 ([.-_A-Za-z0-9]); schedule groups and schedules 64;
# metric filters 512; alarms 255. Auto-named resources get "-" and 7 random characters after their logical name.
NAME_LIMITS = {RULE: 64, "aws:scheduler/scheduleGroup:ScheduleGroup": 64, "aws:scheduler/schedule:Schedule": 64,
               FILTER: 512, ALARM: 255}


def test_every_credential_watch_name_fits_its_aws_limit_for_the_longest_stack_name():
    stack = "a" * (MAX_NAME_PREFIX - len("tca-"))
    run = run_program(stack, overrides=WITHOUT_PROXY, stack_file="dev")
    assert run.error is None, run.error
    assert len(f"tca-{stack}") == MAX_NAME_PREFIX
    for type_, limit in NAME_LIMITS.items():
        registrations = run.of_type(type_)
        assert registrations, type_
        for reg in registrations:
            name = reg.inputs.get("name") or f"{reg.name}-{'x' * 7}"
            assert len(name) <= limit, (type_, name)
    targets = run.of_type(TARGET)
    assert len(targets) == 2
    for target in targets:
        assert re.fullmatch(r"[.\-_A-Za-z0-9]{1,64}", target.inputs["targetId"]), target.inputs["targetId"]
    for rule in run.of_type(RULE):
        assert re.fullmatch(r"[.\-_A-Za-z0-9]{1,64}", f"{rule.name}-{'x' * 7}"), rule.name

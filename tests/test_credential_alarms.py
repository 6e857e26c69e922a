"""Watching the database credentials: failed rotations, failed deployments, failed logins, all to the topic."""

from __future__ import annotations

import json

import pytest

from tests.conftest import STACKS, run_where
from tests.helpers import ECS_SERVICE, RDS
from tests.mocks import ACCOUNT

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


def _rule(run, key):
    return run.one(RULE, f"-credential-alarms-{key}")


def _master_secret(run) -> str:
    managed = run.one(RDS).outputs.get("masterUserSecrets") or []
    if managed:
        return managed[0]["secretArn"]
    return next(s.id for s in run.of_type("aws:secretsmanager/secret:Secret") if s.name.endswith("-credentials"))


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
    # A rotation tries its new password (with and without TLS) before setting it: one or two lines.
    assert alarm["threshold"] >= 2
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
    assert json.loads(_rule(run, "rotation-failed").inputs["eventPattern"]) == {
        "source": ["aws.secretsmanager"],
        "detail-type": ["AWS Service Event via CloudTrail"],
        "detail": {"eventSource": ["secretsmanager.amazonaws.com"], "eventName": ["RotationFailed"],
                   "additionalEventData": {"SecretId": secrets}},
    }


@pytest.mark.parametrize("stack", STACKS)
def test_failed_deployments_of_this_service_reach_the_topic(stack):
    run = run_where(stack, WITHOUT_PROXY)
    service = run.referenced(run.one(ECS_SERVICE).outputs["service"])["arn"]
    assert json.loads(_rule(run, "deployment-failed").inputs["eventPattern"]) == {
        "source": ["aws.ecs"], "detail-type": ["ECS Deployment State Change"], "resources": [service],
        "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]},
    }


@pytest.mark.parametrize("stack", STACKS)
def test_each_event_rule_targets_the_stacks_topic_with_a_readable_message(stack):
    run = run_where(stack, WITHOUT_PROXY)
    topic = run.one(TOPIC).outputs["arn"]
    targets = {t.inputs["rule"]: t.inputs for t in run.of_type(TARGET)}
    expected = {
        "rotation-failed": ({"secret": "$.detail.additionalEventData.SecretId", "time": "$.time"},
                            "Rotation of database secret <secret> failed at <time>. See docs/operations.md."),
        "deployment-failed": ({"service": "$.resources[0]", "time": "$.time", "reason": "$.detail.reason"},
                              "A deployment of <service> failed at <time>: <reason>. See docs/operations.md."),
    }
    assert sorted(targets) == sorted(_rule(run, key).outputs["name"] for key in expected)
    for key, (paths, message) in expected.items():
        target = targets[_rule(run, key).outputs["name"]]
        assert target["arn"] == topic
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
    for rule in (_rule(run, "rotation-failed"), _rule(run, "deployment-failed")):
        assert rule.outputs["name"].startswith(f"tca-{stack}-")


@pytest.mark.parametrize("stack", STACKS)
def test_eventbridge_may_use_the_stack_key_to_publish_to_the_encrypted_topic(stack):
    run = run_where(stack, WITHOUT_PROXY)
    statements = {s["Sid"]: s for s in json.loads(run.one("aws:kms/key:Key").inputs["policy"])["Statement"]}
    assert statements["EventBridgePublishesToTheEncryptedTopic"] == {
        "Sid": "EventBridgePublishesToTheEncryptedTopic", "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"}, "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*", "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}


@pytest.mark.parametrize(("stack", "proxy"), BOTH)
def test_the_dashboard_graphs_how_often_each_event_rule_matched(stack, proxy):
    run = run_where(stack, {"tca:dbProxy": proxy})
    body = json.loads(run.one(DASHBOARD).inputs["dashboardBody"])
    graphed = [w["properties"]["metrics"] for w in body["widgets"]
               if w["properties"]["metrics"][0][0] == "AWS/Events"]
    rules = [_rule(run, key).outputs["name"] for key in ("rotation-failed", "deployment-failed")]
    assert graphed == [[["AWS/Events", "TriggeredRules", "RuleName", rule, {"stat": "Sum"}]] for rule in rules]


@pytest.mark.parametrize("stack", STACKS)
def test_credential_watch_resources_belong_to_their_component(stack):
    run = run_where(stack, WITHOUT_PROXY)
    parent = run.one("tca:infra:CredentialAlarms").urn
    for r in run.of_type(FILTER) + run.of_type(RULE) + run.of_type(TARGET):
        assert r.parent == parent, r.name

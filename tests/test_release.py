"""Release: deployment alarms that roll a bad release back, and the ECS-native canary in prod."""

from __future__ import annotations

import json

import pulumi
import pytest

from infra.release import (
    ECS_LB_POLICY_ARN,
    ECS_SERVICE_TYPE,
    PRODUCTION_RULE_PRIORITY,
    ignore_load_balancers,
    metric_expression,
)
from infra.service import BLOCKED_PATHS
from tests.conftest import DEV_ALL_ON, PROD_CHANGED, run_where, shared_run, stack_file
from tests.helpers import ALB, ECS_SERVICE, VPC, int_of

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"
TOPIC = "aws:sns/topic:Topic"
KEYS = ("target-5xx", "response-time", "unhealthy-hosts")


def _rollback_alarms(run):
    parent = run.one("tca:infra:Release").urn
    return {a.inputs["name"]: a for a in run.of_type(ALARM) if a.parent == parent}


def _watched_groups(alarm):
    return {q["metric"]["dimensions"]["TargetGroup"] for q in alarm.inputs["metricQueries"] if "metric" in q}


def _suffixes(run):
    alb = run.one(ALB).outputs
    return (run.referenced(alb["loadBalancer"])["arnSuffix"], run.referenced(alb["defaultTargetGroup"])["arnSuffix"])


# -- deployment alarms (both stacks) ------------------------------------------------------------

def test_service_rolls_back_on_the_named_alarms(run):
    alarms = run.one(ECS_SERVICE).inputs["alarms"]
    assert alarms == {"alarmNames": [f"tca-{run.stack}-rollback-{k}" for k in KEYS], "enable": True, "rollback": True}


def test_the_alarms_the_service_names_exist_and_are_created_before_it(run):
    named = run.one(ECS_SERVICE).inputs["alarms"]["alarmNames"]
    alarms = _rollback_alarms(run)
    assert sorted(alarms) == sorted(named)
    deps = set(run.one(ECS_SERVICE).dependencies)
    assert all(alarm.urn in deps for alarm in alarms.values())


def test_rollback_alarms_notify_the_alarm_topic_on_alarm_and_ok(run):
    topic = run.one(TOPIC).outputs["arn"]
    assert len(_rollback_alarms(run)) == 3
    for alarm in _rollback_alarms(run).values():
        assert alarm.inputs["alarmActions"] == [topic] and alarm.inputs["okActions"] == [topic]


def test_rollback_alarms_watch_this_services_target_groups_one_minute_at_a_time(run, settings):
    lb, primary = _suffixes(run)
    expected = {primary}
    if settings["tca:deploymentStrategy"] == "CANARY":
        expected.add(run.one(TARGET_GROUP).outputs["arnSuffix"])
    assert len(_rollback_alarms(run)) == 3
    for alarm in _rollback_alarms(run).values():
        metrics = [q["metric"] for q in alarm.inputs["metricQueries"] if "metric" in q]
        assert _watched_groups(alarm) == expected, alarm.name
        assert {m["dimensions"]["LoadBalancer"] for m in metrics} == {lb}
        assert {m["namespace"] for m in metrics} == {"AWS/ApplicationELB"}
        assert {int_of(m["period"]) for m in metrics} == {60}


def test_rollback_alarm_thresholds_come_from_the_stack_file(run, settings):
    alarms = _rollback_alarms(run)
    prefix = f"tca-{run.stack}-rollback-"
    five_xx, slow, unhealthy = (alarms[prefix + k].inputs for k in KEYS)
    assert five_xx["threshold"] == settings["tca:rollback5xxCount"]
    assert five_xx["metricQueries"][0]["metric"]["metricName"] == "HTTPCode_Target_5XX_Count"
    assert slow["threshold"] == pytest.approx(settings["tca:rollbackResponseTimeMs"] / 1000)
    assert slow["metricQueries"][0]["metric"]["metricName"] == "TargetResponseTime"
    assert unhealthy["threshold"] == 0
    assert unhealthy["metricQueries"][0]["metric"]["metricName"] == "UnHealthyHostCount"
    for alarm in (five_xx, slow, unhealthy):
        assert alarm["comparisonOperator"] == "GreaterThanThreshold"
        assert alarm["treatMissingData"] == "notBreaching"


def test_metric_expression_adds_or_maxes_every_group_with_gaps_as_zero():
    assert metric_expression("SUM", 1) == "SUM([FILL(m0, 0)])"
    assert metric_expression("MAX", 2) == "MAX([FILL(m0, 0), FILL(m1, 0)])"


def test_the_circuit_breaker_stays_on_for_both_strategies(run):
    assert run.one(ECS_SERVICE).inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert run.one(ECS_SERVICE).inputs["deploymentController"] == {"type": "ECS"}


# -- strategies -------------------------------------------------------------------------------------

def test_dev_rolls_and_creates_no_canary_resources():
    dev = run_where("dev", {"tca:deploymentStrategy": "ROLLING"})
    svc = dev.one(ECS_SERVICE).inputs
    assert svc["deploymentConfiguration"] == {"strategy": "ROLLING"}
    assert "loadBalancers" not in svc, "the port mapping's target group stays the service's only one"
    assert dev.of_type(TARGET_GROUP) == []
    assert [r.name for r in dev.of_type(LISTENER_RULE)] == ["tca-dev-block-debug"]
    assert [r.name for r in dev.of_type(ROLE) if "-ecs-lb" in r.name] == []


def test_prod_deploys_a_canary_with_the_configured_share_and_bake_times(prod):
    s = stack_file("prod")
    assert prod.one(ECS_SERVICE).inputs["deploymentConfiguration"] == {
        "strategy": "CANARY",
        "canaryConfiguration": {"canaryPercent": float(s["tca:canaryPercent"]),
                                "canaryBakeTimeInMinutes": str(s["tca:canaryBakeMinutes"])},
        "bakeTimeInMinutes": str(s["tca:deploymentBakeMinutes"]),
    }


def test_prod_alternate_target_group_matches_the_primary_in_the_same_vpc(prod):
    alt = prod.one(TARGET_GROUP).inputs
    primary = prod.one(ALB).inputs["defaultTargetGroup"]
    assert alt["targetType"] == "ip"
    assert alt["vpcId"] == prod.one(VPC).outputs["vpcId"]
    for key in ("port", "protocol", "targetType", "deregistrationDelay", "healthCheck"):
        assert alt[key] == primary[key], key
    assert len(prod.one(TARGET_GROUP).name) + 8 <= 32, "AWS caps target group names at 32 characters"


def test_prod_production_rule_forwards_to_both_groups_after_the_debug_block(prod):
    prod = run_where("prod", {"tca:domainName": "", "tca:hostedZoneId": ""})
    rule = prod.one(LISTENER_RULE, "-production")
    block = prod.one(LISTENER_RULE, "-block-debug").inputs
    listener = prod.referenced(prod.one(ALB).outputs["listeners"][0])
    assert rule.inputs["listenerArn"] == block["listenerArn"] == listener["arn"]
    assert int_of(rule.inputs["priority"]) == PRODUCTION_RULE_PRIORITY > int_of(block["priority"])
    assert block["conditions"][0]["pathPattern"]["values"] == BLOCKED_PATHS
    assert rule.inputs["conditions"] == [{"pathPattern": {"values": ["/*"]}}]
    primary = prod.referenced(prod.one(ALB).outputs["defaultTargetGroup"])["arn"]
    assert rule.inputs["actions"] == [{"type": "forward", "forward": {"targetGroups": [
        {"arn": primary, "weight": 100.0}, {"arn": prod.one(TARGET_GROUP).outputs["arn"], "weight": 0.0}]}}]


def _at(value, path: str):
    """Every value a Pulumi property path (dots, `[n]`, `[*]`) names in `value`."""
    import re
    found = [value]
    for name, index in re.findall(r"\.?([A-Za-z_]\w*)|\[(\*|\d+)\]", path):
        if name:
            found = [v[name] for v in found if isinstance(v, dict) and name in v]
        elif index == "*":
            found = [item for v in found if isinstance(v, list) for item in v]
        else:
            found = [v[int(index)] for v in found if isinstance(v, list) and len(v) > int(index)]
    return found


def test_prod_production_rule_ignores_only_the_weights_ecs_rewrites(prod):
    rule = prod.one(LISTENER_RULE, "-production")
    groups = rule.inputs["actions"][0]["forward"]["targetGroups"]
    assert rule.ignore_changes == ["actions[0].forward.targetGroups[*].weight"]
    # The path names exactly the two weights, so a replaced group (a new ARN) still updates the rule.
    assert _at(rule.inputs, rule.ignore_changes[0]) == [g["weight"] for g in groups] == [100.0, 0.0]
    assert not any("actions[0].forward.targetGroups[*].arn".startswith(path) for path in rule.ignore_changes)


def test_property_path_reader_follows_indexes_and_wildcards():
    value = {"a": [{"b": [{"w": 1, "x": 9}, {"w": 2}]}]}
    assert _at(value, "a[0].b[*].w") == [1, 2]
    assert _at(value, "a[1].b[*].w") == []
    assert _at(value, "a[0].b[0].x") == [9]


def test_prod_service_names_primary_and_alternate_groups_rule_and_role(prod):
    s = stack_file("prod")
    primary = prod.referenced(prod.one(ALB).outputs["defaultTargetGroup"])["arn"]
    assert prod.one(ECS_SERVICE).inputs["loadBalancers"] == [{
        "containerName": "app",
        "containerPort": float(s["tca:appPort"]),
        "targetGroupArn": primary,
        "advancedConfiguration": {
            "alternateTargetGroupArn": prod.one(TARGET_GROUP).outputs["arn"],
            "productionListenerRule": prod.one(LISTENER_RULE, "-production").outputs["arn"],
            "roleArn": prod.one(ROLE, "-ecs-lb").outputs["arn"],
        },
    }]


def test_prod_service_waits_for_the_rule_and_the_roles_policy(prod):
    deps = set(prod.one(ECS_SERVICE).dependencies)
    assert prod.one(LISTENER_RULE, "-production").urn in deps
    assert prod.one(ATTACHMENT, "-ecs-lb").urn in deps


def test_canary_role_is_assumable_only_by_ecs_and_holds_only_awss_load_balancer_policy_iam_1(prod):
    role = prod.one(ROLE, "-ecs-lb")
    policy = json.loads(role.inputs["assumeRolePolicy"])
    assert policy["Statement"] == [{"Sid": "AllowAccessToECSForInfrastructureManagement", "Effect": "Allow",
                                    "Principal": {"Service": "ecs.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    attachments = [a.inputs for a in prod.of_type(ATTACHMENT) if a.inputs["role"] == role.outputs["name"]]
    assert attachments == [{"role": role.outputs["name"], "policyArn": ECS_LB_POLICY_ARN}]
    assert ECS_LB_POLICY_ARN == "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"


def test_canary_rule_sits_on_the_https_listener_with_a_domain():
    run = shared_run("prod", PROD_CHANGED)  # with a domain
    https = run.referenced(run.one(ALB).outputs["listeners"][1])
    assert run.one(LISTENER_RULE, "-production").inputs["listenerArn"] == https["arn"]


def test_both_strategies_scale_on_cpu_and_on_requests_per_task():
    assert DEV_ALL_ON["tca:deploymentStrategy"] == "CANARY"
    for strategy, run in (("ROLLING", run_where("dev", {"tca:deploymentStrategy": "ROLLING"})),
                          ("CANARY", shared_run("dev", DEV_ALL_ON))):
        configs = {p.name.rsplit("-", 1)[-1]: p.inputs["targetTrackingScalingPolicyConfiguration"]
                   for p in run.of_type(SCALING_POLICY)}
        assert sorted(configs) == ["cpu", "requests"], strategy
        assert configs["cpu"]["predefinedMetricSpecification"]["predefinedMetricType"] == \
            "ECSServiceAverageCPUUtilization"
        queries = configs["requests"]["customizedMetricSpecification"]["metrics"]
        groups = {d["value"] for q in queries if "metricStat" in q
                  and q["metricStat"]["metric"]["metricName"] == "RequestCount"
                  for d in q["metricStat"]["metric"]["dimensions"] if d["name"] == "TargetGroup"}
        expected = {run.referenced(run.one(ALB).outputs["defaultTargetGroup"])["arnSuffix"]}
        if strategy == "CANARY":
            # ECS moves the live traffic to the other group on every other release: both count.
            expected.add(run.one(TARGET_GROUP).outputs["arnSuffix"])
        assert groups == expected, strategy


def test_a_canary_dev_differs_only_by_config():
    # No stack name anywhere: dev's file with CANARY gets the whole canary wiring prod has.
    run = shared_run("dev", DEV_ALL_ON)
    assert run.one(ECS_SERVICE).inputs["deploymentConfiguration"]["strategy"] == "CANARY"
    assert len(run.one(ECS_SERVICE).inputs["loadBalancers"]) == 1
    assert run.one(TARGET_GROUP).parent == run.one("tca:infra:Release").urn
    assert run.one(LISTENER_RULE, "-production").ignore_changes == ["actions[0].forward.targetGroups[*].weight"]
    assert ignore_load_balancers in run.one(ECS_SERVICE).transforms
    assert run.one(ROLE, "-ecs-lb").parent == run.one("tca:infra:Release").urn


# -- pulumi up waits through the bake times -------------------------------------------------------

def _wait(transform, type_="aws:ecs/service:Service"):
    args = pulumi.ResourceTransformArgs(custom=True, type_=type_, name="svc", props={"desiredCount": 2},
                                        opts=pulumi.ResourceOptions(ignore_changes=["desiredCount"]))
    return transform(args)


def _service_options(run, type_=ECS_SERVICE_TYPE):
    """The options the child gets after every transform recorded on the awsx service, in order."""
    args = pulumi.ResourceTransformArgs(custom=True, type_=type_, name="svc", props={"desiredCount": 2},
                                        opts=pulumi.ResourceOptions())
    for transform in run.one(ECS_SERVICE).transforms:
        result = transform(args)
        if result is not None:
            args = pulumi.ResourceTransformArgs(custom=True, type_=type_, name="svc", props=result.props,
                                                opts=result.opts)
    return args.opts


def test_canary_service_keeps_the_load_balancers_ecs_swaps(prod):
    # ECS swaps primary and alternate after each canary; the provider would push the configured pair back.
    assert sorted(_service_options(prod).ignore_changes) == ["desiredCount", "loadBalancers"]
    assert not _service_options(prod, "aws:ecs/taskDefinition:TaskDefinition").ignore_changes


def test_rolling_service_follows_its_load_balancers():
    rolling = run_where("dev", {"tca:deploymentStrategy": "ROLLING"})
    assert _service_options(rolling).ignore_changes == ["desiredCount"]


def test_load_balancer_transform_adds_to_what_the_child_ignores_and_touches_nothing_else():
    args = pulumi.ResourceTransformArgs(custom=True, type_=ECS_SERVICE_TYPE, name="svc", props={"a": 1},
                                        opts=pulumi.ResourceOptions(ignore_changes=["desiredCount"]))
    result = ignore_load_balancers(args)
    assert result is not None and result.props == {"a": 1}
    assert sorted(result.opts.ignore_changes or []) == ["desiredCount", "loadBalancers"]
    again = pulumi.ResourceTransformArgs(custom=True, type_=ECS_SERVICE_TYPE, name="svc", props={},
                                         opts=result.opts)
    assert ignore_load_balancers(again) is None
    other = pulumi.ResourceTransformArgs(custom=True, type_="aws:lb/targetGroup:TargetGroup", name="tg",
                                         props={}, opts=pulumi.ResourceOptions())
    assert ignore_load_balancers(other) is None


def test_canary_service_waits_20_minutes_plus_both_bake_times(prod):
    transforms = prod.one(ECS_SERVICE).transforms
    assert len(transforms) == 3
    result = _wait(transforms[2])
    s = stack_file("prod")
    minutes = f"{20 + s['tca:canaryBakeMinutes'] + s['tca:deploymentBakeMinutes']}m"
    assert (result.opts.custom_timeouts.create, result.opts.custom_timeouts.update) == (minutes, minutes)
    assert result.opts.ignore_changes == ["desiredCount"], "keeps what the other transform set"
    assert result.props == {"desiredCount": 2}
    assert _wait(transforms[2], "aws:ecs/taskDefinition:TaskDefinition") is None


def test_rolling_service_keeps_the_providers_wait():
    dev = run_where("dev", {"tca:deploymentStrategy": "ROLLING"})
    assert len(dev.one(ECS_SERVICE).transforms) == 1


def test_rollback_alarms_add_up_error_counts_and_take_the_worst_group_for_gauges(run):
    # Errors in either target group are errors of the release; slowness and unhealthy targets are judged
    # in the worst group, since a sum of averages or of per-group maxima means nothing.
    combine = {"HTTPCode_Target_5XX_Count": "SUM", "TargetResponseTime": "MAX", "UnHealthyHostCount": "MAX"}
    alarms = _rollback_alarms(run)
    assert len(alarms) == 3
    for alarm in alarms.values():
        queries = alarm.inputs["metricQueries"]
        metrics = [q for q in queries if "metric" in q]
        (result,) = [q for q in queries if q.get("returnData")]
        assert [q["id"] for q in metrics] == [f"m{i}" for i in range(len(metrics))]
        assert not any(q.get("returnData") for q in metrics)
        assert result["expression"] == metric_expression(combine[metrics[0]["metric"]["metricName"]], len(metrics))

"""Monitoring: alarms on the real resources' dimensions, notifying one topic, and a dashboard."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DEV_ALL_ON, run_where, shared_run, stack_file
from tests.helpers import ALB, ECS_SERVICE, RDS

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"

CORE_METRICS = {
    ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"), ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"),
    ("AWS/ApplicationELB", "UnHealthyHostCount"), ("AWS/ApplicationELB", "TargetResponseTime"),
    ("AWS/ECS", "CPUUtilization"), ("AWS/ECS", "MemoryUtilization"),
    ("ECS/ContainerInsights", "RunningTaskCount"),
    ("AWS/RDS", "CPUUtilization"), ("AWS/RDS", "FreeStorageSpace"), ("AWS/RDS", "DatabaseConnections"),
    ("AWS/RDS", "FreeableMemory"),
}
PROXY_METRICS = {("AWS/RDS", "ClientConnections"), ("AWS/RDS", "DatabaseConnectionsBorrowLatency"),
                 ("AWS/RDS", "ClientConnectionsSetupFailedAuth")}
# Where the app credential rotates (no proxy): the rotation function's errors, the daily redeployment's errors.
ROTATION_METRICS = {("AWS/Lambda", "Errors"), ("AWS/Scheduler", "TargetErrorCount")}


def failed_login_metric(run):
    """PostgreSQL's failed logins, counted by the metric filter into the deployment's own namespace."""
    return f"tca-{run.stack}/Database", "FailedLogins"


def _alarms(run, alternate=False):
    """The operational alarms on the primary target group (or their copies on the canary's alternate one).

    Deployment and WAF alarms belong to tests/test_release.py and tests/test_edge.py.
    """
    parent = run.one("tca:infra:Monitoring").urn
    return [a for a in run.of_type(ALARM) if a.parent == parent and a.name.endswith("-alt") == alternate]


def _alarm(run, metric, namespace=None):
    found = [a.inputs for a in _alarms(run) if a.inputs["metricName"] == metric
             and (namespace is None or a.inputs["namespace"] == namespace)]
    assert len(found) == 1, (metric, namespace, len(found))
    return found[0]


def _dims(run):
    alb = run.one(ALB).outputs
    service = run.referenced(run.one(ECS_SERVICE).outputs["service"])
    lb = run.referenced(alb["loadBalancer"])["arnSuffix"]
    return {
        "lb": {"LoadBalancer": lb},
        "tg": {"LoadBalancer": lb, "TargetGroup": run.referenced(alb["defaultTargetGroup"])["arnSuffix"]},
        "ecs": {"ClusterName": run.one("aws:ecs/cluster:Cluster", "-cluster").outputs["name"],
                "ServiceName": service["name"]},
        "rds": {"DBInstanceIdentifier": run.one(RDS).outputs["identifier"]},
    }


def test_alarms_cover_every_required_metric(run, settings):
    metrics = {(a.inputs["namespace"], a.inputs["metricName"]) for a in _alarms(run)}
    expected = (CORE_METRICS | {failed_login_metric(run)}
                | (PROXY_METRICS if settings["tca:dbProxy"] else ROTATION_METRICS))
    assert metrics == expected
    assert len(_alarms(run)) == len(expected)


@pytest.mark.parametrize("proxy", [True, False])
def test_alarms_cover_the_credential_metrics_of_each_database_path(proxy):
    run = run_where("dev", {"tca:dbProxy": proxy})
    metrics = {(a.inputs["namespace"], a.inputs["metricName"]) for a in _alarms(run)}
    assert metrics == CORE_METRICS | {failed_login_metric(run)} | (PROXY_METRICS if proxy else ROTATION_METRICS)


def test_every_alarm_notifies_the_topic_on_alarm_and_on_ok(run):
    topic = run.one(TOPIC).outputs["arn"]
    for alarm in run.of_type(ALARM):
        assert alarm.inputs["alarmActions"] == [topic], alarm.name
        assert alarm.inputs["okActions"] == [topic], alarm.name


@pytest.mark.parametrize("metric,kind", [
    ("HTTPCode_Target_5XX_Count", "tg"), ("HTTPCode_ELB_5XX_Count", "lb"), ("UnHealthyHostCount", "tg"),
    ("TargetResponseTime", "tg"), ("MemoryUtilization", "ecs"), ("RunningTaskCount", "ecs"),
    ("FreeStorageSpace", "rds"), ("DatabaseConnections", "rds"), ("FreeableMemory", "rds"),
])
def test_alarm_dimensions_come_from_the_real_resources(run, metric, kind):
    assert _alarm(run, metric)["dimensions"] == _dims(run)[kind]


def test_cpu_alarms_watch_the_service_and_the_database_separately(run):
    assert _alarm(run, "CPUUtilization", "AWS/ECS")["dimensions"] == _dims(run)["ecs"]
    assert _alarm(run, "CPUUtilization", "AWS/RDS")["dimensions"] == _dims(run)["rds"]


def test_thresholds_come_from_the_stack_file_in_the_metrics_units(run, settings):
    s = settings
    expected = {
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"): s["tca:alarmTarget5xxCount"],
        ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"): s["tca:alarmAlb5xxCount"],
        ("AWS/ApplicationELB", "TargetResponseTime"): s["tca:alarmResponseTimeMs"] / 1000,
        ("AWS/ECS", "CPUUtilization"): s["tca:alarmServiceCpuPercent"],
        ("AWS/ECS", "MemoryUtilization"): s["tca:alarmServiceMemoryPercent"],
        ("AWS/RDS", "CPUUtilization"): s["tca:alarmDbCpuPercent"],
        ("AWS/RDS", "FreeStorageSpace"): s["tca:alarmDbFreeStorageGib"] * 1024 ** 3,
        ("AWS/RDS", "DatabaseConnections"): s["tca:alarmDbConnections"],
        ("AWS/RDS", "FreeableMemory"): s["tca:alarmDbFreeMemoryMib"] * 1024 ** 2,
    }
    for (namespace, metric), threshold in expected.items():
        assert _alarm(run, metric, namespace)["threshold"] == pytest.approx(threshold), metric


def test_low_value_alarms_fire_below_their_threshold(run):
    for metric in ("FreeStorageSpace", "FreeableMemory", "RunningTaskCount"):
        assert _alarm(run, metric)["comparisonOperator"] == "LessThanThreshold", metric


def test_running_task_alarm_fires_below_min_tasks_and_when_no_data(run, settings):
    alarm = _alarm(run, "RunningTaskCount")
    assert alarm["namespace"] == "ECS/ContainerInsights"
    assert alarm["threshold"] == settings["tca:minTasks"]
    assert alarm["treatMissingData"] == "breaching"


def test_error_count_alarms_stay_quiet_without_traffic(run):
    for metric in ("HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"):
        assert _alarm(run, metric)["treatMissingData"] == "notBreaching"
        assert _alarm(run, metric)["statistic"] == "Sum"


def test_proxy_alarms_watch_the_proxy_in_prod():
    prod = run_where("prod", {"tca:dbProxy": True})
    proxy = prod.one("aws:rds/proxy:Proxy").outputs["name"]
    s = stack_file("prod")
    clients = _alarm(prod, "ClientConnections")
    latency = _alarm(prod, "DatabaseConnectionsBorrowLatency")
    assert clients["dimensions"] == latency["dimensions"] == {"ProxyName": proxy}
    assert clients["threshold"] == s["tca:alarmProxyClientConnections"]
    assert latency["threshold"] == s["tca:alarmProxyBorrowLatencyMs"] * 1000, "the metric is in microseconds"


def test_proxy_client_alarm_sums_every_node_per_minute():
    prod = run_where("prod", {"tca:dbProxy": True})
    # Each proxy node publishes its own ClientConnections; only their Sum is the proxy's count.
    clients = _alarm(prod, "ClientConnections")
    assert clients["statistic"] == "Sum"
    assert clients["period"] == 60


def _series(namespace, metric, dimensions):
    """One graphed or alarmed series: a metric name alone is not unique (ECS and RDS CPU, two target groups)."""
    return namespace, metric, json.dumps(dimensions, sort_keys=True)


def test_dashboard_graphs_each_metric_at_its_alarms_period(prod):
    body = json.loads(prod.one(DASHBOARD).inputs["dashboardBody"])
    periods = {}
    for widget in body["widgets"]:
        metric = widget["properties"]["metrics"][0]
        if metric[0] in ("AWS/WAFV2", "AWS/Events"):
            continue
        dims = dict(zip(metric[2:-1:2], metric[3:-1:2], strict=True))
        periods[_series(metric[0], metric[1], dims)] = (widget["properties"]["period"], metric[-1])
    alarms = _alarms(prod) + _alarms(prod, alternate=True)
    assert alarms
    for alarm in alarms:
        key = _series(alarm.inputs["namespace"], alarm.inputs["metricName"], alarm.inputs["dimensions"])
        assert periods[key] == (alarm.inputs["period"], {"stat": alarm.inputs["statistic"]}), key


def test_no_email_subscription_without_an_address(run):
    assert run_where(run.stack, {"tca:alarmEmail": ""}).of_type(SUBSCRIPTION) == []


def test_email_subscription_when_an_address_is_configured():
    run = shared_run("dev", DEV_ALL_ON)
    assert DEV_ALL_ON["tca:alarmEmail"] == "ops@example.com"
    sub = run.one(SUBSCRIPTION).inputs
    assert sub == {"topic": run.one(TOPIC).outputs["arn"], "protocol": "email", "endpoint": "ops@example.com"}


def test_dashboard_graphs_every_alarmed_metric_with_the_same_dimensions(run):
    body = json.loads(run.one(DASHBOARD).inputs["dashboardBody"])
    graphed = []
    for widget in body["widgets"]:
        metric = widget["properties"]["metrics"][0]
        # The web ACL's graph and the event rules' graphs, checked in test_edge and test_credential_alarms.
        if metric[0] in ("AWS/WAFV2", "AWS/Events"):
            continue
        dims = dict(zip(metric[2:-1:2], metric[3:-1:2], strict=True))
        graphed.append(_series(metric[0], metric[1], dims))
        assert widget["properties"]["region"] == run.region
    alarmed = [_series(a.inputs["namespace"], a.inputs["metricName"], a.inputs["dimensions"])
               for a in _alarms(run) + _alarms(run, alternate=True)]
    assert sorted(graphed) == sorted(alarmed)


def test_dashboard_url_output_opens_this_stacks_dashboard(run):
    name = run.one(DASHBOARD).inputs["dashboardName"]
    assert name == f"tca-{run.stack}-overview"
    assert run.outputs["dashboardUrl"] == (
        f"https://{run.region}.console.aws.amazon.com/cloudwatch/home?region={run.region}"
        f"#dashboards:name={name}")
    assert run.outputs["alarmTopicArn"] == run.one(TOPIC).outputs["arn"]


def test_monitoring_children_belong_to_the_monitoring_component(run):
    parent = run.one("tca:infra:Monitoring").urn
    for r in _alarms(run) + run.of_type(DASHBOARD):
        assert r.parent == parent, r.name
    assert run.one(TOPIC).parent == run.one("tca:infra:AlarmTopic").urn


def test_dashboard_graphs_the_web_acls_verdicts_exactly_when_waf_is_on(run, settings):
    body = json.loads(run.one(DASHBOARD).inputs["dashboardBody"])
    waf = [w for w in body["widgets"] if w["properties"]["metrics"][0][0] == "AWS/WAFV2"]
    if not settings["tca:waf"]:
        assert waf == []
        return
    (widget,) = waf
    acl = run.one("aws:wafv2/webAcl:WebAcl").inputs["visibilityConfig"]["metricName"]
    dims = ["WebACL", acl, "Region", run.region, "Rule", "ALL"]
    assert widget["properties"]["metrics"] == [["AWS/WAFV2", m, *dims, {"stat": "Sum"}]
                                               for m in ("AllowedRequests", "BlockedRequests", "CountedRequests")]


def test_canary_stacks_repeat_the_target_group_alarms_on_the_alternate_group(run, settings):
    alternate = _alarms(run, alternate=True)
    if settings["tca:deploymentStrategy"] != "CANARY":
        assert alternate == []
        return
    alt_suffix = run.one("aws:lb/targetGroup:TargetGroup").outputs["arnSuffix"]
    primary = {a.name + "-alt": a.inputs for a in _alarms(run) if "TargetGroup" in a.inputs["dimensions"]}
    assert sorted(primary) == sorted(a.name for a in alternate)
    assert {a.inputs["metricName"] for a in alternate} == {
        "HTTPCode_Target_5XX_Count", "UnHealthyHostCount", "TargetResponseTime"}
    for alarm in alternate:
        twin = primary[alarm.name]
        assert alarm.inputs["dimensions"] == {**twin["dimensions"], "TargetGroup": alt_suffix}
        assert alarm.inputs["threshold"] == twin["threshold"]
        assert alarm.inputs["alarmActions"] == twin["alarmActions"]


def test_operational_alarms_judge_five_minute_periods_and_the_proxy_clients_one_minute(prod):
    # The stack file's count thresholds are "in 5 minutes" (README configuration table), and the dashboard
    # graphs each alarm at its period. The proxy's client count is summed over its nodes, each publishing once
    # a minute, so only a one-minute period gives the proxy's count rather than a multiple of it.
    alarms = _alarms(prod) + _alarms(prod, alternate=True)
    assert alarms
    for alarm in alarms:
        expected = 60 if alarm.inputs["metricName"] == "ClientConnections" else 300
        assert alarm.inputs["period"] == expected, alarm.name


def test_five_xx_counts_are_one_period_so_the_threshold_means_in_five_minutes(run):
    for metric in ("HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"):
        alarm = _alarm(run, metric)
        assert (alarm["period"], alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (300, 1, 1), metric

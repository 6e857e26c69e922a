"""AlarmTopic: the one topic every alarm notifies, built before the service and moved without replacement."""

from __future__ import annotations

import re

from tests.conftest import DEV_ALL_ON, shared_run

TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"


def test_topic_is_its_own_component_and_still_the_alarm_topic_output(run):
    # The deployment alarms the service waits for notify it (tests/test_release.py), so it cannot live
    # in Monitoring, which is built after the service.
    assert run.one(TOPIC).parent == run.one("tca:infra:AlarmTopic").urn
    assert run.outputs["alarmTopicArn"] == run.one(TOPIC).outputs["arn"]


def test_topic_keeps_its_identity_from_when_monitoring_owned_it(run):
    old_parent = f"urn:pulumi:{run.stack}::tca::tca:infra:Monitoring::tca-{run.stack}"
    assert run.one(TOPIC).aliases == [{"spec": {"parentUrn": old_parent}}]


def test_email_subscription_keeps_its_identity_too():
    run = shared_run("dev", DEV_ALL_ON)  # with an alarm email
    old_parent = "urn:pulumi:dev::tca::tca:infra:Monitoring::tca-dev"
    assert run.one(SUBSCRIPTION).aliases == [{"spec": {"parentUrn": old_parent}}]
    assert run.one(SUBSCRIPTION).parent == run.one("tca:infra:AlarmTopic").urn


def test_every_alarm_of_the_stack_notifies_the_topic_when_it_fires_and_when_it_clears(run):
    topic = run.one("aws:sns/topic:Topic").outputs["arn"]
    alarms = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarms
    for alarm in alarms:
        assert (alarm.inputs["alarmActions"], alarm.inputs["okActions"]) == ([topic], [topic]), alarm.name


GT, LT = "GreaterThanThreshold", "LessThanThreshold"
DEPLOYMENT = "<deployment>"
# Each alarmed metric: the statistic that makes its value mean something, and which side of the threshold is bad.
# A count of events is only meaningful summed (AWS, ALB metrics: "Statistics: The most useful statistic is Sum.
# Note that Minimum, Maximum, and Average all return 1."), so an Average of one would never cross a threshold
# above 1. Gauges take an Average, or the extreme that is bad (the most unhealthy targets, the least free space).
METRIC_STATISTICS = {
    # ALB: "The most useful statistic is Sum. Note that Minimum, Maximum, and Average all return 1."
    ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"): ("Sum", GT),
    ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"): ("Sum", GT),
    # ALB: "The most useful statistics are Average, Minimum, and Maximum."; the most unhealthy moment counts.
    ("AWS/ApplicationELB", "UnHealthyHostCount"): ("Maximum", GT),
    # ALB: "The most useful statistics are Average and pNN.NN."
    ("AWS/ApplicationELB", "TargetResponseTime"): ("Average", GT),
    # ECS service utilization is a percentage per task set; a sustained average is the load.
    ("AWS/ECS", "CPUUtilization"): ("Average", GT),
    ("AWS/ECS", "MemoryUtilization"): ("Average", GT),
    # Fewer tasks than the floor at any point in the period.
    ("ECS/ContainerInsights", "RunningTaskCount"): ("Minimum", LT),
    ("AWS/RDS", "CPUUtilization"): ("Average", GT),
    ("AWS/RDS", "FreeStorageSpace"): ("Minimum", LT),
    ("AWS/RDS", "DatabaseConnections"): ("Maximum", GT),
    ("AWS/RDS", "FreeableMemory"): ("Minimum", LT),
    # RDS Proxy publishes per proxy node; "The most useful statistic for this metric is Sum."
    ("AWS/RDS", "ClientConnections"): ("Sum", GT),
    # A latency, like TargetResponseTime: the average wait for a pooled connection.
    ("AWS/RDS", "DatabaseConnectionsBorrowLatency"): ("Average", GT),
    # WAF counts requests; only their Sum is the number blocked in the period.
    ("AWS/WAFV2", "BlockedRequests"): ("Sum", GT),
    # RDS Proxy, like ClientConnections: "The most useful statistic for this metric is Sum."
    ("AWS/RDS", "ClientConnectionsSetupFailedAuth"): ("Sum", GT),
    # Lambda: "Errors ... The number of invocations that result in a function error"; counts are summed.
    ("AWS/Lambda", "Errors"): ("Sum", GT),
    # EventBridge Scheduler counts each failed call of the target.
    ("AWS/Scheduler", "TargetErrorCount"): ("Sum", GT),
    # The metric filter on PostgreSQL's log adds 1 per "password authentication failed" line.
    (f"{DEPLOYMENT}/Database", "FailedLogins"): ("Sum", GT),
}


def _table_key(namespace: str, metric: str) -> tuple[str, str]:
    """A metric filter publishes into its deployment's own namespace (tca-<name>/...): one table entry for all."""
    return re.sub(r"^tca-[a-z0-9-]+/", f"{DEPLOYMENT}/", namespace), metric


def _series(alarm) -> list[tuple[str, str, str, float]]:
    """(namespace, metric, statistic, period) of every metric the alarm reads, in either alarm shape."""
    inputs = alarm.inputs
    if "metricQueries" in inputs:
        return [(q["metric"]["namespace"], q["metric"]["metricName"], q["metric"]["stat"], q["metric"]["period"])
                for q in inputs["metricQueries"] if "metric" in q]
    return [(inputs["namespace"], inputs["metricName"], inputs["statistic"], inputs["period"])]


def test_every_alarm_reads_its_metric_with_the_meaningful_statistic_and_fires_on_the_bad_side(run):
    alarms = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarms
    for alarm in alarms:
        for namespace, metric, statistic, _ in _series(alarm):
            expected = METRIC_STATISTICS[_table_key(namespace, metric)]
            assert (statistic, alarm.inputs["comparisonOperator"]) == expected, (alarm.name, metric)


def test_the_statistics_table_covers_exactly_the_metrics_the_stacks_alarm_on(dev, prod):
    # The committed stacks, and dev with every option on (proxy, WAF, canary), whatever the files say.
    runs = (dev, prod, shared_run("dev", DEV_ALL_ON))
    alarmed = {_table_key(ns, metric) for run in runs for alarm in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
               for ns, metric, _, _ in _series(alarm)}
    assert alarmed == set(METRIC_STATISTICS)


def test_every_alarm_period_is_whole_minutes(run):
    # AWS publishes these metrics at one-minute resolution at best; PutMetricAlarm: "Be sure to specify 10, 20,
    # or 30 only for metrics that are stored by a PutMetricData call with a StorageResolution of 1."
    for alarm in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        for *_, period in _series(alarm):
            assert period > 0 and period % 60 == 0, (alarm.name, period)

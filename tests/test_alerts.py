"""AlarmTopic: the one topic every alarm notifies, built before the service and moved without replacement."""

from __future__ import annotations

from tests.conftest import shared_run

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
    run = shared_run("dev", {"tca:alarmEmail": "ops@example.com"})
    old_parent = "urn:pulumi:dev::tca::tca:infra:Monitoring::tca-dev"
    assert run.one(SUBSCRIPTION).aliases == [{"spec": {"parentUrn": old_parent}}]
    assert run.one(SUBSCRIPTION).parent == run.one("tca:infra:AlarmTopic").urn


def test_every_alarm_of_the_stack_notifies_the_topic_when_it_fires_and_when_it_clears(run):
    topic = run.one("aws:sns/topic:Topic").outputs["arn"]
    alarms = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarms
    for alarm in alarms:
        assert (alarm.inputs["alarmActions"], alarm.inputs["okActions"]) == ([topic], [topic]), alarm.name

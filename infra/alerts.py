"""The SNS topic every alarm notifies, built first so that alarms created before the service can use it."""

from __future__ import annotations

from typing import TypedDict

import pulumi
import pulumi_aws as aws

from infra.config import MonitoringConfig, StackSettings
from infra.keys import Keys


class Notifications(TypedDict):
    alarm_actions: list[pulumi.Input[str]]
    ok_actions: list[pulumi.Input[str]]


def notify(topic_arn: pulumi.Input[str]) -> Notifications:
    """Every alarm of the stack tells the topic when it fires and when it clears, so on-call sees both."""
    return {"alarm_actions": [topic_arn], "ok_actions": [topic_arn]}


class AlarmTopic(pulumi.ComponentResource):
    topic: aws.sns.Topic

    def __init__(self, name: str, stack: StackSettings, cfg: MonitoringConfig,
                 *, keys: Keys, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:AlarmTopic", name, None, opts)

        # SNS.1: encrypted with the stack's key, whose policy lets CloudWatch alarms publish; the
        # AWS-managed SNS key would not (CloudWatch cannot use it).
        # Aliases keep the topic (and its confirmed subscriptions) from when Monitoring owned it.
        moved = pulumi.ResourceOptions(
            parent=self, aliases=[pulumi.Alias(parent=pulumi.create_urn(name, "tca:infra:Monitoring"))])
        self.topic = aws.sns.Topic(f"{name}-alarms", display_name=f"{stack.name_prefix} alarms",
                                   kms_master_key_id=keys.arn, opts=moved)
        if cfg.alarm_email:
            # AWS mails a confirmation link; nothing is delivered until it is followed.
            aws.sns.TopicSubscription(
                f"{name}-alarm-email", topic=self.topic.arn, protocol="email", endpoint=cfg.alarm_email,
                opts=moved)
        self.register_outputs({"topicArn": self.topic.arn})

"""The SNS topic every alarm notifies, built first so that alarms created before the service can use it."""

from __future__ import annotations

import json
from typing import Any, TypedDict

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


# What SNS's default topic policy lets the topic's own account do, kept as it is (CloudWatch alarms publish under it).
_DEFAULT_TOPIC_ACTIONS = ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                          "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic",
                          "SNS:Publish"]


def topic_policy(topic_arn: str, name_prefix: str, region: str, account: str) -> dict[str, Any]:
    """SNS's default policy, plus EventBridge publishing for this stack's rules only (infra/credential_alarms.py)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountUsesTheTopic",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": _DEFAULT_TOPIC_ACTIONS,
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
            },
            {
                # The rules are auto-named after the stack; EventBridge sends the rule's ARN as aws:SourceArn.
                "Sid": "ThisStacksEventRulesPublish",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": account},
                              "ArnLike": {"aws:SourceArn": f"arn:aws:events:{region}:{account}:rule/{name_prefix}-*"}},
            },
        ],
    }


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
        account = aws.get_caller_identity().account_id
        aws.sns.TopicPolicy(
            f"{name}-alarms", arn=self.topic.arn,
            policy=self.topic.arn.apply(
                lambda arn: json.dumps(topic_policy(arn, stack.name_prefix, stack.region, account))),
            opts=pulumi.ResourceOptions(parent=self))
        if cfg.alarm_email:
            # AWS mails a confirmation link; nothing is delivered until it is followed.
            aws.sns.TopicSubscription(
                f"{name}-alarm-email", topic=self.topic.arn, protocol="email", endpoint=cfg.alarm_email,
                opts=moved)
        self.register_outputs({"topicArn": self.topic.arn})

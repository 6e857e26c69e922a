"""The SNS topic every alarm notifies, built first so that alarms created before the service can use it."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.config import MonitoringConfig, StackSettings


class AlarmTopic(pulumi.ComponentResource):
    topic: aws.sns.Topic

    def __init__(self, name: str, stack: StackSettings, cfg: MonitoringConfig,
                 *, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:AlarmTopic", name, None, opts)

        # Not KMS-encrypted: CloudWatch cannot publish to a topic under the AWS-managed SNS key, and
        # alarm messages carry no secrets, so a customer-managed key would only add cost.
        # Aliases keep the topic (and its confirmed subscriptions) from when Monitoring owned it.
        moved = pulumi.ResourceOptions(
            parent=self, aliases=[pulumi.Alias(parent=pulumi.create_urn(name, "tca:infra:Monitoring"))])
        self.topic = aws.sns.Topic(f"{name}-alarms", display_name=f"{stack.name_prefix} alarms", opts=moved)
        if cfg.alarm_email:
            # AWS mails a confirmation link; nothing is delivered until it is followed.
            aws.sns.TopicSubscription(
                f"{name}-alarm-email", topic=self.topic.arn, protocol="email", endpoint=cfg.alarm_email,
                opts=moved)
        self.register_outputs({"topicArn": self.topic.arn})

"""The daily forced redeployment that keeps every task younger than the credential it logged in with.

With alternating users (infra/rotation.py) a task keeps the user and password it read when it started, and that
password stops working at the second rotation after it. EventBridge Scheduler calls ECS UpdateService with
ForceNewDeployment once a day, so every task is replaced, through the service's normal rollout and rollback
alarms, long before then (the rotation period rule, infra/config/rotation.py).
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra.iam import service_trust_policy

REDEPLOY_SCHEDULE = "rate(1 day)"
# EventBridge Scheduler's universal target: any AWS API action, called with `input` as its request parameters.
UPDATE_SERVICE_TARGET = "arn:aws:scheduler:::aws-sdk:ecs:updateService"
# A failed call (throttling, a service mid-update) is retried for an hour, then dropped and alarmed
# (infra/credential_alarms.py); the scheduler's defaults keep retrying for a day, 185 times.
RETRY_ATTEMPTS = 3
RETRY_MAX_AGE_SECONDS = 3600


def update_service_input(cluster: str, service: str) -> str:
    """UpdateService's request: a new deployment of the same task definition, which replaces every task."""
    return json.dumps({"Cluster": cluster, "Service": service, "ForceNewDeployment": True})


class ScheduledRedeploy(pulumi.ComponentResource):
    """A schedule group of its own (the scheduler's metrics are per group), the daily schedule and its role."""
    group: aws.scheduler.ScheduleGroup
    schedule: aws.scheduler.Schedule
    role: aws.iam.Role

    def __init__(self, name: str, *, region: str, cluster_name: pulumi.Input[str], service_name: pulumi.Input[str],
                 service_arn: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:ScheduledRedeploy", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity().account_id

        self.group = aws.scheduler.ScheduleGroup(f"{name}-group", opts=child)
        group_arn = pulumi.Output.concat(f"arn:aws:scheduler:{region}:{account}:schedule-group/", self.group.name)
        # Scheduler User Guide, "Cross-service confused deputy prevention": aws:SourceAccount, and aws:SourceArn
        # naming the schedule group (never a schedule).
        self.role = aws.iam.Role(
            f"{name}-role",
            description="Lets EventBridge Scheduler start the service's daily forced deployment",
            assume_role_policy=group_arn.apply(lambda arn: service_trust_policy(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": account, "aws:SourceArn": arn}})),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-update-service",
            role=self.role.id,
            policy=pulumi.Output.from_input(service_arn).apply(lambda arn: json.dumps({
                "Version": "2012-10-17",
                # ForceNewDeployment passes no role, so UpdateService on this one service is all it needs.
                "Statement": [{"Effect": "Allow", "Action": "ecs:UpdateService", "Resource": arn}],
            })),
            opts=child,
        )
        self.schedule = aws.scheduler.Schedule(
            f"{name}-daily",
            description="Replaces every task of the service once a day (database credential rotation)",
            group_name=self.group.name,
            schedule_expression=REDEPLOY_SCHEDULE,
            # At the schedule's time, not anywhere in a window: the rotation period rule counts a day.
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=UPDATE_SERVICE_TARGET,
                role_arn=self.role.arn,
                input=pulumi.Output.all(cluster_name, service_name).apply(
                    lambda names: update_service_input(names[0], names[1])),
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_retry_attempts=RETRY_ATTEMPTS, maximum_event_age_in_seconds=RETRY_MAX_AGE_SECONDS),
            ),
            # The role holds its permission before the first run.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.register_outputs({"scheduleArn": self.schedule.arn})

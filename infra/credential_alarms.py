"""Watching the database credentials: rotations that fail, forced deployments that fail, logins that fail.

Two kinds of signal reach the stack's topic:
- metric alarms, listed by `credential_alarm_specs` and created with the stack's other alarms (infra/monitoring.py):
  the rotation function's errors, the daily redeployment's target errors, RDS Proxy's failed client logins, and
  PostgreSQL's "password authentication failed" lines counted by a metric filter on the instance's log;
- events EventBridge sends to the topic as they happen: Secrets Manager's RotationFailed for the app and master
  secrets (delivered only while a CloudTrail trail logs the account's management events: docs/operations.md) and
  ECS's SERVICE_DEPLOYMENT_FAILED for this service. The dashboard graphs how often each rule matched.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from infra.config import StackSettings
from infra.monitoring import AlarmSpec
from infra.refs import DatabaseRefs

# The phrase PostgreSQL logs for a wrong password ("FATAL:  password authentication failed for user ...").
FAILED_LOGIN_PATTERN = '"password authentication failed"'
FAILED_LOGIN_METRIC = "FailedLogins"
# Each rotation logs one or two: its new password is tried (with and without TLS) before it is set. More than
# twice that in five minutes is a client with a wrong password.
FAILED_LOGIN_THRESHOLD = 4
GT = "GreaterThanThreshold"


def failed_login_namespace(stack: StackSettings) -> str:
    """A namespace per deployment: a metric filter's metric carries no dimensions here."""
    return f"{stack.name_prefix}/Database"


def postgres_log_group_name(instance_identifier: pulumi.Input[str]) -> pulumi.Output[str]:
    # Where RDS exports the instance's postgresql log (the database layer creates the group first).
    return pulumi.Output.concat("/aws/rds/instance/", instance_identifier, "/postgresql")


def credential_alarm_specs(stack: StackSettings, db: DatabaseRefs, *, rotation_function: str | None,
                           schedule_group: pulumi.Input[str] | None) -> list[AlarmSpec]:
    """The metric alarms on credentials; `rotation_function` and `schedule_group` exist only where the app
    credential rotates (no RDS Proxy), the proxy's alarm only where there is a proxy."""
    specs = [
        AlarmSpec("db-failed-logins", "Database failed logins", failed_login_namespace(stack), FAILED_LOGIN_METRIC,
                  {}, "Sum", FAILED_LOGIN_THRESHOLD, GT),
    ]
    if rotation_function is not None:
        # Any failed step of a rotation raises in the function (Secrets Manager then retries it).
        specs.append(AlarmSpec("rotation-errors", "Credential rotation errors", "AWS/Lambda", "Errors",
                               {"FunctionName": rotation_function}, "Sum", 0, GT))
    if schedule_group is not None:
        # "Emitted when the target returns an exception": UpdateService refused (permissions, a missing service).
        specs.append(AlarmSpec("redeploy-errors", "Daily redeployment errors", "AWS/Scheduler", "TargetErrorCount",
                               {"ScheduleGroup": schedule_group}, "Sum", 0, GT))
    if db.proxy_name is not None:
        # A task logging in with a password the proxy's secret no longer holds.
        specs.append(AlarmSpec("proxy-failed-auth", "Proxy failed client logins", "AWS/RDS",
                               "ClientConnectionsSetupFailedAuth", {"ProxyName": db.proxy_name}, "Sum", 0, GT))
    return specs


def rotation_failed_pattern(secret_arns: Sequence[str]) -> str:
    """Secrets Manager's RotationFailed, which reaches EventBridge through CloudTrail, for these secrets only."""
    return json.dumps({
        "source": ["aws.secretsmanager"],
        "detail-type": ["AWS Service Event via CloudTrail"],
        "detail": {"eventSource": ["secretsmanager.amazonaws.com"], "eventName": ["RotationFailed"],
                   "additionalEventData": {"SecretId": list(secret_arns)}},
    })


def deployment_failed_pattern(service_arn: str) -> str:
    """ECS's event when a deployment of this service fails (its circuit breaker or rollback alarms stopped it)."""
    return json.dumps({
        "source": ["aws.ecs"],
        "detail-type": ["ECS Deployment State Change"],
        "resources": [service_arn],
        "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]},
    })


class CredentialAlarms(pulumi.ComponentResource):
    """The failed-login metric filter and the event rules that send failures to the stack's topic."""
    specs: list[AlarmSpec]
    # (what it reports, rule name): graphed on the dashboard.
    event_rules: list[tuple[str, pulumi.Output[str]]]

    def __init__(self, name: str, stack: StackSettings, db: DatabaseRefs, *, topic_arn: pulumi.Input[str],
                 service_arn: pulumi.Input[str], rotation_function: str | None,
                 schedule_group: pulumi.Input[str] | None, secret_arns: Sequence[pulumi.Input[str]],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:CredentialAlarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        aws.cloudwatch.LogMetricFilter(
            f"{name}-failed-logins",
            log_group_name=postgres_log_group_name(db.instance_identifier),
            pattern=FAILED_LOGIN_PATTERN,
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                name=FAILED_LOGIN_METRIC, namespace=failed_login_namespace(stack), value="1", unit="Count"),
            opts=child,
        )
        self.specs = credential_alarm_specs(stack, db, rotation_function=rotation_function,
                                            schedule_group=schedule_group)

        rotation_failed = pulumi.Output.all(*secret_arns).apply(rotation_failed_pattern)
        deployment_failed = pulumi.Output.from_input(service_arn).apply(deployment_failed_pattern)
        self.event_rules = []
        for key, description, pattern, message in (
            ("rotation-failed", "A database credential failed to rotate", rotation_failed,
             "Rotation of database secret <secret> failed at <time>. See docs/operations.md."),
            ("deployment-failed", "A deployment of the service failed", deployment_failed,
             "A deployment of <service> failed at <time>: <reason>. See docs/operations.md."),
        ):
            rule = aws.cloudwatch.EventRule(f"{name}-{key}", description=description, event_pattern=pattern,
                                            opts=child)
            aws.cloudwatch.EventTarget(f"{name}-{key}", rule=rule.name, arn=topic_arn,
                                       input_transformer=_readable(key, message), opts=child)
            self.event_rules.append((description, rule.name))
        self.register_outputs({})


_PATHS: dict[str, dict[str, str]] = {
    "rotation-failed": {"secret": "$.detail.additionalEventData.SecretId", "time": "$.time"},
    "deployment-failed": {"service": "$.resources[0]", "time": "$.time", "reason": "$.detail.reason"},
}


def _readable(key: str, message: str) -> aws.cloudwatch.EventTargetInputTransformerArgs:
    """One line an operator reads in the alarm mail, instead of the event's JSON."""
    # A template that is one quoted JSON string is delivered as plain text.
    return aws.cloudwatch.EventTargetInputTransformerArgs(input_paths=_PATHS[key], input_template=json.dumps(message))

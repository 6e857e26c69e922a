"""How a new revision reaches users: deployment alarms that roll it back, and ECS-native canary wiring.

Built inside the Service after the load balancer and before the ECS service, because the service
names these alarms and (with CANARY) this target group, rule and role in its own inputs.

AWS rules relied on, from the ECS developer guide:
- "Required resources for Amazon ECS canary deployments": the `ECS` deployment controller, the
  `CANARY` strategy with a canary percent and canary bake time, a load balancer, and optional
  CloudWatch alarms for automatic rollback.
- "Application Load Balancer resources for blue/green, linear, and canary deployments": a primary
  and an alternate target group of target type `ip` in the tasks' VPC, a production listener *rule*
  (an ALB listener ARN is refused: "Must be RuleArn for ALB"), and a role ECS assumes to rewrite that
  rule's weights ("Amazon ECS automatically updates the listener rules").
- API_DeploymentAlarms: alarms roll back only with the `ECS` controller; ECS fails the deployment when
  any named alarm enters ALARM during the deployment or its bake time, and rolls back to the last
  completed deployment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.alerts import notify
from infra.config import MAX_NAME_PREFIX, ReleaseConfig, StackSettings
from infra.iam import service_trust_policy

ONE_MINUTE = 60
# AWS's managed policy for the role ECS uses to modify listener rules and target groups
# (AmazonECSInfrastructureRolePolicyForLoadBalancers; not under service-role/).
ECS_LB_POLICY_ARN = "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
# After the /debug block rule (priority 1), which must keep answering 404 first.
PRODUCTION_RULE_PRIORITY = 10
ECS_SERVICE_TYPE = "aws:ecs/service:Service"
# pulumi-aws waits this long for an ECS service to become steady on create and update.
PROVIDER_WAIT_MINUTES = 20
# A rolling deployment (or a canary with short bakes) still gets half an hour to settle.
ROLLOUT_CHECK_MIN_MINUTES = 30

Transform = Callable[[pulumi.ResourceTransformArgs], "pulumi.ResourceTransformResult | None"]
# The only part of the production rule ECS rewrites: the two groups' weights, not which groups they are
# (a property path with `[*]`, as Pulumi's property paths allow).
PRODUCTION_RULE_IGNORED = ["actions[0].forward.targetGroups[*].weight"]


def ignore_service_changes(*paths: str) -> Transform:
    """A transform that makes the awsx service's aws.ecs.Service child ignore changes to `paths`.

    A transform, because ResourceOptions on the awsx component do not reach its children; the
    paths are the engine's camelCase property names.
    """
    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if args.type_ != ECS_SERVICE_TYPE:
            return None
        missing = [p for p in paths if p not in (args.opts.ignore_changes or [])]
        if not missing:
            return None
        # merge() appends list options, so this adds to whatever ignore_changes the child had.
        return pulumi.ResourceTransformResult(
            props=args.props,
            opts=pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(ignore_changes=missing)))
    return transform


# ECS swaps the primary and alternate target groups after every canary deployment and DescribeServices
# then reports the swapped pair. The provider reads that pair back and, on the next update with a
# `load_balancer` diff, sends the configured pair again, which points the next deployment at the
# group that is serving. So a canary service keeps the load balancers it was created with; a change
# to them is made by hand (docs/releases.md, "Canary deployments").
ignore_load_balancers = ignore_service_changes("loadBalancers")


def rollout_wait_minutes(cfg: ReleaseConfig) -> int:
    """How long the rollout check may wait for ECS to finish: a canary is done only after both bakes."""
    bakes = cfg.canary_bake_minutes + cfg.bake_minutes if cfg.canary else 0
    return max(ROLLOUT_CHECK_MIN_MINUTES, PROVIDER_WAIT_MINUTES + bakes)


def wait_through_bake_times(cfg: ReleaseConfig) -> Transform | None:
    """Give `pulumi up` time to see a canary through both bake times, or its result (and a rollback).

    The service is steady only once the old revision is gone, after the canary bake and the final
    bake, so those minutes come on top of the provider's 20-minute wait. A transform, because
    ResourceOptions on the awsx component do not reach its aws.ecs.Service child.
    """
    if not cfg.canary:
        return None
    minutes = f"{PROVIDER_WAIT_MINUTES + cfg.canary_bake_minutes + cfg.bake_minutes}m"

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if args.type_ != ECS_SERVICE_TYPE:
            return None
        timeouts = pulumi.CustomTimeouts(create=minutes, update=minutes)
        return pulumi.ResourceTransformResult(
            props=args.props,
            opts=pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(custom_timeouts=timeouts)))
    return transform


@dataclass(frozen=True)
class RollbackAlarm:
    key: str
    title: str
    metric: str
    statistic: str
    # How the per-target-group series combine: errors add up, slowness and unhealthy hosts take the worst.
    combine: str
    threshold: float
    periods: int


def rollback_alarms(cfg: ReleaseConfig) -> list[RollbackAlarm]:
    """One-minute alarms, so a bad canary is caught inside a few minutes of bake time."""
    return [
        # A count, not a rate: a canary gets a tenth of the traffic, so a rate over few requests swings
        # wildly, while "N errors in a minute" means the same thing at any traffic share.
        RollbackAlarm("target-5xx", "App 5XX responses", "HTTPCode_Target_5XX_Count", "Sum", "SUM",
                      cfg.rollback_5xx_count, 1),
        # TargetResponseTime is reported in seconds.
        RollbackAlarm("response-time", "Target response time (s)", "TargetResponseTime", "Average", "MAX",
                      cfg.rollback_response_time_ms / 1000, 2),
        RollbackAlarm("unhealthy-hosts", "Unhealthy targets", "UnHealthyHostCount", "Maximum", "MAX", 0, 2),
    ]


def rollback_alarm_name(prefix: str, key: str) -> str:
    """Fixed up front, so the service can name the alarms without depending on their outputs."""
    return f"{prefix}-rollback-{key}"


def metric_expression(combine: str, count: int) -> str:
    # FILL: a target group with no tasks reports nothing, which must not hide the other group's data.
    return f"{combine}([{', '.join(f'FILL(m{i}, 0)' for i in range(count))}])"


class Release(pulumi.ComponentResource):
    alarms: list[aws.cloudwatch.MetricAlarm]
    alarm_names: list[str]
    alternate_target_group: aws.lb.TargetGroup | None
    production_rule: aws.lb.ListenerRule | None
    infrastructure_role: aws.iam.Role | None
    # Every target group the service's tasks register in: the primary, and with CANARY the alternate.
    target_group_suffixes: list[pulumi.Input[str]]

    def __init__(self, name: str, stack: StackSettings, cfg: ReleaseConfig, *,
                 vpc_id: pulumi.Input[str],
                 target_group_settings: Mapping[str, Any],
                 primary_target_group_arn: pulumi.Input[str],
                 primary_target_group_suffix: pulumi.Input[str],
                 load_balancer_suffix: pulumi.Input[str],
                 listener_arn: pulumi.Input[str],
                 alarm_topic_arn: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:Release", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.cfg = cfg
        self._primary_arn = primary_target_group_arn
        self.alternate_target_group = None
        self.production_rule = None
        self.infrastructure_role = None
        self._role_policy: aws.iam.RolePolicyAttachment | None = None

        watched: list[pulumi.Input[str]] = [primary_target_group_suffix]
        if cfg.canary:
            self._canary_resources(name, stack, vpc_id=vpc_id, target_group_settings=target_group_settings,
                                   listener_arn=listener_arn, child=child)
            assert self.alternate_target_group is not None
            # ECS swaps the two groups' roles on every deployment: the new revision registers in
            # whichever group is not serving, which is the alternate one only on every other release.
            # So the alarms watch both groups. The old revision's errors count too, which can only
            # cause a rollback to that same old revision: a false alarm costs a retry, never an outage.
            watched.append(self.alternate_target_group.arn_suffix)
        self.target_group_suffixes = watched

        self.alarms = []
        self.alarm_names = []
        for spec in rollback_alarms(cfg):
            alarm_name = rollback_alarm_name(stack.name_prefix, spec.key)
            self.alarm_names.append(alarm_name)
            self.alarms.append(aws.cloudwatch.MetricAlarm(
                f"{name}-rollback-{spec.key}",
                name=alarm_name,
                alarm_description=(f"{stack.name_prefix}: rolls a deployment back when {spec.title} "
                                   f"> {spec.threshold:g} (ECS deployment alarm)"),
                metric_queries=self._queries(spec, load_balancer_suffix, watched),
                evaluation_periods=spec.periods,
                datapoints_to_alarm=spec.periods,
                threshold=spec.threshold,
                comparison_operator="GreaterThanThreshold",
                # No traffic or no tasks in a group is not a failed release.
                treat_missing_data="notBreaching",
                **notify(alarm_topic_arn),
                opts=child,
            ))
        self.register_outputs({"alarmNames": self.alarm_names})

    @staticmethod
    def _queries(spec: RollbackAlarm, lb_suffix: pulumi.Input[str],
                 target_groups: Sequence[pulumi.Input[str]]) -> list[aws.cloudwatch.MetricAlarmMetricQueryArgs]:
        queries = [aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id=f"m{i}",
            return_data=False,
            metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                namespace="AWS/ApplicationELB",
                metric_name=spec.metric,
                dimensions={"LoadBalancer": lb_suffix, "TargetGroup": tg},
                stat=spec.statistic,
                period=ONE_MINUTE,
            ),
        ) for i, tg in enumerate(target_groups)]
        queries.append(aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id="release", label=spec.title, return_data=True,
            expression=metric_expression(spec.combine, len(target_groups))))
        return queries

    def _canary_resources(self, name: str, stack: StackSettings, *, vpc_id: pulumi.Input[str],
                          target_group_settings: Mapping[str, Any], listener_arn: pulumi.Input[str],
                          child: pulumi.ResourceOptions) -> None:
        # Same port, protocol, target type and health check as the primary group. AWS caps target
        # group names at 32 characters and auto-naming adds 8, so the logical name stays within 24.
        alternate = aws.lb.TargetGroup(
            f"{stack.name_prefix[:MAX_NAME_PREFIX - 4]}-alt",
            vpc_id=vpc_id,
            **target_group_settings,
            opts=child,
        )
        self.alternate_target_group = alternate
        # The production listener rule: every path the /debug rule has not already answered, weighted
        # between the two groups. ECS rewrites the weights on each deployment (and the primary may end
        # up at 0), so Pulumi must not put them back; it still updates the rule when a group itself is
        # replaced (a new appPort replaces both: ModifyTargetGroup cannot change a port).
        self.production_rule = aws.lb.ListenerRule(
            f"{name}-production",
            listener_arn=listener_arn,
            priority=PRODUCTION_RULE_PRIORITY,
            conditions=[aws.lb.ListenerRuleConditionArgs(
                path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=["/*"]))],
            actions=[aws.lb.ListenerRuleActionArgs(
                type="forward",
                forward=aws.lb.ListenerRuleActionForwardArgs(target_groups=[
                    aws.lb.ListenerRuleActionForwardTargetGroupArgs(arn=self._primary_arn, weight=100),
                    aws.lb.ListenerRuleActionForwardTargetGroupArgs(arn=alternate.arn, weight=0),
                ]))],
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=PRODUCTION_RULE_IGNORED),
        )
        # The role ECS assumes to shift traffic: trusted by ECS only, with AWS's managed policy for
        # exactly this job ("Amazon ECS infrastructure IAM role for load balancers").
        self.infrastructure_role = aws.iam.Role(
            f"{name}-ecs-lb",
            description="Lets ECS shift traffic between the service's target groups during a canary",
            assume_role_policy=service_trust_policy(
                "ecs.amazonaws.com", sid="AllowAccessToECSForInfrastructureManagement"),
            opts=child,
        )
        self._role_policy = aws.iam.RolePolicyAttachment(
            f"{name}-ecs-lb-managed",
            role=self.infrastructure_role.name,
            policy_arn=ECS_LB_POLICY_ARN,
            opts=child,
        )

    def service_args(self, container_name: str, container_port: int) -> dict[str, Any]:
        """The awsx FargateService inputs for this strategy; awsx passes them to aws.ecs.Service as is."""
        args: dict[str, Any] = dict(
            # Deployment alarms need the ECS controller (API_DeploymentAlarms); it is ECS's default too.
            deployment_controller=aws.ecs.ServiceDeploymentControllerArgs(type="ECS"),
            alarms=aws.ecs.ServiceAlarmsArgs(alarm_names=self.alarm_names, enable=True, rollback=True),
        )
        if not self.cfg.canary:
            args["deployment_configuration"] = aws.ecs.ServiceDeploymentConfigurationArgs(strategy="ROLLING")
            return args
        assert self.alternate_target_group and self.production_rule and self.infrastructure_role
        args["deployment_configuration"] = aws.ecs.ServiceDeploymentConfigurationArgs(
            strategy="CANARY",
            # pulumi-aws types both bake times as strings and the percent as a number.
            canary_configuration=aws.ecs.ServiceDeploymentConfigurationCanaryConfigurationArgs(
                canary_percent=self.cfg.canary_percent,
                canary_bake_time_in_minutes=str(self.cfg.canary_bake_minutes),
            ),
            bake_time_in_minutes=str(self.cfg.bake_minutes),
        )
        # A service-level list replaces the one awsx derives from the port mapping (no merge), so it
        # names the primary group again, with the alternate group, rule and role ECS needs.
        args["load_balancers"] = [aws.ecs.ServiceLoadBalancerArgs(
            container_name=container_name,
            container_port=container_port,
            target_group_arn=self._primary_arn,
            advanced_configuration=aws.ecs.ServiceLoadBalancerAdvancedConfigurationArgs(
                alternate_target_group_arn=self.alternate_target_group.arn,
                production_listener_rule=self.production_rule.arn,
                role_arn=self.infrastructure_role.arn,
            ),
        )]
        return args

    @property
    def service_transforms(self) -> list[Transform]:
        wait = wait_through_bake_times(self.cfg)
        if wait is None:
            return []
        return [ignore_load_balancers, wait]

    @property
    def service_depends_on(self) -> list[pulumi.Resource]:
        """The alarms must exist before ECS names them; the role must hold its policy before a deploy."""
        extra: list[pulumi.Resource] = [r for r in (self.production_rule, self._role_policy) if r is not None]
        return [*self.alarms, *extra]

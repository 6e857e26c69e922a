"""ECS cluster, load balancer and the Fargate service that runs `serve` against RDS."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from infra.cluster import insights_cluster
from infra.config import ReleaseConfig, ServiceConfig, StackSettings
from infra.container import CONTAINER_NAME, app_container, task_settings
from infra.iam import service_trust_policy
from infra.images import Images
from infra.keys import Keys, decrypt_secrets_statement
from infra.logs import stack_log_group
from infra.refs import DatabaseRefs, NetworkRefs
from infra.release import Release, ignore_service_changes, metric_expression
from infra.seed import Seed

HEALTHCHECK_PATH = "/healthcheck/"
EXECUTION_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
# /debug reveals database settings and makes the task call out to the internet.
BLOCKED_PATHS = ["/debug", "/debug/*"]
DEREGISTRATION_DELAY_SECONDS = 30
# The app's Go server sets no IdleTimeout, so it drops idle keep-alive connections after its 60 s
# ReadTimeout, the ALB's default idle timeout too: when both close at once, requests sent on the
# dying connection answer 502. AWS: "configure the idle timeout of your application to be larger
# than the idle timeout configured for the load balancer", so the load balancer closes first.
ALB_IDLE_TIMEOUT_SECONDS = 50
HEALTH_CHECK_GRACE_SECONDS = 60


# Keeps `pulumi up` from resetting the task count that autoscaling chose.
ignore_desired_count = ignore_service_changes("desiredCount")


# A TLS 1.3 policy that still admits TLS 1.2 clients; AWS's recommended default for HTTPS listeners.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def listener_args(certificate_arn: pulumi.Input[str] | None) -> dict[str, Any]:
    """HTTP only, or HTTPS on 443 with port 80 answering a permanent redirect to it."""
    if certificate_arn is None:
        return {"listener": awsx.lb.ListenerArgs(port=80, protocol="HTTP")}
    redirect = aws.lb.ListenerDefaultActionArgs(
        type="redirect",
        redirect=aws.lb.ListenerDefaultActionRedirectArgs(protocol="HTTPS", port="443", status_code="HTTP_301"),
    )
    return {"listeners": [
        awsx.lb.ListenerArgs(port=80, protocol="HTTP", default_actions=[redirect]),
        awsx.lb.ListenerArgs(port=443, protocol="HTTPS", certificate_arn=certificate_arn, ssl_policy=TLS_POLICY),
    ]}


def target_group_settings(port: int) -> dict[str, Any]:
    """One target group shape for awsx's default group and the canary's alternate group."""
    return dict(
        port=port,
        protocol="HTTP",
        target_type="ip",
        deregistration_delay=DEREGISTRATION_DELAY_SECONDS,
        # Status only: the body check that sees a dead database is the container's.
        health_check=aws.lb.TargetGroupHealthCheckArgs(
            path=HEALTHCHECK_PATH,
            protocol="HTTP",
            matcher="200",
            interval=15,
            timeout=5,
            healthy_threshold=2,
            unhealthy_threshold=3,
        ),
    )


def capacity_provider_strategies(spot: bool) -> list[aws.ecs.ServiceCapacityProviderStrategyArgs] | None:
    """All service tasks on Spot, or none given, so awsx keeps launch type FARGATE (on-demand).

    All Spot rather than an on-demand base: dev runs one task, and a base of one would leave
    nothing on Spot. A reclaim gives a two-minute warning (SIGTERM), ECS starts a replacement,
    and nothing is stored in a task.
    """
    if not spot:
        return None
    return [aws.ecs.ServiceCapacityProviderStrategyArgs(capacity_provider="FARGATE_SPOT", weight=1)]


def healthcheck_command(port: int) -> list[str]:
    """A container check on the body: the app answers 200 even when its database is down.

    No `wget -T`: Debian's busybox 1.35 crashes on it (found by the probe test); ECS's own
    health-check timeout bounds the call instead.
    """
    return ["CMD-SHELL",
            f"wget -q -O - http://127.0.0.1:{port}{HEALTHCHECK_PATH} | grep -qx OK || exit 1"]


_AS = aws.appautoscaling
_Query = _AS.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricArgs
_Stat = _AS.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatArgs
_Metric = _AS.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricArgs
_Dim = (
    _AS.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricDimensionArgs)
REQUESTS_PER_TASK = "IF(running > 0, requests / running, requests)"


def _metric(query_id: str, namespace: str, metric_name: str, stat: str,
            dimensions: dict[str, pulumi.Input[str]]) -> _Query:
    return _Query(id=query_id, return_data=False, metric_stat=_Stat(stat=stat, metric=_Metric(
        namespace=namespace, metric_name=metric_name,
        dimensions=[_Dim(name=k, value=v) for k, v in dimensions.items()])))


def requests_per_task_queries(load_balancer_suffix: pulumi.Input[str],
                              target_group_suffixes: list[pulumi.Input[str]], *,
                              cluster_name: pulumi.Input[str], service_name: pulumi.Input[str]) -> list[_Query]:
    """Requests per running task per minute, over every target group the tasks register in.

    ALBRequestCountPerTarget is keyed on one target group, and with CANARY the live traffic moves
    to the other group on every other release. Target tracking evaluates one-minute data points,
    so a one-minute Sum of RequestCount over an Average of RunningTaskCount (Container Insights) is
    the same "requests per task per minute" ALBRequestCountPerTarget measures. AWS's rules: only
    the final expression returns data, and the metric falls as capacity rises.
    """
    queries = [_metric(f"m{i}", "AWS/ApplicationELB", "RequestCount", "Sum",
                       {"LoadBalancer": load_balancer_suffix, "TargetGroup": tg})
               for i, tg in enumerate(target_group_suffixes)]
    queries.append(_metric("tasks", "ECS/ContainerInsights", "RunningTaskCount", "Average",
                           {"ClusterName": cluster_name, "ServiceName": service_name}))
    return [
        *queries,
        # A group without traffic reports no RequestCount at all: that is 0 requests, not a gap.
        _Query(id="requests", expression=metric_expression("SUM", len(target_group_suffixes)), return_data=False),
        # A late Container Insights point repeats the last count rather than leaving a hole.
        _Query(id="running", expression="FILL(tasks, REPEAT)", return_data=False),
        # No running task: count every request against one task, so the policy scales out.
        _Query(id="per_task", expression=REQUESTS_PER_TASK, label="Requests per running task per minute",
               return_data=True),
    ]


class Service(pulumi.ComponentResource):
    url: pulumi.Output[str]
    cluster: aws.ecs.Cluster
    insights_log_group: aws.cloudwatch.LogGroup
    log_group: aws.cloudwatch.LogGroup
    execution_role: aws.iam.Role
    alb: awsx.lb.ApplicationLoadBalancer
    fargate: awsx.ecs.FargateService
    seed: Seed

    def __init__(self, name: str, stack: StackSettings, cfg: ServiceConfig, network: NetworkRefs, db: DatabaseRefs, *,
                 images: Images, keys: Keys,
                 release: ReleaseConfig,
                 alarm_topic_arn: pulumi.Input[str],
                 certificate_arn: pulumi.Input[str] | None = None,
                 access_logs: aws.lb.LoadBalancerAccessLogsArgs | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:Service", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Named `tca-<stack>-cluster-<8 hex>`: at most 41 characters.
        self.cluster, self.insights_log_group = insights_cluster(
            f"{name}-cluster", f"{stack.name_prefix}-cluster", stack, keys.arn, self,
            log_group_resource=f"{name}-insights-logs")
        # The cluster offers both; the service picks per tca:fargateSpot, and the seed always asks
        # for launch type FARGATE (on-demand), so a Spot reclaim never interrupts a seed.
        capacity = aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity",
            cluster_name=self.cluster.name,
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
            opts=child,
        )

        self.log_group = stack_log_group(f"{name}-logs", stack, keys.arn, self)

        self.execution_role = aws.iam.Role(
            f"{name}-exec",
            description="Pulls the image, writes logs and reads the database password",
            assume_role_policy=service_trust_policy("ecs-tasks.amazonaws.com"),
            opts=child,
        )
        managed = aws.iam.RolePolicyAttachment(
            f"{name}-exec-managed",
            role=self.execution_role.name,
            policy_arn=EXECUTION_POLICY_ARN,
            opts=child,
        )
        read_secret = aws.iam.RolePolicy(
            f"{name}-exec-secret",
            role=self.execution_role.id,
            policy=pulumi.Output.all(db.secret_arn, db.key_arn).apply(lambda arns: json.dumps({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": arns[0],
                }, decrypt_secrets_statement(arns[1], stack.region)],
            })),
            opts=child,
        )

        # Through the ECR pull-through cache, the first pull of an image creates its repository and
        # imports it; the seed and the service both need that before they start.
        pull_grants: list[pulumi.Resource] = []
        if images.pull_policy is not None:
            pull_grants.append(aws.iam.RolePolicy(
                f"{name}-exec-pull-cache",
                role=self.execution_role.id,
                policy=images.pull_policy,
                opts=child,
            ))

        # The component's own name becomes the load balancer's and target group's AWS names, which
        # AWS caps at 32 characters; config keeps the prefix within 24 for Pulumi's suffix.
        self.alb = awsx.lb.ApplicationLoadBalancer(
            stack.name_prefix,
            subnet_ids=network.public_subnet_ids,
            # Without explicit groups awsx creates one open to every protocol from anywhere.
            security_groups=[network.lb_security_group_id],
            drop_invalid_header_fields=True,
            idle_timeout=ALB_IDLE_TIMEOUT_SECONDS,
            enable_deletion_protection=stack.deletion_protection,
            **listener_args(certificate_arn),
            access_logs=access_logs,
            default_target_group=awsx.lb.TargetGroupArgs(**target_group_settings(cfg.app_port)),
            opts=child,
        )
        # The rule belongs on the listener that forwards to the app; with HTTPS, port 80 only redirects.
        forwarding = 1 if certificate_arn is not None else 0
        # awsx always creates the listeners asked for, so the list is never empty.
        listener_arn = self.alb.listeners.apply(lambda listeners: listeners[forwarding].arn)  # type: ignore[index]
        aws.lb.ListenerRule(
            f"{name}-block-debug",
            listener_arn=listener_arn,
            priority=1,
            conditions=[aws.lb.ListenerRuleConditionArgs(
                path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=BLOCKED_PATHS))],
            actions=[aws.lb.ListenerRuleActionArgs(
                type="fixed-response",
                fixed_response=aws.lb.ListenerRuleActionFixedResponseArgs(
                    content_type="text/plain", message_body="Not Found", status_code="404"))],
            opts=child,
        )

        # The password stored and, with RDS Proxy, its target AVAILABLE, before the seed or any serving task starts.
        db_ready = list(db.ready)

        self.release = Release(
            name, stack, release,
            vpc_id=network.vpc_id,
            target_group_settings=target_group_settings(cfg.app_port),
            primary_target_group_arn=self.alb.default_target_group.arn,
            primary_target_group_suffix=self.alb.default_target_group.arn_suffix,
            load_balancer_suffix=self.alb.load_balancer.arn_suffix,
            listener_arn=listener_arn,
            alarm_topic_arn=alarm_topic_arn,
            opts=child,
        )

        self.seed = Seed(
            name, stack, cfg, network, db,
            cluster=self.cluster, log_group=self.log_group, execution_role=self.execution_role,
            image=images.app_image,
            wait_for=[*db_ready, managed, read_secret, *pull_grants],
            opts=child,
        )

        spot = capacity_provider_strategies(cfg.fargate_spot)
        self.fargate = awsx.ecs.FargateService(
            f"{name}-svc",
            # Through the capacity providers' ID: Spot must be offered by the cluster before the service asks.
            cluster=pulumi.Output.all(self.cluster.arn, capacity.id).apply(lambda values: values[0]),
            capacity_provider_strategies=spot,
            # The provider refuses any change of capacity provider strategy, either way (Spot on or off),
            # unless the new configuration forces a deployment ("force_new_deployment should be true when
            # capacity_provider_strategy is being updated"), so it is always on. It acts only on updates
            # the service gets anyway.
            force_new_deployment=True,
            desired_count=cfg.min_tasks,
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=network.private_subnet_ids,
                security_groups=[network.service_security_group_id],
                assign_public_ip=False,
            ),
            platform_version="LATEST",
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            # Kept for CANARY too: "Amazon ECS deployment failure detection" says the circuit breaker and
            # alarms "support rolling update deployment and blue/green deployment types", and canary is
            # ECS's blue/green family (API_DeploymentConfiguration still says rolling only: see docs/releases.md).
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
            health_check_grace_period_seconds=HEALTH_CHECK_GRACE_SECONDS,
            # Deployment alarms, controller and strategy (rolling, or canary with its target groups).
            **self.release.service_args(CONTAINER_NAME, cfg.app_port),
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            task_definition_args=awsx.ecs.FargateServiceTaskDefinitionArgs(
                container=app_container(
                    stack, cfg, db, self.log_group,
                    image=images.app_image,
                    # Only `serve`: `updatedb` in any form drops the tasks table; seeding is separate.
                    command=["serve"],
                    stream_prefix=CONTAINER_NAME,
                    port_mappings=[awsx.ecs.TaskDefinitionPortMappingArgs(
                        container_port=cfg.app_port,
                        host_port=cfg.app_port,
                        protocol="tcp",
                        target_group=self.alb.default_target_group,
                    )],
                    health_check=awsx.ecs.TaskDefinitionHealthCheckArgs(
                        command=healthcheck_command(cfg.app_port),
                        interval=15,
                        timeout=5,
                        retries=3,
                        start_period=30,
                    ),
                ),
                **task_settings(cfg, self.execution_role),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                transforms=[ignore_desired_count, *self.release.service_transforms],
                # Tasks must find the password, the role's permissions, a listener-attached target
                # group (ECS refuses a target group without a load balancer), a seeded table and,
                # with RDS Proxy, a proxy that can reach the database.
                depends_on=[*db_ready, managed, read_secret, self.alb, self.seed.seed, capacity,
                            *pull_grants, *self.release.service_depends_on],
            ),
        )

        service_name = self.fargate.service.name
        scaling = aws.appautoscaling.Target(
            f"{name}-scaling",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", self.cluster.name, "/", service_name),
            min_capacity=cfg.min_tasks,
            max_capacity=cfg.max_tasks,
            opts=child,
        )
        cpu = aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
            predefined_metric_type="ECSServiceAverageCPUUtilization")
        self._target_tracking(f"{name}-cpu", scaling, cfg.cpu_target_percent, predefined=cpu)
        # The app waits on its database, so CPU lags the load: requests per running task track it too,
        # for either strategy (the two policies scale out when either asks, in only when both agree).
        requests = aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationArgs(
            metrics=requests_per_task_queries(
                self.alb.load_balancer.arn_suffix, self.release.target_group_suffixes,
                cluster_name=self.cluster.name, service_name=service_name))
        self._target_tracking(f"{name}-requests", scaling, cfg.requests_per_target, customized=requests)

        self.url = pulumi.Output.concat("http://", self.alb.load_balancer.dns_name)
        self.cluster_name = self.cluster.name
        self.service_name = service_name
        self.min_tasks = cfg.min_tasks
        self.register_outputs({"url": self.url, "serviceName": service_name})

    def _target_tracking(
        self, name: str, target: aws.appautoscaling.Target, value: float, *,
        predefined: aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs
        | None = None,
        customized: aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationArgs
        | None = None,
    ) -> None:
        aws.appautoscaling.Policy(
            name,
            policy_type="TargetTrackingScaling",
            resource_id=target.resource_id,
            scalable_dimension=target.scalable_dimension,
            service_namespace=target.service_namespace,
            target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=value,
                predefined_metric_specification=predefined,
                customized_metric_specification=customized,
                # Scale out fast, scale in slowly so a burst does not flap the fleet.
                scale_out_cooldown=60,
                scale_in_cooldown=300,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

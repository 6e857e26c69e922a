"""Alarms that notify one SNS topic, and a dashboard of the same metrics."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.alerts import notify
from infra.config import MonitoringConfig, StackSettings
from infra.edge import waf_dimensions
from infra.refs import DatabaseRefs
from infra.service import Service

FIVE_MINUTES = 300
ONE_MINUTE = 60
MIB = 1024 * 1024
GIB = 1024 * MIB


@dataclass(frozen=True)
class AlarmSpec:
    key: str                   # suffix of the alarm's logical name
    title: str                 # what a human reads in the notification and on the dashboard
    namespace: str
    metric: str
    dimensions: Mapping[str, pulumi.Input[str]]
    statistic: str
    threshold: float
    comparison: str
    # Missing data means "no traffic" for counts (fine), but "no tasks" for the task count.
    missing: str = "notBreaching"
    periods: int = 1
    period: int = FIVE_MINUTES  # seconds per evaluated datapoint, on the alarm and its graph


def alarm_specs(cfg: MonitoringConfig, service: Service, db: DatabaseRefs) -> list[AlarmSpec]:
    a = cfg.alarms
    lb = {"LoadBalancer": service.alb.load_balancer.arn_suffix}
    tg = {**lb, "TargetGroup": service.alb.default_target_group.arn_suffix}
    ecs = {"ClusterName": service.cluster_name, "ServiceName": service.service_name}
    rds = {"DBInstanceIdentifier": db.instance_identifier}
    gt, lt = "GreaterThanThreshold", "LessThanThreshold"
    specs = [
        AlarmSpec("target-5xx", "App 5XX responses", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", tg,
                  "Sum", a.target_5xx_count, gt),
        AlarmSpec("alb-5xx", "Load balancer 5XX responses", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", lb,
                  "Sum", a.alb_5xx_count, gt),
        AlarmSpec("unhealthy-hosts", "Unhealthy targets", "AWS/ApplicationELB", "UnHealthyHostCount", tg,
                  "Maximum", 0, gt, periods=2),
        # TargetResponseTime is reported in seconds.
        AlarmSpec("response-time", "Target response time (s)", "AWS/ApplicationELB", "TargetResponseTime", tg,
                  "Average", a.response_time_ms / 1000, gt, periods=2),
        AlarmSpec("service-cpu", "Service CPU (%)", "AWS/ECS", "CPUUtilization", ecs,
                  "Average", a.service_cpu_percent, gt, periods=2),
        AlarmSpec("service-memory", "Service memory (%)", "AWS/ECS", "MemoryUtilization", ecs,
                  "Average", a.service_memory_percent, gt, periods=2),
        # Container Insights; fewer running tasks than the autoscaling floor means tasks are failing.
        AlarmSpec("running-tasks", "Running tasks", "ECS/ContainerInsights", "RunningTaskCount", ecs,
                  "Minimum", service.min_tasks, lt, missing="breaching", periods=2),
        AlarmSpec("db-cpu", "Database CPU (%)", "AWS/RDS", "CPUUtilization", rds,
                  "Average", a.db_cpu_percent, gt, periods=2),
        # RDS reports storage and memory in bytes.
        AlarmSpec("db-free-storage", "Database free storage (bytes)", "AWS/RDS", "FreeStorageSpace", rds,
                  "Minimum", a.db_free_storage_gib * GIB, lt),
        AlarmSpec("db-connections", "Database connections", "AWS/RDS", "DatabaseConnections", rds,
                  "Maximum", a.db_connections, gt, periods=2),
        AlarmSpec("db-free-memory", "Database freeable memory (bytes)", "AWS/RDS", "FreeableMemory", rds,
                  "Minimum", a.db_free_memory_mib * MIB, lt, periods=2),
    ]
    # With CANARY, ECS moves the live revision to the alternate target group on every other release,
    # so the per-group alarms are repeated for it; otherwise half the releases would go unwatched.
    if service.release.alternate_target_group is not None:
        alternate = {**lb, "TargetGroup": service.release.alternate_target_group.arn_suffix}
        specs += [
            dataclasses.replace(spec, key=f"{spec.key}-alt", title=f"{spec.title}, alternate group",
                                dimensions=alternate)
            for spec in specs if spec.dimensions is tg]
    if db.proxy_name is not None:
        proxy = {"ProxyName": db.proxy_name}
        specs += [
            # Each proxy node publishes its own count every minute, so Maximum sees one node; AWS:
            # "The most useful statistic for this metric is Sum" (over the metric's 1-minute period).
            AlarmSpec("proxy-clients", "Proxy client connections", "AWS/RDS", "ClientConnections", proxy,
                      "Sum", a.proxy_client_connections, gt, periods=2, period=ONE_MINUTE),
            # Borrow latency is reported in microseconds.
            AlarmSpec("proxy-borrow-latency", "Proxy borrow latency (us)", "AWS/RDS",
                      "DatabaseConnectionsBorrowLatency", proxy,
                      "Average", a.proxy_borrow_latency_ms * 1000, gt, periods=2),
        ]
    return specs


def _widget(i: int, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "metric", "x": (i % 3) * 8, "y": (i // 3) * 6, "width": 8, "height": 6, "properties": properties}


def dashboard_body(region: str, specs: list[AlarmSpec], resolved_dimensions: list[dict[str, str]],
                   waf_metric: str | None = None, event_rules: Sequence[tuple[str, str]] = ()) -> str:
    """One graph per alarmed metric, with the alarm's threshold drawn on it; plus WAF's verdicts; plus how often
    each (title, rule name) event rule that notifies the topic directly matched."""
    widgets = []
    for i, (spec, dims) in enumerate(zip(specs, resolved_dimensions, strict=True)):
        metric: list[Any] = [spec.namespace, spec.metric]
        for name, value in dims.items():
            metric += [name, value]
        widgets.append(_widget(i, {
            "title": spec.title,
            "region": region,
            "metrics": [[*metric, {"stat": spec.statistic}]],
            "period": spec.period,
            "view": "timeSeries",
            "annotations": {"horizontal": [{"label": "alarm", "value": spec.threshold}]},
        }))
    for title, rule in event_rules:
        widgets.append(_widget(len(widgets), {
            "title": title,
            "region": region,
            "metrics": [["AWS/Events", "TriggeredRules", "RuleName", rule, {"stat": "Sum"}]],
            "period": FIVE_MINUTES,
            "view": "timeSeries",
        }))
    if waf_metric is not None:
        waf_dims = [v for item in waf_dimensions(waf_metric, region).items() for v in item]
        widgets.append(_widget(len(widgets), {
            "title": "WAF requests (allowed, blocked, counted)",
            "region": region,
            "metrics": [["AWS/WAFV2", name, *waf_dims, {"stat": "Sum"}]
                        for name in ("AllowedRequests", "BlockedRequests", "CountedRequests")],
            "period": FIVE_MINUTES,
            "view": "timeSeries",
        }))
    return json.dumps({"widgets": widgets})


class Monitoring(pulumi.ComponentResource):
    topic: aws.sns.Topic
    dashboard_url: pulumi.Output[str]

    def __init__(self, name: str, stack: StackSettings, cfg: MonitoringConfig, service: Service, db: DatabaseRefs,
                 *, topic: aws.sns.Topic, waf_metric_name: str | None = None,
                 credential_specs: Sequence[AlarmSpec] = (),
                 event_rules: Sequence[tuple[str, pulumi.Input[str]]] = (),
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # The topic is built before the service (infra/alerts.py): deployment alarms notify it too.
        self.topic = topic
        # The credential alarms (infra/credential_alarms.py) share the table, the topic and the dashboard.
        specs = alarm_specs(cfg, service, db) + list(credential_specs)
        for spec in specs:
            aws.cloudwatch.MetricAlarm(
                f"{name}-{spec.key}",
                alarm_description=f"{stack.name_prefix}: {spec.title} {spec.comparison} {spec.threshold:g}",
                namespace=spec.namespace,
                metric_name=spec.metric,
                dimensions=spec.dimensions,
                statistic=spec.statistic,
                period=spec.period,
                evaluation_periods=spec.periods,
                datapoints_to_alarm=spec.periods,
                threshold=spec.threshold,
                comparison_operator=spec.comparison,
                treat_missing_data=spec.missing,
                **notify(self.topic.arn),
                opts=child,
            )

        # A metric without dimensions resolves to {} (Output.all() of nothing would be a list).
        resolved = pulumi.Output.all(*[pulumi.Output.all(**s.dimensions) if s.dimensions
                                       else pulumi.Output.from_input({}) for s in specs])
        titles = [title for title, _ in event_rules]
        rule_names = pulumi.Output.all(*[rule for _, rule in event_rules])
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            # Dashboard names allow letters, digits, "-" and "_" (up to 255); the stack prefix fits.
            dashboard_name=f"{stack.name_prefix}-overview",
            dashboard_body=pulumi.Output.all(resolved, rule_names).apply(
                lambda resolved_rules: dashboard_body(stack.region, specs, list(resolved_rules[0]), waf_metric_name,
                                                      list(zip(titles, resolved_rules[1], strict=True)))),
            opts=child,
        )
        self.dashboard_url = pulumi.Output.concat(
            f"https://{stack.region}.console.aws.amazon.com/cloudwatch/home?region={stack.region}#dashboards:name=",
            dashboard.dashboard_name)
        self.register_outputs({"topicArn": self.topic.arn, "dashboardUrl": self.dashboard_url})

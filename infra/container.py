"""The app's container and task settings, shared by the service and the one-off seed task.

One definition serves both so the seed always talks to the same database, with the same
credentials and logging, as the tasks that serve users.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from infra.config import ServiceConfig, StackSettings
from infra.refs import DatabaseRefs

CONTAINER_NAME = "app"
# Alpine's `nobody` (uid/gid 65534 in the image's /etc/passwd). The image's files are root-owned
# and world-readable, and the app opens no file for writing (traced with the real binary), so it
# needs neither root nor a writable root file system (Security Hub ECS.5).
APP_USER = "65534:65534"


def app_environment(cfg: ServiceConfig, db: DatabaseRefs) -> list[awsx.ecs.TaskDefinitionKeyValuePairArgs]:
    """Plain settings for the app; the login travels separately as ECS secrets."""
    values: dict[str, pulumi.Input[str]] = {
        # Left unset, the app silently uses an embedded BoltDB file inside each task.
        "VTT_DBTYPE": "postgres",
        # Left unset, the app binds to localhost and the load balancer can never reach it.
        "VTT_LISTENHOST": "0.0.0.0",  # noqa: S104 - inside the task's own network namespace
        "VTT_LISTENPORT": str(cfg.app_port),
        # The proxy endpoint when RDS Proxy is on, else the instance address (never host:port).
        "VTT_DBHOST": db.client_host,
        # A port read from another stack's outputs arrives as a float (5432.0), which lib/pq refuses.
        "VTT_DBPORT": pulumi.Output.from_input(db.port).apply(lambda port: str(int(port))),
        "VTT_DBNAME": db.name,
    }
    return [awsx.ecs.TaskDefinitionKeyValuePairArgs(name=k, value=v) for k, v in values.items()]


def app_secrets(db: DatabaseRefs) -> list[awsx.ecs.TaskDefinitionSecretArgs]:
    """The app's login, both halves from the app credential's current version (never the master's).

    The user name travels with the password: rotation alternates between two users, so a task must read the
    pair from one version. valueFrom "<secret-arn>:<json-key>::" picks one key of the JSON secret.
    """
    return [awsx.ecs.TaskDefinitionSecretArgs(name=env, value_from=pulumi.Output.concat(db.secret_arn, f":{key}::"))
            for env, key in (("VTT_DBUSER", "username"), ("VTT_DBPASSWORD", "password"))]


def app_container(
    stack: StackSettings,
    cfg: ServiceConfig,
    db: DatabaseRefs,
    log_group: aws.cloudwatch.LogGroup,
    *,
    image: pulumi.Input[str],
    command: Sequence[str],
    stream_prefix: str,
    port_mappings: list[awsx.ecs.TaskDefinitionPortMappingArgs] | None = None,
    health_check: awsx.ecs.TaskDefinitionHealthCheckArgs | None = None,
) -> awsx.ecs.TaskDefinitionContainerDefinitionArgs:
    return awsx.ecs.TaskDefinitionContainerDefinitionArgs(
        name=CONTAINER_NAME,
        # tca:appImage, or its pull-through cache reference (infra/images.py).
        image=image,
        command=list(command),
        essential=True,
        port_mappings=port_mappings,
        environment=app_environment(cfg, db),
        secrets=app_secrets(db),
        health_check=health_check,
        user=APP_USER,
        readonly_root_filesystem=True,
        # The app only listens on an unprivileged port and talks TCP: it needs no capability at all.
        linux_parameters=awsx.ecs.TaskDefinitionLinuxParametersArgs(
            capabilities=awsx.ecs.TaskDefinitionKernelCapabilitiesArgs(drop=["ALL"])),
        log_configuration=awsx.ecs.TaskDefinitionLogConfigurationArgs(
            log_driver="awslogs",
            options={
                "awslogs-group": log_group.name,
                "awslogs-region": stack.region,
                "awslogs-stream-prefix": stream_prefix,
            },
        ),
    )


def task_settings(cfg: ServiceConfig, execution_role: aws.iam.Role) -> dict[str, Any]:
    """Task-level arguments common to awsx's FargateService task and FargateTaskDefinition."""
    return dict(
        cpu=str(cfg.task_cpu),
        memory=str(cfg.task_memory),
        runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
            cpu_architecture="X86_64", operating_system_family="LINUX"),
        execution_role=awsx.awsx.DefaultRoleWithPolicyArgs(role_arn=execution_role.arn),
        # The app calls no AWS API, so its tasks get no role at all.
        task_role=awsx.awsx.DefaultRoleWithPolicyArgs(skip=True),
        # Our own log group, with retention, replaces awsx's keep-forever default.
        log_group=awsx.awsx.DefaultLogGroupArgs(skip=True),
    )

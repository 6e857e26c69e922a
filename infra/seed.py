"""Seeds a new database exactly once: a one-off task running `updatedb -s`, awaited by `pulumi up`.

`updatedb -s` drops and re-creates the tasks table, so it runs only when the seed resource is
created: for a new database, or when the operator raises tca:seedRevision. Never at task start.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi.dynamic
import pulumi_aws as aws
import pulumi_awsx as awsx

from infra.config import ServiceConfig, StackSettings
from infra.container import CONTAINER_NAME, app_container, task_settings
from infra.refs import DatabaseRefs, NetworkRefs
from infra.seed_provider import SeedProvider

SEED_COMMAND = ["updatedb", "-s"]
SEED_STREAM_PREFIX = "seed"


class DatabaseSeed(pulumi.dynamic.Resource, module="seed", name="DatabaseSeed"):
    task_arn: pulumi.Output[str]
    exit_code: pulumi.Output[int]

    def __init__(self, name: str, props: dict, opts: pulumi.ResourceOptions | None = None):
        super().__init__(SeedProvider(), name, {**props, "task_arn": None, "exit_code": None, "stopped_at": None},
                         opts)


def reseed_command(stack: str, revision: int) -> str:
    return (f"pulumi config set --stack {stack} tca:seedRevision {revision + 1} && pulumi up --stack {stack}"
            "  # WARNING: drops and re-creates the tasks table, erasing every task")


class Seed(pulumi.ComponentResource):
    task_definition: awsx.ecs.FargateTaskDefinition
    seed: DatabaseSeed

    def __init__(self, name: str, stack: StackSettings, cfg: ServiceConfig, network: NetworkRefs, db: DatabaseRefs, *,
                 cluster: aws.ecs.Cluster, log_group: aws.cloudwatch.LogGroup,
                 execution_role: aws.iam.Role, image: pulumi.Input[str], wait_for: Sequence[pulumi.Resource],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:Seed", name, None, opts)

        self.task_definition = awsx.ecs.FargateTaskDefinition(
            f"{name}-seed",
            container=app_container(stack, cfg, db, log_group, image=image, command=SEED_COMMAND,
                                    stream_prefix=SEED_STREAM_PREFIX),
            **task_settings(cfg, execution_role),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.seed = DatabaseSeed(
            f"{name}-seed-run",
            {
                "cluster": cluster.arn,
                "task_definition": self.task_definition.task_definition.apply(lambda td: td.arn),
                "subnets": network.private_subnet_ids,
                "security_groups": [network.service_security_group_id],
                "region": stack.region,
                "profile": stack.aws_profile,
                "container_name": CONTAINER_NAME,
                "log_group": log_group.name,
                "log_stream_prefix": SEED_STREAM_PREFIX,
                # DbiResourceId changes only when the instance is replaced: a new, empty database.
                "db_instance_id": db.resource_id,
                "seed_revision": cfg.seed_revision,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(wait_for)),
        )
        self.reseed_command = reseed_command(stack.stack, cfg.seed_revision)
        self.register_outputs({"task_arn": self.seed.task_arn})

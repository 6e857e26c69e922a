"""An ECS cluster created after the Container Insights log group it writes to, and deleted before it."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.config import StackSettings
from infra.logs import stack_log_group


def insights_cluster(name: str, physical_prefix: str, stack: StackSettings, key_arn: pulumi.Input[str],
                     parent: pulumi.Resource, *, log_group_resource: str) -> tuple[aws.ecs.Cluster,
                                                                                   aws.cloudwatch.LogGroup]:
    """A Container Insights cluster named `<physical_prefix>-<8 hex>`, and its performance log group.

    `name` and `log_group_resource` are the Pulumi names of the cluster and the group (the RandomId is
    `<name>-name`): a caller keeps them once resources exist, or Pulumi replaces them.

    Container Insights writes to /aws/ecs/containerinsights/<cluster>/performance and, if that group
    does not exist, creates it itself: off the stack key, with a retention the stack does not choose,
    and left behind by destroy. As with RDS's group (infra/database.py), the stack creates it first,
    with its key and retention. That needs the cluster's name before the cluster exists, so the name
    is the prefix plus a RandomId kept in state (ECS allows up to 255 letters, digits, hyphens and
    underscores). A prefix starting `tca-<stack>-` is what the key policy and the deployer's log-group
    scope admit.

    `name` is ignored on update. A new name replaces the cluster, and ECS cannot move a service to
    another cluster ("You can't change the cluster name", UpdateService), so a running service, its
    capacity providers and autoscaling target would all be replaced with it. A cluster created
    auto-named keeps its name and the group AWS made for it (docs/operations.md, "Tearing down").
    """
    suffix = random.RandomId(f"{name}-name", byte_length=4, opts=pulumi.ResourceOptions(parent=parent))
    cluster_name = pulumi.Output.concat(f"{physical_prefix}-", suffix.hex)
    log_group = stack_log_group(
        log_group_resource, stack, key_arn, parent,
        name=pulumi.Output.concat("/aws/ecs/containerinsights/", cluster_name, "/performance"))
    cluster = aws.ecs.Cluster(
        name,
        name=cluster_name,
        settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[log_group], ignore_changes=["name"]),
    )
    return cluster, log_group

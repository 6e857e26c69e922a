"""Settings every component shares: where the stack runs, how its resources are named, log retention."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from infra.config.reader import NAMESPACE, _Reader

# The load balancer's name is this prefix plus Pulumi's 8-character suffix, and AWS caps
# load balancer and target group names at 32 characters, so the prefix may use 24.
MAX_NAME_PREFIX = 24
# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)


@dataclass(frozen=True)
class StackSettings:
    """What every component needs: where it runs, how it is named, how long logs live, protection."""
    stack: str
    region: str
    aws_profile: str
    deletion_protection: bool
    log_retention_days: int
    # What names the resources: the stack's name, or (tca:deploymentName) the deployment this stack is a
    # layer of, so a layer keeps the names its resources had in a one-stack deployment.
    deployment: str = ""

    @property
    def name_prefix(self) -> str:
        return f"{NAMESPACE}-{self.deployment or self.stack}"

    @property
    def stack_prefix(self) -> str:
        """Unique per stack even where layers share a deployment name (the KMS alias)."""
        return f"{NAMESPACE}-{self.stack}"


_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d")


def _names_resources(name: str) -> bool:
    return bool(re.fullmatch(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?", name)) and "--" not in name \
        and len(f"{NAMESPACE}-{name}") <= MAX_NAME_PREFIX


def _stack_settings(r: _Reader, stack: str, region: str | None, profile: str, layer: str | None) -> dict[str, Any]:
    rule = (f"must be lowercase letters, digits and single hyphens, at most {MAX_NAME_PREFIX - len(NAMESPACE) - 1} "
            "characters, because it names the load balancer")
    if not _names_resources(stack):
        r.errors.append(f"stack name {stack!r}: {rule}")
    deployment = (r.raw("deploymentName") or "").strip()
    one_layer = layer is not None and layer != "all"
    if deployment and not _names_resources(deployment):
        r.fail("deploymentName", deployment, rule + ("" if one_layer else " (or empty: the stack's name)"))
        deployment = ""
    elif one_layer and not deployment:
        # Named after its own stack, a layer's roles would carry a boundary that admits only that stack's
        # secrets and keys, so the app could not read the database stack's secret.
        r.errors.append(
            f"tca:deploymentName is not set: the {layer} layer is one layer of a deployment, and the layers of one "
            "deployment share its name prefix (tca-<deploymentName>), its roles' permissions boundary and its "
            "deployer; set it to the same name in the network, database and app stacks")
    if not region or not _REGION.fullmatch(region):
        r.errors.append(f"aws:region = {region!r}: must be an AWS region such as ap-southeast-2")
    return dict(
        stack=stack,
        deployment=deployment,
        region=region,
        # The seed provider calls ECS with the deployer's credentials; empty means the default chain.
        aws_profile=profile,
        deletion_protection=r.boolean("deletionProtection"),
        log_retention_days=r.one_of("logRetentionDays", LOG_RETENTION_DAYS),
    )

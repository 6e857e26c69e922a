"""The seed step: runs the seed task once inside `pulumi up` and waits for its result.

One of the deploy-time steps built on `infra/deploy_step.py` (read its docstring). Pulumi's state
refers to `infra.seed_provider.SeedProvider` BY REFERENCE (module path and class name), and the
dynamic-provider host imports it from the project directory for every diff, update and destroy:
moving or renaming this module or the class breaks diff, update and destroy for every deployed stack.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pulumi.dynamic import CreateResult

from infra.deploy_step import (
    DEFAULT_DELAY_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DeployStepError,
    DeployStepProvider,
    aws_client,
)
from infra.task_run import run_task_to_completion

# The inputs whose change means "this database needs (re)seeding"; anything else (new image,
# new task size, new subnets) only updates the recorded inputs.
RESEED_KEYS = ("db_instance_id", "seed_revision")
# Waiting 10 minutes covers an image pull through NAT plus a table create several times over.
WAIT_DELAY_SECONDS = DEFAULT_DELAY_SECONDS
WAIT_MAX_ATTEMPTS = DEFAULT_MAX_ATTEMPTS


class SeedError(DeployStepError):
    """The seed did not finish with exit code 0; the message says where to look."""


def run_seed_task(ecs: Any, props: dict[str, Any],
                  delay: int = WAIT_DELAY_SECONDS, max_attempts: int = WAIT_MAX_ATTEMPTS) -> dict[str, Any]:
    """Start the seed task, wait until it stops, and raise SeedError unless it exited 0."""
    return run_task_to_completion(ecs, props, what="seed", started_by="pulumi-seed", error=SeedError,
                                  delay=delay, max_attempts=max_attempts)


def reseed_reasons(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    """Which inputs demand a new seed: a different database, or a raised seed revision."""
    reasons = []
    if olds.get("db_instance_id") != news.get("db_instance_id"):
        reasons.append("db_instance_id")
    try:
        raised = int(news["seed_revision"]) > int(olds["seed_revision"])
    except (KeyError, TypeError, ValueError):
        # An unknown value (during preview) or a missing old one: say it may re-seed.
        raised = olds.get("seed_revision") != news.get("seed_revision")
    if raised:
        reasons.append("seed_revision")
    return reasons


OUTPUT_KEYS = ("task_arn", "exit_code", "stopped_at")


class SeedProvider(DeployStepProvider):
    KEYS: ClassVar[tuple[str, ...]] = RESEED_KEYS
    OUTPUTS: ClassVar[tuple[str, ...]] = OUTPUT_KEYS

    def create(self, props: dict[str, Any]) -> CreateResult:
        # With RDS Proxy, the ProxyReady step (a dependency) has already seen the target AVAILABLE.
        result = run_seed_task(aws_client(props, "ecs"), props)
        return CreateResult(id_=result["task_arn"], outs={**props, **result})

    def replace_reasons(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        # Lowering seedRevision must not erase data; only a raise or a new database reseeds.
        return reseed_reasons(olds, news)

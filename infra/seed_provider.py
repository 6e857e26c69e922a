"""The seed step: runs the seed task once inside `pulumi up` and waits for its result.

One of the deploy-time steps built on `infra/deploy_step.py` (read its docstring). Pulumi's state
refers to `infra.seed_provider.SeedProvider` BY REFERENCE (module path and class name), and the
dynamic-provider host imports it from the project directory for every diff, update and destroy:
moving or renaming this module or the class breaks diff, update and destroy for every deployed stack.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

from pulumi.dynamic import CreateResult

from infra.deploy_step import (
    DEFAULT_DELAY_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DeployStepError,
    DeployStepProvider,
    aws_client,
)

# The inputs whose change means "this database needs (re)seeding"; anything else (new image,
# new task size, new subnets) only updates the recorded inputs.
RESEED_KEYS = ("db_instance_id", "seed_revision")
# Waiting 10 minutes covers an image pull through NAT plus a table create several times over.
WAIT_DELAY_SECONDS = DEFAULT_DELAY_SECONDS
WAIT_MAX_ATTEMPTS = DEFAULT_MAX_ATTEMPTS


class SeedError(DeployStepError):
    """The seed did not finish with exit code 0; the message says where to look."""


def _log_hint(props: dict[str, Any], task_arn: str) -> str:
    task_id = task_arn.rsplit("/", 1)[-1]
    stream = f"{props['log_stream_prefix']}/{props['container_name']}/{task_id}"
    return (f"Logs: group {props['log_group']}, stream {stream} "
            f"(aws logs get-log-events --region {props['region']} "
            f"--log-group-name {props['log_group']} --log-stream-name {stream})")


def run_seed_task(ecs: Any, props: dict[str, Any],
                  delay: int = WAIT_DELAY_SECONDS, max_attempts: int = WAIT_MAX_ATTEMPTS) -> dict[str, Any]:
    """Start the seed task, wait until it stops, and raise SeedError unless it exited 0."""
    from botocore.exceptions import WaiterError

    cluster = props["cluster"]
    started = ecs.run_task(
        cluster=cluster,
        taskDefinition=props["task_definition"],
        launchType="FARGATE",
        platformVersion="LATEST",
        count=1,
        startedBy="pulumi-seed",
        networkConfiguration={"awsvpcConfiguration": {
            "subnets": list(props["subnets"]),
            "securityGroups": list(props["security_groups"]),
            "assignPublicIp": "DISABLED",
        }},
    )
    failures = started.get("failures") or []
    if failures or not started.get("tasks"):
        detail = "; ".join(f"{f.get('arn', '?')}: {f.get('reason', '?')} {f.get('detail', '')}".strip()
                           for f in failures) or "no task and no failure reported"
        raise SeedError(f"ECS did not start the seed task in cluster {cluster}: {detail}")
    task_arn = started["tasks"][0]["taskArn"]

    try:
        ecs.get_waiter("tasks_stopped").wait(
            cluster=cluster, tasks=[task_arn],
            WaiterConfig={"Delay": delay, "MaxAttempts": max_attempts})
    except WaiterError as exc:
        # Stop it so a late seed cannot erase data written after this deployment gave up.
        # Best effort: the timeout is the error worth reporting.
        with contextlib.suppress(Exception):
            ecs.stop_task(cluster=cluster, task=task_arn, reason="pulumi up stopped waiting for the seed")
        raise SeedError(
            f"The seed task {task_arn} did not stop within {delay * max_attempts} s ({exc}); "
            f"it was asked to stop. {_log_hint(props, task_arn)}") from exc

    described = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])
    tasks = described.get("tasks") or []
    if not tasks:
        raise SeedError(f"ECS no longer describes the seed task {task_arn}: {described.get('failures')}. "
                        f"{_log_hint(props, task_arn)}")
    task = tasks[0]
    container: dict[str, Any] = next(
        (c for c in task.get("containers", []) if c.get("name") == props["container_name"]), {})
    exit_code: int | None = container.get("exitCode")
    stopped_reason = task.get("stoppedReason", "not given")
    if exit_code != 0:
        what = "never ran to completion (no exit code)" if exit_code is None else f"exited with code {exit_code}"
        reason = container.get("reason")
        raise SeedError(
            f"Seeding the database failed: container {props['container_name']} {what}"
            f"{f' ({reason})' if reason else ''}; task stopped: {stopped_reason}. "
            f"{_log_hint(props, task_arn)}")
    return {"task_arn": task_arn, "exit_code": 0, "stopped_at": str(task.get("stoppedAt", ""))}


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

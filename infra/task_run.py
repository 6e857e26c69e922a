"""Runs a one-off Fargate task to completion for a deploy-time step (the seed, the database bootstrap).

Called inside dynamic providers (infra/deploy_step.py) with the deployer's ECS client: start the task in the
given private subnets and groups, wait until it stops, and fail naming the exit code, ECS's reasons and the
task's log stream unless its container exited 0.
"""

from __future__ import annotations

import contextlib
from typing import Any

from infra.deploy_step import DEFAULT_DELAY_SECONDS, DEFAULT_MAX_ATTEMPTS, DeployStepError


def log_hint(props: dict[str, Any], task_arn: str) -> str:
    task_id = task_arn.rsplit("/", 1)[-1]
    stream = f"{props['log_stream_prefix']}/{props['container_name']}/{task_id}"
    return (f"Logs: group {props['log_group']}, stream {stream} "
            f"(aws logs get-log-events --region {props['region']} "
            f"--log-group-name {props['log_group']} --log-stream-name {stream})")


def run_task_to_completion(ecs: Any, props: dict[str, Any], *, what: str, started_by: str,
                           error: type[DeployStepError] = DeployStepError,
                           delay: int = DEFAULT_DELAY_SECONDS,
                           max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> dict[str, Any]:
    """Start the task, wait until it stops, and raise `error` unless its container exited 0.

    `what` names the task in messages ("seed", "database bootstrap"). Launch type FARGATE (on-demand), so a
    Spot reclaim never interrupts it.
    """
    from botocore.exceptions import WaiterError  # noqa: PLC0415 - only the provider host needs botocore

    cluster = props["cluster"]
    started = ecs.run_task(
        cluster=cluster,
        taskDefinition=props["task_definition"],
        launchType="FARGATE",
        platformVersion="LATEST",
        count=1,
        startedBy=started_by,
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
        raise error(f"ECS did not start the {what} task in cluster {cluster}: {detail}")
    task_arn = started["tasks"][0]["taskArn"]

    try:
        ecs.get_waiter("tasks_stopped").wait(
            cluster=cluster, tasks=[task_arn],
            WaiterConfig={"Delay": delay, "MaxAttempts": max_attempts})
    except WaiterError as exc:
        # Stop it so a late run cannot act after this deployment gave up (a late seed would erase data
        # written since). Best effort: the timeout is the error worth reporting.
        with contextlib.suppress(Exception):
            ecs.stop_task(cluster=cluster, task=task_arn, reason=f"pulumi up stopped waiting for the {what}")
        raise error(
            f"The {what} task {task_arn} did not stop within {delay * max_attempts} s ({exc}); "
            f"it was asked to stop. {log_hint(props, task_arn)}") from exc

    described = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])
    tasks = described.get("tasks") or []
    if not tasks:
        raise error(f"ECS no longer describes the {what} task {task_arn}: {described.get('failures')}. "
                    f"{log_hint(props, task_arn)}")
    task = tasks[0]
    container: dict[str, Any] = next(
        (c for c in task.get("containers", []) if c.get("name") == props["container_name"]), {})
    exit_code: int | None = container.get("exitCode")
    stopped_reason = task.get("stoppedReason", "not given")
    if exit_code != 0:
        outcome = "never ran to completion (no exit code)" if exit_code is None else f"exited with code {exit_code}"
        reason = container.get("reason")
        raise error(
            f"The {what} failed: container {props['container_name']} {outcome}"
            f"{f' ({reason})' if reason else ''}; task stopped: {stopped_reason}. "
            f"{log_hint(props, task_arn)}")
    return {"task_arn": task_arn, "exit_code": 0, "stopped_at": str(task.get("stoppedAt", ""))}

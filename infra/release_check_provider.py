"""The rollout check: `pulumi up` fails unless ECS finished rolling out the task definition it registered.

awsx waits for the service to be steady, and a service that the deployment circuit breaker (or a
deployment alarm) rolled back to the previous revision is steady too, so `up` would report success
for a release that never went live. This step is keyed on the service's task definition ARN: every
`up` that registers a new revision creates it again, and it reads DescribeServices until the
deployment of that revision is COMPLETED (pass) or FAILED, or until the service's PRIMARY deployment
runs another revision (rolled back: fail), naming ECS's rolloutState and rolloutStateReason.
The same fields describe ROLLING and CANARY deployments of the ECS deployment controller.

One of the deploy-time steps built on `infra/deploy_step.py` (read its docstring). Pulumi's state
refers to `infra.release_check_provider.RolloutCheckProvider` BY REFERENCE (module path and class
name): moving or renaming this module or the class breaks diff, update and destroy for every
deployed stack.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pulumi.dynamic import CreateResult

from infra.deploy_step import DeployStepError, DeployStepProvider, aws_client, poll

# A new revision is checked once; a changed service or cluster is a different thing to check.
ROLLOUT_KEYS = ("task_definition", "service", "cluster")
ROLLOUT_OUTPUTS = ("rollout_state", "deployment_id")
# awsx has usually waited for steady state already; the margin covers canary bake times and a
# rollout `up` did not wait for.
ROLLOUT_DELAY_SECONDS = 10
ROLLOUT_MAX_ATTEMPTS = 180  # 30 minutes


class RolloutFailedError(DeployStepError):
    """ECS did not complete the rollout of this update's task definition."""


def _describe(deployment: dict[str, Any] | None) -> str:
    if deployment is None:
        return "not listed"
    state = deployment.get("rolloutState", "no rolloutState")
    reason = deployment.get("rolloutStateReason")
    return f"{deployment.get('status', '?')} deployment {deployment.get('id', '?')}, rolloutState {state}" + (
        f" ({reason})" if reason else "")


def rollout_verdict(service: dict[str, Any], task_definition: str) -> dict[str, Any] | None:
    """The completed deployment of `task_definition`; None while it rolls; RolloutFailedError if it failed."""
    deployments = service.get("deployments") or []
    ours = [d for d in deployments if d.get("taskDefinition") == task_definition]
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    for deployment in ours:
        if deployment.get("rolloutState") == "FAILED":
            raise RolloutFailedError(
                f"ECS failed to roll out {task_definition}: {_describe(deployment)}; "
                f"the service now runs {_describe(primary)} on {primary.get('taskDefinition') if primary else '?'}")
        if deployment.get("status") == "PRIMARY" and deployment.get("rolloutState") == "COMPLETED":
            return deployment
    if primary is not None and primary.get("taskDefinition") != task_definition:
        # A rollback makes the previous revision PRIMARY again; ours may be gone from the list.
        raise RolloutFailedError(
            f"ECS rolled back instead of rolling out {task_definition}: the service's PRIMARY "
            f"deployment runs {primary.get('taskDefinition')} ({_describe(primary)}); "
            f"this update's deployment: {_describe(ours[0] if ours else None)}")
    return None


def wait_for_rollout(ecs: Any, cluster: str, service: str, task_definition: str, *,
                     delay: int = ROLLOUT_DELAY_SECONDS, max_attempts: int = ROLLOUT_MAX_ATTEMPTS) -> dict[str, Any]:
    last: dict[str, Any] = {}

    def check() -> dict[str, Any] | None:
        answer = ecs.describe_services(cluster=cluster, services=[service])
        found = answer.get("services") or []
        if answer.get("failures") or not found:
            raise RolloutFailedError(f"ECS does not describe service {service} in {cluster}: {answer.get('failures')}")
        last["service"] = found[0]
        return rollout_verdict(found[0], task_definition)

    done = poll(check, delay=delay, max_attempts=max_attempts)
    if done is None:
        ours = next((d for d in (last.get("service") or {}).get("deployments", [])
                     if d.get("taskDefinition") == task_definition), None)
        raise RolloutFailedError(
            f"ECS did not finish rolling out {task_definition} within {delay * max_attempts} s: "
            f"{_describe(ours)}. Check: aws ecs describe-services --cluster {cluster} --services {service}")
    return done


class RolloutCheckProvider(DeployStepProvider):
    KEYS: ClassVar[tuple[str, ...]] = ROLLOUT_KEYS
    OUTPUTS: ClassVar[tuple[str, ...]] = ROLLOUT_OUTPUTS

    def create(self, props: dict[str, Any]) -> CreateResult:
        minutes = int(props.get("wait_minutes") or ROLLOUT_MAX_ATTEMPTS * ROLLOUT_DELAY_SECONDS // 60)
        deployment = wait_for_rollout(aws_client(props, "ecs"), props["cluster"], props["service"],
                                      props["task_definition"],
                                      max_attempts=minutes * 60 // ROLLOUT_DELAY_SECONDS)
        return CreateResult(id_=deployment.get("id") or props["task_definition"], outs={
            **props, "rollout_state": deployment.get("rolloutState", ""), "deployment_id": deployment.get("id", "")})

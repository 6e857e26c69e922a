"""The rollout check: `pulumi up` fails unless ECS finished rolling out the task definition it registered.

This step is keyed on the service's task definition ARN: every `up` that registers a new revision
creates it again. It finds that revision's deployment in DescribeServices (`ecs-svc/<n>`), then the
matching service deployment (ListServiceDeployments: the one whose target service revision ends in
`<n>`, as the AWS provider's own wait matches them) and reads its status with
DescribeServiceDeployments until it is SUCCESSFUL (pass) or STOPPED, STOP_REQUESTED or ROLLBACK_*
(fail, naming the status, its reason and the rollback's), or until time runs out (fail, naming the
last status). Service deployments describe ROLLING and CANARY deployments of the ECS deployment
controller alike; `deployments[].rolloutState` does not (ECS returns it for rolling deployments only).
If a rollback already made another revision PRIMARY and this one is no longer listed, it fails at once.

One of the deploy-time steps built on `infra/deploy_step.py` (read its docstring). Pulumi's state
refers to `infra.release_check_provider.RolloutCheckProvider` BY REFERENCE (module path and class
name): moving or renaming this module or the class breaks diff, update and destroy for every
deployed stack.
"""

from __future__ import annotations

from datetime import timedelta
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
# ECS's ServiceDeploymentStatus values (botocore's ECS model); every value is in exactly one set.
PASSED = frozenset({"SUCCESSFUL"})
FAILED = frozenset({"STOPPED", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS",
                    "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
WAITING = frozenset({"PENDING", "IN_PROGRESS"})
# The service deployment is created with the deployment; the margin covers clock skew between the two.
LIST_MARGIN = timedelta(minutes=5)


class RolloutFailedError(DeployStepError):
    """ECS did not complete the rollout of this update's task definition."""


def _describe(deployment: dict[str, Any] | None) -> str:
    """One DescribeServices deployment, as ECS names it."""
    if deployment is None:
        return "not listed"
    return f"{deployment.get('status', '?')} deployment {deployment.get('id', '?')}"


def describe_service_deployment(found: dict[str, Any] | None) -> str:
    """One service deployment: its status, ECS's reason and, after a rollback, the rollback's reason."""
    if found is None:
        return "no service deployment found yet"
    text = f"service deployment {found.get('serviceDeploymentArn', '?')} is {found.get('status', '?')}"
    if found.get("statusReason"):
        text += f" ({found['statusReason']})"
    rollback = found.get("rollback") or {}
    if rollback.get("reason"):
        text += f"; rollback: {rollback['reason']}"
    return text


def service_deployment_verdict(found: dict[str, Any], task_definition: str) -> dict[str, Any] | None:
    """`found` if it succeeded; None while it runs; RolloutFailedError if it stopped or rolled back."""
    status = found.get("status")
    if status in PASSED:
        return found
    if status in FAILED:
        raise RolloutFailedError(f"ECS did not roll out {task_definition}: {describe_service_deployment(found)}")
    return None


def ours_or_rolled_back(service: dict[str, Any], task_definition: str) -> dict[str, Any] | None:
    """This revision's DescribeServices deployment; None if not listed; RolloutFailedError if rolled back."""
    deployments = service.get("deployments") or []
    ours = [d for d in deployments if d.get("taskDefinition") == task_definition]
    if ours:
        return next((d for d in ours if d.get("status") == "PRIMARY"), ours[0])
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is not None:
        # A rollback makes the previous revision PRIMARY again, and ours may be gone from the list.
        raise RolloutFailedError(
            f"ECS rolled back instead of rolling out {task_definition}: the service's PRIMARY "
            f"deployment runs {primary.get('taskDefinition')} ({_describe(primary)}); "
            f"this update's deployment is not listed")
    return None


def find_service_deployment_arn(ecs: Any, cluster: str, service: str, deployment: dict[str, Any]) -> str | None:
    """The service deployment of a DescribeServices deployment `ecs-svc/<n>`: the one whose target
    service revision ARN ends in `/<n>`."""
    number = str(deployment.get("id", "")).rsplit("/", 1)[-1]
    request: dict[str, Any] = {"cluster": cluster, "service": service}
    if deployment.get("createdAt") is not None:
        request["createdAt"] = {"after": deployment["createdAt"] - LIST_MARGIN}
    while True:
        page = ecs.list_service_deployments(**request)
        for brief in page.get("serviceDeployments") or []:
            if number and str(brief.get("targetServiceRevisionArn", "")).endswith(f"/{number}"):
                return str(brief["serviceDeploymentArn"])
        if not page.get("nextToken"):
            return None
        request["nextToken"] = page["nextToken"]


def wait_for_rollout(ecs: Any, cluster: str, service: str, task_definition: str, *,
                     delay: int = ROLLOUT_DELAY_SECONDS, max_attempts: int = ROLLOUT_MAX_ATTEMPTS) -> dict[str, Any]:
    last: dict[str, Any] = {}

    def check() -> dict[str, Any] | None:
        if "arn" not in last:
            answer = ecs.describe_services(cluster=cluster, services=[service])
            found = answer.get("services") or []
            if answer.get("failures") or not found:
                raise RolloutFailedError(
                    f"ECS does not describe service {service} in {cluster}: {answer.get('failures')}")
            ours = ours_or_rolled_back(found[0], task_definition)
            last["deployment"] = ours
            if ours is None:
                return None
            arn = find_service_deployment_arn(ecs, cluster, service, ours)
            if arn is None:
                return None
            last["arn"] = arn
        answer = ecs.describe_service_deployments(serviceDeploymentArns=[last["arn"]])
        described = answer.get("serviceDeployments") or []
        if not described:
            return None
        last["service_deployment"] = described[0]
        return service_deployment_verdict(described[0], task_definition)

    done = poll(check, delay=delay, max_attempts=max_attempts)
    if done is None:
        seen = (describe_service_deployment(last["service_deployment"]) if "service_deployment" in last
                else f"{describe_service_deployment(None)} for {_describe(last.get('deployment'))}")
        raise RolloutFailedError(
            f"ECS did not finish rolling out {task_definition} within {delay * max_attempts} s: {seen}. "
            f"Check: aws ecs list-service-deployments --cluster {cluster} --service {service}")
    return done


class RolloutCheckProvider(DeployStepProvider):
    KEYS: ClassVar[tuple[str, ...]] = ROLLOUT_KEYS
    OUTPUTS: ClassVar[tuple[str, ...]] = ROLLOUT_OUTPUTS

    def create(self, props: dict[str, Any]) -> CreateResult:
        minutes = int(props.get("wait_minutes") or ROLLOUT_MAX_ATTEMPTS * ROLLOUT_DELAY_SECONDS // 60)
        deployment = wait_for_rollout(aws_client(props, "ecs"), props["cluster"], props["service"],
                                      props["task_definition"],
                                      max_attempts=minutes * 60 // ROLLOUT_DELAY_SECONDS)
        arn = deployment.get("serviceDeploymentArn", "")
        return CreateResult(id_=arn or props["task_definition"], outs={
            **props, "rollout_state": deployment.get("status", ""), "deployment_id": arn})

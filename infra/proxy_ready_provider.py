"""The proxy readiness step: `pulumi up` waits until RDS Proxy reports its database target AVAILABLE.

Creating an `aws.rds.ProxyTarget` only registers the target; it does not wait for the proxy to reach
the instance. Tasks that start before then cannot connect. This step is created with the proxy and
created again (a replacement) whenever the proxy, its target, the instance behind it or the app credential
it logs in with changes, and the seed and the Fargate service depend on it, so no task starts against a
proxy that is not ready, on the first `up` or on the `up` that switches `tca:dbProxy` on.

One of the deploy-time steps built on `infra/deploy_step.py` (read its docstring). Pulumi's state
refers to `infra.proxy_ready_provider.ProxyReadyProvider` BY REFERENCE (module path and class name):
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
    poll,
)

# A change to any of these means a target that has not yet been seen AVAILABLE: a new proxy, a
# re-registered target, a replaced instance (a new DbiResourceId behind the same identifier), or another
# app credential for the proxy to log in with (a target the proxy cannot log in to is not AVAILABLE).
READY_KEYS = ("proxy_arn", "target_id", "db_resource_id", "app_secret_arn")
READY_OUTPUTS = ("target_state",)


class ProxyNotReadyError(DeployStepError):
    """The proxy's database target did not become AVAILABLE in time."""


def wait_for_proxy_target(rds: Any, proxy_name: str, db_instance: str, *, delay: int = DEFAULT_DELAY_SECONDS,
                          max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> str:
    """Poll DescribeDBProxyTargets until the instance's target is listed and AVAILABLE.

    An empty answer is not success: the target may not be listed yet, so it keeps polling.
    """
    last = {"state": "not listed yet", "reason": ""}

    def check() -> str | None:
        targets = rds.describe_db_proxy_targets(DBProxyName=proxy_name).get("Targets", [])
        ours = [t for t in targets if t.get("Type") == "RDS_INSTANCE" and t.get("RdsResourceId") == db_instance]
        if not ours:
            last.update(state="not listed yet", reason="")
            return None
        health = ours[0].get("TargetHealth", {})
        if health.get("State") == "AVAILABLE":
            return "AVAILABLE"
        last.update(state=health.get("State", "unknown"),
                    reason=health.get("Description") or health.get("Reason") or "")
        return None

    state = poll(check, delay=delay, max_attempts=max_attempts)
    if state is None:
        detail = f"{last['state']}: {last['reason']}" if last["reason"] else last["state"]
        raise ProxyNotReadyError(
            f"RDS Proxy {proxy_name} did not report its target {db_instance} AVAILABLE within "
            f"{delay * max_attempts} s (last state {detail}); no task was started against it. "
            f"Check: aws rds describe-db-proxy-targets --db-proxy-name {proxy_name}")
    return state


class ProxyReadyProvider(DeployStepProvider):
    KEYS: ClassVar[tuple[str, ...]] = READY_KEYS
    OUTPUTS: ClassVar[tuple[str, ...]] = READY_OUTPUTS

    def create(self, props: dict[str, Any]) -> CreateResult:
        state = wait_for_proxy_target(aws_client(props, "rds"), props["proxy_name"], props["db_instance"])
        return CreateResult(id_=f"{props['proxy_name']}/{props['db_instance']}", outs={**props, "target_state": state})

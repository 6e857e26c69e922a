"""The one mechanism for what `pulumi up` must do or wait for in AWS beyond creating resources.

Each deploy-time step is a Pulumi dynamic resource whose provider subclasses `DeployStepProvider`:
the seed (`infra/seed_provider.py`), the RDS Proxy readiness gate (`infra/proxy_ready_provider.py`)
and the rollout check (`infra/release_check_provider.py`). The step runs when the resource is
created, and again only when one of its KEYS changes (a replacement is a new create); any other
change just records the new inputs, and delete undoes nothing. Providers call AWS with the
deployer's own credentials (boto3, the stack's aws:region and aws:profile), so no step needs an
extra role, a Lambda or an operator.

How Pulumi stores these providers: it pickles the provider object into the stack's state BY
REFERENCE, as module path plus class name (`infra.seed_provider.SeedProvider`,
`infra.proxy_ready_provider.ProxyReadyProvider`, `infra.release_check_provider.RolloutCheckProvider`,
and this module for the base class), not its code. Pulumi's dynamic-provider host imports them from
the project directory, inside the `virtualenv` that Pulumi.yaml names, for every diff, update and
delete, including `pulumi destroy`, which does not run the program. MOVING OR RENAMING THIS MODULE,
A PROVIDER MODULE OR A PROVIDER CLASS BREAKS DIFF, UPDATE AND DESTROY FOR EVERY DEPLOYED STACK whose
state names the old path. Keep them where they are; if a move is unavoidable, leave the old module
re-exporting the class until every stack has run `pulumi up` with the new one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from pulumi.dynamic import DiffResult, ResourceProvider, UpdateResult

_T = TypeVar("_T")

# Every wait polls every few seconds and gives up with an error naming what it last saw.
DEFAULT_DELAY_SECONDS = 6
DEFAULT_MAX_ATTEMPTS = 100  # 10 minutes at the default delay


class DeployStepError(Exception):
    """A deploy-time step failed or timed out; the message says what AWS last reported."""


def aws_client(props: dict[str, Any], service: str) -> Any:
    """A boto3 client with the deployer's credentials, for the stack's region and profile."""
    import boto3  # imported here: the program imports this module too, and never calls AWS itself

    session = boto3.session.Session(profile_name=props.get("profile") or None, region_name=props["region"])
    return session.client(service)


def poll(check: Callable[[], _T | None], *, delay: int, max_attempts: int) -> _T | None:
    """Call `check` until it returns something other than None; None if it never did."""
    for attempt in range(max_attempts):
        result = check()
        if result is not None:
            return result
        if attempt + 1 < max_attempts:
            time.sleep(delay)
    return None


class DeployStepProvider(ResourceProvider):
    """Runs a step on create; reruns it (replace) only when a KEY input changes."""

    # Inputs whose change means "do the step again"; everything else only updates the record.
    KEYS: ClassVar[tuple[str, ...]] = ()
    # Results of the step, kept through updates that do not rerun it.
    OUTPUTS: ClassVar[tuple[str, ...]] = ()

    def replace_reasons(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        return [key for key in self.KEYS if olds.get(key) != news.get(key)]

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = self.replace_reasons(olds, news)
        # `__provider` is the serialized provider itself; a new pickle alone is no change.
        inputs = [k for k in news if k != "__provider" and k not in self.OUTPUTS]
        changed = [k for k in inputs if olds.get(k) != news.get(k)]
        # The replacement is created before the old record is dropped; deleting the record does nothing.
        return DiffResult(changes=bool(changed or replaces), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        kept = {k: olds[k] for k in self.OUTPUTS if k in olds}
        return UpdateResult(outs={**news, **kept})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # Nothing to undo: a step's effect belongs to the resources it acted on.
        return None

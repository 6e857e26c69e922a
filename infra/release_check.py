"""Fails `pulumi up` when ECS did not finish rolling out the revision this update registered.

Composed from `__main__.py` rather than inside `Service`: it is a gate over the finished service
(whatever deployment strategy, alarms or canary the service uses), needs only the service's names
and current task definition, and keeps the service component about the resources that serve users.
"""

from __future__ import annotations

import pulumi
import pulumi.dynamic

from infra.config import ReleaseConfig, StackSettings
from infra.release import rollout_wait_minutes
from infra.release_check_provider import RolloutCheckProvider
from infra.service import Service


class RolloutCheck(pulumi.dynamic.Resource, module="release", name="RolloutCheck"):
    # The service deployment's status (SUCCESSFUL once it passed) and ARN.
    rollout_state: pulumi.Output[str]
    deployment_id: pulumi.Output[str]

    def __init__(self, name: str, props: dict, opts: pulumi.ResourceOptions | None = None):
        super().__init__(RolloutCheckProvider(), name, {**props, "rollout_state": None, "deployment_id": None},
                         opts)


class ReleaseCheck(pulumi.ComponentResource):
    check: RolloutCheck

    def __init__(self, name: str, stack: StackSettings, release: ReleaseConfig, service: Service,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:ReleaseCheck", name, None, opts)
        fargate = service.fargate
        self.check = RolloutCheck(
            f"{name}-rollout",
            {
                "region": stack.region,
                "profile": stack.aws_profile,
                "cluster": service.cluster.arn,
                "service": fargate.service.apply(lambda s: s.name),
                # The key: a new revision is a new check; the same revision is never re-checked.
                "task_definition": fargate.task_definition.apply(lambda td: td.arn if td else None),
                # Not a key: a longer canary bake only lets the same check wait longer.
                "wait_minutes": rollout_wait_minutes(release),
            },
            # After awsx has finished updating the service (and waited for steady state).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[fargate]),
        )
        self.register_outputs({"rolloutState": self.check.rollout_state})

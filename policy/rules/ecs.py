"""ECS service and containers (ECS.2, ECS.4, ECS.5, ECS.8)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource

from .engine import (
    UNKNOWN,
    _actions,
    _deps,
    _is_list,
    _json,
    _must_be_true,
    _of_type,
    _packaging_components,
    at,
    elements,
    identities,
    text,
)
from .registry import REQUIRED_SWITCH, Config, Resources, Violations, resource_policy, stack_policy
from .resource_types import ECS_SERVICE, LISTENER_RULES, METRIC_ALARM, TARGET_GROUPS, TASK_DEFINITION

# Names that say the value is a credential: such a value belongs in `secrets`, not `environment`. A name
# ending in _ARN or _NAME points at a secret without carrying it.
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY", re.IGNORECASE)
REFERENCE_NAME = re.compile(r".*_(?:ARN|NAME)", re.IGNORECASE)


@resource_policy("ecs-no-public-ip", "ECS tasks get no public IP (ECS.2).", [ECS_SERVICE])
def _ecs_no_public_ip(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if at(props, "networkConfiguration", "assignPublicIp") is True:
        yield "tasks must not get public IPs (networkConfiguration.assignPublicIp is True)"


@resource_policy("ecs-circuit-breaker-rollback", "The ECS service's circuit breaker is on and rolls back.",
                 [ECS_SERVICE])
def _ecs_circuit_breaker(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    yield from _must_be_true(props, "deploymentCircuitBreaker", "enable", message="the circuit breaker must be on")
    yield from _must_be_true(props, "deploymentCircuitBreaker", "rollback",
                             message="the circuit breaker must roll back")


@resource_policy("ecs-deployment-alarms-rollback", "The ECS service rolls back when a deployment alarm fires.",
                 [ECS_SERVICE])
def _ecs_alarms(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    yield from _must_be_true(props, "alarms", "enable", message="deployment alarms must be enabled")
    yield from _must_be_true(props, "alarms", "rollback", message="deployment alarms must roll back")
    names = at(props, "alarms", "alarmNames")
    if names is not UNKNOWN and not elements(names):
        yield "deployment alarms must name at least one alarm"


@stack_policy("ecs-deployment-alarms-defined", "Every alarm an ECS service watches during a deployment is a "
              "CloudWatch alarm of this stack (ECS does not check the names: a missing one never fires).")
def _ecs_alarms_defined(resources: Resources, config: Config) -> Violations:
    defined = {text(at(a.props, "name")) for a in _of_type(resources, METRIC_ALARM)} - {""}
    unknown = any(at(a.props, "name") is UNKNOWN for a in _of_type(resources, METRIC_ALARM))
    for service in _of_type(resources, ECS_SERVICE):
        for name in elements(at(service.props, "alarms", "alarmNames")):
            if name is UNKNOWN or unknown:
                continue
            if text(name) not in defined:
                yield (f"service {service.name} watches the alarm {name!r}, which this stack does not define",
                       service.urn)


def _forwarded_groups(rule: PolicyResource) -> set[str] | None:
    """The target group ARNs a rule forwards to; None while any of them is unknown."""
    found: set[str] = set()
    for action in _actions(rule, "actions"):
        candidates = [at(action, "targetGroupArn"), *(at(g, "arn") for g in
                                                      elements(at(action, "forward", "targetGroups")))]
        if action is UNKNOWN or UNKNOWN in candidates or at(action, "forward", "targetGroups") is UNKNOWN:
            return None
        found |= {text(c) for c in candidates} - {""}
    return found


def _canary_wiring(service: PolicyResource, index: int, entry: Any, resources: Resources) -> Iterator[str]:
    """One load balancer entry of a canary service: what ECS needs to shift traffic on an ALB."""
    path = ("loadBalancers", index, "advancedConfiguration")
    advanced = at(entry, "advancedConfiguration")
    if advanced is UNKNOWN:
        return
    if not isinstance(advanced, Mapping):
        yield ("needs loadBalancers[].advancedConfiguration (alternate target group, production listener rule "
               "and role)")
        return

    def linked(key: str, types: Sequence[str]) -> list[PolicyResource] | None:
        """The stack's resources of `types` the setting names; None when it cannot be followed yet."""
        value = at(advanced, key)
        candidates = _of_type(resources, *types)
        if value is not UNKNOWN:
            return [r for r in candidates if text(value) in identities(r)]
        # Preview: the ARN is not known, but the engine records what `loadBalancers` depends on.
        deps = {d.urn for d in _deps(service, path[0])}
        if not deps:
            return None
        return [r for r in candidates if r.urn in deps or _packaging_components(r) & deps]

    primary = at(entry, "targetGroupArn")
    alternate = at(advanced, "alternateTargetGroupArn")
    groups = linked("alternateTargetGroupArn", TARGET_GROUPS)
    if groups == []:
        yield f"the alternate target group {alternate!r} is not a target group of this stack"
    if text(alternate) and alternate == primary:
        yield "the alternate target group must differ from the primary one"
    rules = linked("productionListenerRule", LISTENER_RULES)
    if rules == []:
        yield (f"the production listener rule {at(advanced, 'productionListenerRule')!r} is not a listener rule of "
               "this stack (an ALB canary needs a rule ARN, not a listener ARN)")
    for rule in rules or []:
        forwarded = _forwarded_groups(rule)
        wanted = {text(primary), text(alternate)} - {""}
        if forwarded is not None and not wanted <= forwarded:
            yield (f"the production listener rule {rule.name} must forward to both target groups "
                   f"(forwards to {sorted(forwarded)})")
    role = at(advanced, "roleArn")
    if role is not UNKNOWN and not text(role):
        yield "ECS needs a roleArn to rewrite the production listener rule"


@stack_policy("ecs-canary", "A service that releases by canary has what ECS needs to shift traffic on the ALB: "
              "the ECS controller, a canary configuration, and per load balancer an alternate target group, a "
              "production listener rule forwarding to both groups, and a role; where configured, the service "
              "must release by canary.", REQUIRED_SWITCH)
def _ecs_canary(resources: Resources, config: Config) -> Violations:
    for service in _of_type(resources, ECS_SERVICE):
        strategy = at(service.props, "deploymentConfiguration", "strategy")
        if strategy is UNKNOWN:
            continue
        if strategy != "CANARY":
            if config["required"] is True:
                yield (f"service {service.name}: this stack releases by canary "
                       f"(deploymentConfiguration.strategy is {strategy!r})", service.urn)
            continue
        problems: list[str] = []
        controller = at(service.props, "deploymentController", "type")
        if controller not in (None, "ECS", UNKNOWN):
            problems.append(f"a canary needs the ECS deployment controller (is {controller!r})")
        if not isinstance(at(service.props, "deploymentConfiguration", "canaryConfiguration"), Mapping) and \
                at(service.props, "deploymentConfiguration", "canaryConfiguration") is not UNKNOWN:
            problems.append("a canary needs deploymentConfiguration.canaryConfiguration")
        balancers = at(service.props, "loadBalancers")
        if balancers is not UNKNOWN and not elements(balancers):
            problems.append("a canary needs a load balancer to shift traffic on")
        for index, entry in enumerate(elements(balancers)):
            if entry is not UNKNOWN:
                problems += _canary_wiring(service, index, entry, resources)
        for problem in problems:
            yield f"service {service.name}: {problem}", service.urn


def _containers(props: Any) -> Iterator[Any]:
    """Each container of a task definition's `containerDefinitions` (a JSON string in the engine)."""
    raw = at(props, "containerDefinitions")
    if raw is UNKNOWN:
        return
    decoded = _json(raw)
    if not _is_list(decoded):
        yield None  # unreadable: every container check reports it
        return
    yield from elements(decoded)


def _container_policy(name: str, description: str) -> Callable[[Callable[[Any], Iterable[str]]], Any]:
    def register(check: Callable[[Any], Iterable[str]]) -> Any:
        @resource_policy(name, description, [TASK_DEFINITION])
        def per_container(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
            for container in _containers(props):
                if container is UNKNOWN:
                    continue
                if not isinstance(container, Mapping):
                    yield "containerDefinitions must be a JSON list of container objects"
                    continue
                label = text(at(container, "name")) or "?"
                yield from (f"container {label}: {m}" for m in check(container))
        return per_container
    return register


@_container_policy("ecs-container-not-privileged", "No container runs privileged (ECS.4).")
def _not_privileged(container: Any) -> Iterator[str]:
    if at(container, "privileged") is True:
        yield "must not be privileged"


@_container_policy("ecs-container-readonly-root", "Every container's root filesystem is read-only (ECS.5).")
def _readonly_root(container: Any) -> Iterator[str]:
    value = at(container, "readonlyRootFilesystem")
    if value is not UNKNOWN and value is not True:
        yield f"readonlyRootFilesystem must be true (is {value!r})"


@_container_policy("ecs-container-non-root-user", "Every container runs as a non-root user.")
def _non_root(container: Any) -> Iterator[str]:
    user = at(container, "user")
    if user is UNKNOWN:
        return
    if not text(user) or user.split(":")[0].strip() in ("", "0", "root"):
        yield f"must run as a non-root user (user is {user!r})"


@_container_policy("ecs-container-drop-all-capabilities", "Every container drops all Linux capabilities.")
def _drop_all(container: Any) -> Iterator[str]:
    dropped = at(container, "linuxParameters", "capabilities", "drop")
    if dropped is not UNKNOWN and "ALL" not in [text(d).upper() for d in elements(dropped)]:
        yield f"linuxParameters.capabilities.drop must include ALL (is {dropped!r})"


@_container_policy("ecs-container-no-secret-env", "Credentials reach containers only through `secrets`, never "
                   "as plain environment variables (ECS.8).")
def _no_secret_env(container: Any) -> Iterator[str]:
    for variable in elements(at(container, "environment")):
        name = text(at(variable, "name"))
        if SECRET_NAME.search(name) and not REFERENCE_NAME.fullmatch(name):
            yield f"environment variable {name} looks like a credential: pass it through `secrets`"


@resource_policy("ecs-task-no-role", "Tasks get no task role: the app calls no AWS API (least privilege).",
                 [TASK_DEFINITION])
def _task_no_role(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    role = at(props, "taskRoleArn")
    if role is not UNKNOWN and text(role):
        yield f"tasks must not get a task role (taskRoleArn is {role!r}); the app calls no AWS API"

"""Turning check functions into Pulumi policies: every policy registers itself in POLICIES, mandatory."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

Resources = Sequence[PolicyResource]
Config = Mapping[str, Any]
# A stack policy's findings: the message and the URN of the resource at fault.
Violations = Iterator[tuple[str, str | None]]
ResourceCheck = Callable[[Any, Mapping[str, Any]], Iterable[str]]
TypedCheck = Callable[[str, Any, Mapping[str, Any]], Iterable[str]]
StackCheck = Callable[[Sequence[PolicyResource], Mapping[str, Any]], Iterable[tuple[str, str | None]]]

POLICIES: list[Policy] = []
# Each policy's config defaults: the engine applies the schema's defaults, the tests do not.
CONFIG_DEFAULTS: dict[str, dict[str, Any]] = {}
REQUIRED_SWITCH = {"required": {"type": "boolean", "default": False}}


def _schema(name: str, properties: Mapping[str, Mapping[str, Any]] | None) -> PolicyConfigSchema | None:
    CONFIG_DEFAULTS[name] = {k: v.get("default") for k, v in (properties or {}).items()}
    return PolicyConfigSchema(properties={k: dict(v) for k, v in properties.items()}) if properties else None


def _config(name: str, given: Any) -> dict[str, Any]:
    return {**CONFIG_DEFAULTS[name], **(dict(given) if isinstance(given, Mapping) else {})}


def typed_resource_policy(name: str, description: str, types: Sequence[str],
                          config: Mapping[str, Mapping[str, Any]] | None = None,
                          ) -> Callable[[TypedCheck], TypedCheck]:
    """A policy over single resources whose check also needs the resource's type."""
    def register(check: TypedCheck) -> TypedCheck:
        def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
            if args.resource_type not in types:
                return
            for message in check(args.resource_type, args.props, _config(name, args.get_config())):
                report_violation(message, None)

        POLICIES.append(ResourceValidationPolicy(
            name=name, description=description, validate=validate,
            enforcement_level=EnforcementLevel.MANDATORY, config_schema=_schema(name, config)))
        return check
    return register


def resource_policy(name: str, description: str, types: Sequence[str],
                    config: Mapping[str, Mapping[str, Any]] | None = None) -> Callable[[ResourceCheck], ResourceCheck]:
    def register(check: ResourceCheck) -> ResourceCheck:
        typed_resource_policy(name, description, types, config)(lambda _type, props, cfg: check(props, cfg))
        return check
    return register


def stack_policy(name: str, description: str,
                 config: Mapping[str, Mapping[str, Any]] | None = None) -> Callable[[StackCheck], StackCheck]:
    def register(check: StackCheck) -> StackCheck:
        def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
            resources = [r for r in args.resources or [] if isinstance(r, PolicyResource)]
            for message, urn in check(resources, _config(name, args.get_config())):
                report_violation(message, urn)

        POLICIES.append(StackValidationPolicy(
            name=name, description=description, validate=validate,
            enforcement_level=EnforcementLevel.MANDATORY, config_schema=_schema(name, config)))
        return check
    return register

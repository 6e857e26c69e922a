"""`load_config`: every section parsed, every problem collected, then one error or one frozen AppConfig."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pulumi

from infra.config.app import AppConfig
from infra.config.database import DatabaseConfig, OfferedCheck, _database, rds_offers_instance_class
from infra.config.declared import PROJECT_FILE, _undeclared_key_errors, _unused_keys, declared_keys, runtime_config
from infra.config.domain import DomainConfig, _domain
from infra.config.edge import EdgeConfig, _edge
from infra.config.images import ImagesConfig, _images
from infra.config.keys import KeysConfig, _keys
from infra.config.layers import LAYER_SECTIONS, LayerConfig, _layers
from infra.config.monitoring import AlarmThresholds, MonitoringConfig, _monitoring
from infra.config.network import NetworkConfig, VpcCheck, _network
from infra.config.reader import ConfigError, _Reader
from infra.config.release import ReleaseConfig, _release
from infra.config.rotation import RotationConfig, _rotation
from infra.config.service import ServiceConfig, _service
from infra.config.stack import _REGION, StackSettings, _stack_settings
from infra.config.vpc_lookup import vpc_subnets_usable


def _unset(section: str, values: Mapping[str, Any]) -> list[str]:
    found = []
    for key, value in values.items():
        if isinstance(value, dict):
            found += _unset(f"{section}.{key}", value)
        elif value is None:
            found.append(f"{section}.{key}")
    return found


_SECTION_TYPES: dict[str, type] = {
    "network": NetworkConfig, "database": DatabaseConfig, "service": ServiceConfig, "domain": DomainConfig,
    "monitoring": MonitoringConfig, "images": ImagesConfig, "keys": KeysConfig, "release": ReleaseConfig,
    "edge": EdgeConfig, "rotation": RotationConfig,
}


def load_config(stack: str | None = None, values: Mapping[str, str] | None = None,
                project_file: Path = PROJECT_FILE, offered: OfferedCheck = rds_offers_instance_class,
                vpc_check: VpcCheck = vpc_subnets_usable) -> AppConfig:
    """Read and validate the `tca:` keys this stack's layer uses; raise ConfigError naming each bad, unknown or
    missing one, and warn about keys set here that only other layers use.

    `values` is the whole config map as the engine passes it (`tca:azCount` -> "2", declared
    defaults filled in); by default it is read from the running program. `offered` asks AWS whether
    the database class exists for the engine, `vpc_check` whether an existing VPC's subnets can carry the
    stack; each is asked only when every static check before it passed.
    """
    stack = stack if stack is not None else pulumi.get_stack()
    values = dict(values) if values is not None else runtime_config()
    declared = declared_keys(project_file)
    r = _Reader(values, declared, stack)
    r.errors += _undeclared_key_errors(values, declared)
    # The lookups run in the stack's region, so they are only worth asking in a valid one.
    in_region = bool(_REGION.fullmatch(values.get("aws:region") or ""))

    layers = _layers(r)
    uses = LAYER_SECTIONS.get(layers["layer"], ())
    sections: dict[str, dict[str, Any]] = {
        "stack": _stack_settings(r, stack, values.get("aws:region"), values.get("aws:profile") or "",
                                 layers["layer"]),
    }
    if "network" in uses:
        sections["network"] = _network(r, vpc_check if in_region else None)
    if "database" in uses:
        sections["database"] = _database(r, offered if in_region else None)
    parsers: dict[str, Callable[[], dict[str, Any]]] = {
        "service": lambda: _service(r),
        "domain": lambda: _domain(r),
        "monitoring": lambda: _monitoring(r),
        "images": lambda: _images(r, values.get("aws:region")),
        "keys": lambda: _keys(r, sections["database"]["secret_recovery_days"] if "database" in sections else None),
        "release": lambda: _release(r),
        "edge": lambda: _edge(r),
        # After release: the rotation period is checked against how long a release takes.
        "rotation": lambda: _rotation(r, sections.get("release")),
    }
    # A network layer in an existing VPC creates no log group, so it has no key to configure.
    skip_keys = layers["layer"] == "network" and bool(sections["network"].get("vpc_id"))
    for name, parse in parsers.items():
        if name in uses and not (name == "keys" and skip_keys):
            sections[name] = parse()

    # Keys read by two sections (the path's port and proxy) report a bad value once.
    errors = list(dict.fromkeys(r.errors))
    if errors:
        raise ConfigError(
            f"Invalid configuration for stack {stack!r}; nothing was created. Fix these settings:\n  - "
            + "\n  - ".join(errors))
    # Every parser either returned a value or recorded an error, so nothing here is None.
    unset = [name for section, fields in sections.items() for name in _unset(section, fields)]
    assert not unset, f"config parsed to None without an error: {unset}"
    unused = _unused_keys(values, declared, r.read)
    if unused and layers["layer"] != "all":
        pulumi.log.warn(f"the {layers['layer']} layer does not use {', '.join(unused)} (other layers read them), "
                        f"so setting them in stack {stack!r} has no effect; remove them from Pulumi.{stack}.yaml")
    elif unused:
        pulumi.log.warn(f"stack {stack!r} does not use {', '.join(unused)} with its other settings, so setting them "
                        f"has no effect; remove them from Pulumi.{stack}.yaml")
    built: dict[str, Any] = {}
    for name, fields in sections.items():
        if name == "stack":
            continue
        extra = {"alarms": AlarmThresholds(**fields["alarms"])} if name == "monitoring" else {}
        built[name] = _SECTION_TYPES[name](**{**fields, **extra})
    return AppConfig(stack=StackSettings(**sections["stack"]), layers=LayerConfig(**layers), sections=built,
                     unused_keys=unused)

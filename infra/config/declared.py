"""The keys Pulumi.yaml declares, the values the engine passed, and which of them are unknown or unused."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import config as runtime_config_store

from infra.config.reader import NAMESPACE

PROJECT_FILE = Path(__file__).resolve().parents[2] / "Pulumi.yaml"


def declared_keys(project_file: Path = PROJECT_FILE) -> dict[str, dict[str, Any]]:
    """The `config:` block of Pulumi.yaml: every key this project reads, with type and default."""
    # libyaml's loader when PyYAML has it (its wheels do): the pure-Python one is ten times slower.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    declared = yaml.load(project_file.read_text(), Loader=loader).get("config") or {}  # noqa: S506 - a safe loader
    return {key: spec if isinstance(spec, dict) else {"default": spec} for key, spec in declared.items()}


def _undeclared_key_errors(values: Mapping[str, str], declared: Mapping[str, Any]) -> list[str]:
    """The CLI passes undeclared keys of the project's own namespace straight through: refuse them."""
    errors = []
    lowered = {name.lower(): name for name in declared}
    for full in sorted(values):
        namespace, _, name = full.partition(":")
        if namespace != NAMESPACE or name in declared:
            continue
        close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
        hint = f"; did you mean `{NAMESPACE}:{lowered[close[0]]}`?" if close else ""
        errors.append(f"{full} is not a setting this project declares in Pulumi.yaml{hint}")
    return errors


def runtime_config() -> dict[str, str]:
    """Every config value the engine handed this program (declared defaults already filled in).

    `pulumi.Config` can only read a key it is asked for; finding undeclared keys needs the whole
    map, which the language host passes in `PULUMI_CONFIG` (or `set_all_config` under mocks).
    """
    merged = {**runtime_config_store.get_config_env(), **runtime_config_store.CONFIG.get()}
    # Older CLIs spell keys `tca:config:azCount`.
    return {key.replace(":config:", ":", 1): str(value) for key, value in merged.items()}


def _same_as_default(value: str, spec: Mapping[str, Any]) -> bool:
    if "default" not in spec:
        return False
    default = spec["default"]
    # The engine passes booleans as "true"/"false".
    return value.strip() == (str(default).lower() if isinstance(default, bool) else str(default))


def _unused_keys(values: Mapping[str, str], declared: Mapping[str, Any], read: set[str]) -> tuple[str, ...]:
    """Declared keys this stack sets (other than to their default) that its layer never read."""
    return tuple(sorted(
        full for full, value in values.items()
        if full.partition(":")[0] == NAMESPACE and (name := full.partition(":")[2]) in declared
        and name not in read and not _same_as_default(value, declared[name])))

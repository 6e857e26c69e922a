"""Renders of a deployment split into layers: the network stack, then the database and app stacks, each
answered the earlier stacks' outputs through stack references. Shared by every test that reads them."""

from __future__ import annotations

import json
from typing import Any

from tests.mocks import Run, run_program, stack_config

ORG = "acme"
LAYERS = ("network", "database", "app")


def stack_name(deployment: str, layer: str) -> str:
    return f"{deployment}-{layer}"


def qualified(deployment: str, layer: str) -> str:
    """The name another layer's stack reference uses: organization/project/stack."""
    return f"{ORG}/tca/{stack_name(deployment, layer)}"


def layer_overrides(deployment: str, layer: str) -> dict[str, Any]:
    """What a layer's stack file sets beyond the deployment's settings."""
    # Every layer names its resources after the deployment (tca-<deployment>-...), as a one-stack deployment
    # of that name would: the layers share the name prefix their roles' boundary admits.
    overrides: dict[str, Any] = {"tca:layer": layer, "tca:deploymentName": deployment}
    if layer in ("database", "app"):
        overrides["tca:networkStack"] = qualified(deployment, "network")
    if layer == "app":
        overrides["tca:databaseStack"] = qualified(deployment, "database")
    return overrides


def as_referenced(value: Any) -> Any:
    """A stack output as a stack reference reads it: numbers arrive as floats (an appPort of 8000 as 8000.0)."""
    if isinstance(value, dict):
        return {k: as_referenced(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_referenced(v) for v in value]
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def render_layers(base: str, overrides: dict[str, Any] | None = None) -> dict[str, Run]:
    """Render network, then database and app, from `base`'s stack file (plus `overrides`) in order."""
    runs: dict[str, Run] = {}
    outputs: dict[str, dict[str, Any]] = {}
    for layer in LAYERS:
        run = run_program(stack_name(base, layer), {**(overrides or {}), **layer_overrides(base, layer)},
                          stack_file=base, stack_outputs=outputs)
        assert run.error is None, f"the {layer} layer of {base} failed under mocks: {run.error!r}"
        runs[layer] = run
        outputs[qualified(base, layer)] = as_referenced(run.outputs)
    return runs


# What the layered tests ask of a deployment, whatever the stack files say: prod's layers with RDS Proxy (the
# proxy's wiring across layers), dev's without it. Compare a layered render with the one-stack render of the
# same stack file and the same settings (`shared_run(base, settings)`).
WITH_PROXY: dict[str, Any] = {"tca:dbProxy": True}
WITHOUT_PROXY: dict[str, Any] = {"tca:dbProxy": False}

_layered: dict[tuple[str, str], dict[str, Run]] = {}


def layered(base: str = "prod", overrides: dict[str, Any] | None = None) -> dict[str, Run]:
    """One shared rendering per stack file and effective settings; the layers keep the one-stack deployment's
    names."""
    key = (base, json.dumps(stack_config(base, overrides), sort_keys=True))
    if key not in _layered:
        _layered[key] = render_layers(base, overrides)
    return _layered[key]

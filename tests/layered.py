"""Renders of a deployment split into layers: the network stack, then the database and app stacks, each
answered the earlier stacks' outputs through stack references. Shared by every test that reads them."""

from __future__ import annotations

from typing import Any

from tests.mocks import Run, run_program

ORG = "acme"
LAYERS = ("network", "database", "app")


def stack_name(deployment: str, layer: str) -> str:
    return f"{deployment}-{layer}"


def qualified(deployment: str, layer: str) -> str:
    """The name another layer's stack reference uses: organization/project/stack."""
    return f"{ORG}/tca/{stack_name(deployment, layer)}"


def layer_overrides(deployment: str, layer: str, *, moved: bool) -> dict[str, Any]:
    """What a layer's stack file sets beyond the deployment's settings."""
    overrides: dict[str, Any] = {"tca:layer": layer}
    if layer in ("database", "app"):
        overrides["tca:networkStack"] = qualified(deployment, "network")
    if layer == "app":
        overrides["tca:databaseStack"] = qualified(deployment, "database")
    if moved:
        # Moved out of the one-stack deployment: every resource keeps the name it had there.
        overrides["tca:deploymentName"] = deployment
    return overrides


def render_layers(base: str, overrides: dict[str, Any] | None = None, *, moved: bool = False) -> dict[str, Run]:
    """Render network, then database and app, from `base`'s stack file (plus `overrides`) in order."""
    runs: dict[str, Run] = {}
    outputs: dict[str, dict[str, Any]] = {}
    for layer in LAYERS:
        run = run_program(stack_name(base, layer), {**(overrides or {}), **layer_overrides(base, layer, moved=moved)},
                          stack_file=base, stack_outputs=outputs)
        assert run.error is None, f"the {layer} layer of {base} failed under mocks: {run.error!r}"
        runs[layer] = run
        outputs[qualified(base, layer)] = run.outputs
    return runs


_layered: dict[tuple[str, bool], dict[str, Run]] = {}


def layered(base: str = "prod", *, moved: bool = False) -> dict[str, Run]:
    """One shared rendering per (stack file, naming): `moved` layers keep the one-stack deployment's names."""
    if (base, moved) not in _layered:
        _layered[(base, moved)] = render_layers(base, moved=moved)
    return _layered[(base, moved)]

"""Which layer of the deployment a stack holds, and the stacks it reads the other layers from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from infra.config.reader import _Reader

# What a stack holds: the whole deployment, or one layer of it in its own stack (infra/layers.py).
LAYERS = ("all", "network", "database", "app")
# The settings each layer reads. A key only other layers read has no effect in this layer's stack file and is
# named in a warning; a key a layer does not read is not required in its stack file.
LAYER_SECTIONS = {
    "all": ("network", "database", "service", "domain", "monitoring", "images", "keys", "release", "edge",
            "rotation"),
    "network": ("network", "keys"),
    "database": ("database", "keys", "rotation"),
    "app": ("service", "domain", "monitoring", "images", "keys", "release", "edge"),
}
# The keys naming the stacks each layer reads through stack references.
LAYER_REFERENCES = {
    "all": (),
    "network": (),
    "database": ("networkStack",),
    "app": ("networkStack", "databaseStack"),
}
# Pulumi's fully qualified stack name: organization (or "organization" on a self-managed backend)/project/stack.
_STACK_REFERENCE = r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+"


@dataclass(frozen=True)
class LayerConfig:
    """What this stack holds and which stacks it reads the rest from (infra/layers.py)."""
    layer: str
    network_stack: str
    database_stack: str


def _layers(r: _Reader) -> dict[str, Any]:
    layer = (r.raw("layer") or "all").strip()
    if layer not in LAYERS:
        r.fail("layer", layer, f"must be one of {', '.join(LAYERS)} (all: one stack holds everything)")
        return dict(layer=None, network_stack="", database_stack="")
    names: dict[str, str] = {}
    for key, needed in (("networkStack", "the network layer's stack"), ("databaseStack", "the database layer's stack")):
        used = key in LAYER_REFERENCES[layer]
        # Checked wherever it is set; only the layers that reference the stack count it as read (else a warning).
        value = ((r.raw(key) if used else r.peek(key)) or "").strip()
        if value and not re.fullmatch(_STACK_REFERENCE, value):
            r.fail(key, value, "must name a stack as organization/project/stack")
        elif used and not value:
            r.errors.append(f"tca:{key} is not set: the {layer} layer reads {needed} through a stack reference; "
                            "set it to that stack's name, organization/project/stack")
        elif used:
            names[key] = value
    return dict(layer=layer, network_stack=names.get("networkStack", ""),
                database_stack=names.get("databaseStack", ""))

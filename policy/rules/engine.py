"""Reading the engine's values safely, and following how resources refer to each other.

An unknown value (preview of a resource that depends on a new output) reads as UNKNOWN and is not judged;
a missing or malformed value reads as None or "" and fails the check that needs it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)


class _Unknown:
    """A value the engine does not know yet (preview of a resource that depends on a new output)."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Any = _Unknown()
_SENTINELS = frozenset({UNKNOWN_ARCHIVE_VALUE, UNKNOWN_ARRAY_VALUE, UNKNOWN_ASSET_VALUE, UNKNOWN_BOOLEAN_VALUE,
                        UNKNOWN_NUMBER_VALUE, UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE})


def _is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in _SENTINELS)


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def at(value: Any, *path: str | int) -> Any:
    """The value at `path`: None when absent or of another shape, UNKNOWN when not known yet."""
    try:
        for key in path:
            if _is_unknown(value):
                return UNKNOWN
            if isinstance(key, int):
                if not _is_list(value) or not -len(value) <= key < len(value):
                    return None
            elif not isinstance(value, Mapping) or key not in value:
                return None
            value = value[key]
    except UnknownValueError:
        return UNKNOWN
    return UNKNOWN if _is_unknown(value) else value


def elements(value: Any) -> list[Any]:
    """The items of a list (each one possibly UNKNOWN); [] for anything that is not a list."""
    if not _is_list(value):
        return []
    return [at(value, i) for i in range(len(value))]


def number(value: Any) -> float | None:
    """Numbers arrive as floats from the engine (3000 -> 3000.0); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def text(value: Any) -> str:
    """A non-empty string, or "" for anything else."""
    return value if isinstance(value, str) and not _is_unknown(value) else ""


def _json(value: Any) -> Any:
    """A JSON document given as a string (or already decoded); None when unreadable."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _must_be_true(props: Any, *path: str, message: str) -> Iterator[str]:
    value = at(props, *path)
    if value is not UNKNOWN and value is not True:
        yield f"{message} ({'.'.join(path)} is {value!r})"


def _deps(resource: PolicyResource, prop: str) -> list[PolicyResource]:
    deps = getattr(resource, "property_dependencies", None)
    if not isinstance(deps, Mapping):
        return []
    return [d for d in deps.get(prop) or [] if isinstance(d, PolicyResource)]


def refs(resource: PolicyResource, *path: str) -> set[str]:
    """What a property points at: its known ID/ARN/name values, and the URNs its value depends on.

    During a preview a new resource's ID is unknown, but the engine still records which resources
    the property depends on; matching on both finds the link in either case.
    """
    found: set[str] = set()
    value = at(resource.props, *path)
    for item in [value, *elements(value)]:
        if text(item):
            found.add(item)
    found.update(d.urn for d in _deps(resource, path[0]))
    return found


def identities(resource: PolicyResource) -> set[str]:
    found = {resource.urn}
    for key in ("id", "arn", "name", "bucket"):
        if text(at(resource.props, key)):
            found.add(at(resource.props, key))
    return found


# Packaged (remote) components: an output of one, passed to another resource, records a dependency on
# the component itself, not on the child that produced the value.
PACKAGED_COMPONENTS = ("awsx:",)


def _packaging_components(resource: PolicyResource) -> set[str]:
    """URNs of the awsx components that created `resource` (its nearest ancestors of a packaged type)."""
    found: set[str] = set()
    parent = getattr(resource, "parent", None)
    while isinstance(parent, PolicyResource) and parent.resource_type.startswith(PACKAGED_COMPONENTS):
        found.add(parent.urn)
        parent = getattr(parent, "parent", None)
    return found


def _points_to(source: PolicyResource, target: PolicyResource, *path: str, via_component: bool = False) -> bool:
    """Whether `source`'s property refers to `target`.

    With `via_component`, a dependency on the awsx component that created `target` also counts: in a
    first preview that is all the engine can say. Only checks that require a link to exist use it; a
    check that forbids a link must not, or a dependency on the VPC component would tie a database to
    every subnet of the VPC, public ones included.
    """
    found = refs(source, *path)
    return bool(found & identities(target)) or (via_component and bool(found & _packaging_components(target)))


def _link_unknown(resource: PolicyResource, *path: str) -> bool:
    """True when a reference cannot be followed: its value is unknown and no dependency is recorded."""
    return at(resource.props, *path) is UNKNOWN and not _deps(resource, path[0])


def _of_type(resources: Iterable[PolicyResource], *types: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type in types]


def _actions(resource: PolicyResource, key: str) -> list[Any]:
    return elements(at(resource.props, key))

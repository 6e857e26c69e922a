"""Parsing raw config strings: each parser records one message per bad key and goes on."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pulumi

NAMESPACE = "tca"
_T = TypeVar("_T")


class ConfigError(pulumi.RunError):
    """Raised with every invalid setting listed; RunError prints without a traceback."""


class _Reader:
    """Parses raw config strings, recording one message per bad key instead of stopping."""

    def __init__(self, values: Mapping[str, str], declared: Mapping[str, Any], stack: str):
        self._values = values
        self._declared = declared
        self._stack = stack
        self.errors: list[str] = []
        # Every key a parser looked at: the rest are another layer's (or unset).
        self.read: set[str] = set()

    @staticmethod
    def key(name: str) -> str:
        return f"{NAMESPACE}:{name}"

    def raw(self, name: str) -> str | None:
        self.read.add(name)
        return self._values.get(self.key(name))

    def peek(self, name: str) -> str | None:
        """The value, without counting the key as used by this stack's layer."""
        return self._values.get(self.key(name))

    def fail(self, name: str, value: object, allowed: str) -> None:
        self.errors.append(f"{self.key(name)} = {str(value)!r}: {allowed}")

    def _missing(self, name: str, allowed: str) -> None:
        why = ""
        if name in self._declared and "default" not in self._declared[name]:
            why = (f" (Pulumi.{self._stack}.yaml must set it: it has no default because the right value "
                   "differs between stacks)")
        self.errors.append(f"{self.key(name)} is not set{why}: {allowed}")

    def _parse(self, name: str, allowed: str, parse: Callable[[str], _T]) -> _T | None:
        value = self.raw(name)
        if value is None or value.strip() == "":
            self._missing(name, allowed)
            return None
        try:
            return parse(value.strip())
        except ValueError:
            self.fail(name, value, allowed)
            return None

    def integer(self, name: str, low: int, high: int, allowed: str | None = None) -> int | None:
        allowed = allowed or f"must be a whole number from {low} to {high}"
        number = self._parse(name, allowed, _strict_int)
        if number is not None and not low <= number <= high:
            self.fail(name, number, allowed)
            return None
        return number

    def one_of(self, name: str, choices: tuple[Any, ...], allowed: str | None = None) -> Any:
        """A whole number or word from a fixed list (retention days, strategies, intervals)."""
        allowed = allowed or f"must be one of {', '.join(map(str, choices))}"
        parse: Callable[[str], Any] = _strict_int if isinstance(choices[0], int) else str
        value = self._parse(name, allowed, parse)
        if value is not None and value not in choices:
            self.fail(name, value, allowed)
            return None
        return value

    def boolean(self, name: str) -> bool | None:
        return self._parse(name, "must be true or false", _strict_bool)

    def text(self, name: str, pattern: str, allowed: str) -> str | None:
        value = self._parse(name, allowed, str)
        if value is not None and not re.fullmatch(pattern, value):
            self.fail(name, value, allowed)
            return None
        return value

    def optional_text(self, name: str, pattern: str, allowed: str) -> str | None:
        """An optional key: unset or empty reads as "" (off); anything else must match."""
        value = (self.raw(name) or "").strip()
        if value and not re.fullmatch(pattern, value):
            self.fail(name, value, allowed)
            return None
        return value

    def decimal(self, name: str, low: float, high: float, step: float, allowed: str) -> float | None:
        """A number from low to high in multiples of step (ECS's canary percent)."""
        number = self._parse(name, allowed, _strict_float)
        if number is None:
            return None
        steps = round(number / step)
        if not low <= number <= high or not math.isclose(steps * step, number, abs_tol=1e-9):
            self.fail(name, self.raw(name), allowed)
            return None
        return round(steps * step, 10)


def _strict_float(text: str) -> float:
    if not re.fullmatch(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", text):
        raise ValueError(text)
    return float(text)


def _strict_int(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(text)
    return int(text)


def _strict_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise ValueError(text)
    return lowered == "true"

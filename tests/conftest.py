"""Runs the real program once per committed stack file and shares the recording across tests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.mocks import ROOT, Run, _as_config_string, read_yaml, run_program, stack_config

# Property tests (tests/test_config_properties.py). `ci` replays the same examples on every run
# (derandomize) so a failure in CI fails again locally; `dev` explores new examples each run. Both print
# the `@reproduce_failure` blob of a failing example. Choose with HYPOTHESIS_PROFILE=ci|dev|thorough.
# Guarded so that a venv without hypothesis still runs every other test (the property tests then fail
# to import, visibly).
try:
    from hypothesis import HealthCheck
    from hypothesis import settings as hypothesis_settings
except ImportError:  # pragma: no cover - requirements-dev.txt installs it
    pass
else:
    _COMMON = hypothesis_settings(deadline=None, database=None, print_blob=True,
                                  suppress_health_check=[HealthCheck.too_slow])
    hypothesis_settings.register_profile("ci", _COMMON, max_examples=30, derandomize=True)
    hypothesis_settings.register_profile("dev", _COMMON, max_examples=30)
    hypothesis_settings.register_profile("thorough", _COMMON, max_examples=500)
    hypothesis_settings.load_profile(os.getenv("HYPOTHESIS_PROFILE", "ci"))

STACKS = ("dev", "prod")
_runs: dict[str, Run] = {}


def stack_run(stack: str) -> Run:
    if stack not in _runs:
        run = run_program(stack)
        assert run.error is None, f"the {stack} program failed under mocks: {run.error!r}"
        _runs[stack] = run
    return _runs[stack]


_shared: dict[tuple[str, str], Run] = {}


def shared_run(stack: str, overrides: dict[str, Any]) -> Run:
    """One successful run per (stack, overrides), shared by every test module that asks for the same one.

    Only for tests that read the recording; a test that needs a fresh run calls run_program itself.
    """
    key = (stack, json.dumps(overrides, sort_keys=True))
    if key not in _shared:
        run = run_program(stack, overrides=overrides)
        assert run.error is None, f"the {stack} program with {overrides} failed under mocks: {run.error!r}"
        _shared[key] = run
    return _shared[key]


def run_where(stack: str, settings: dict[str, Any]) -> Run:
    """The stack's run with these settings, whatever its file says: the committed run when the file already
    says so (no extra render), else a shared run with them as overrides.

    For tests of behaviour that needs a value (a proxy, no deletion protection) rather than of the file.
    """
    written = stack_config(stack)
    if all(written.get(key) == _as_config_string(value) for key, value in settings.items()):
        return stack_run(stack)
    return shared_run(stack, settings)


def stack_file(stack: str) -> dict[str, Any]:
    """The stack's committed settings, as written (the expectations come from the file itself)."""
    return read_yaml(Path(ROOT, f"Pulumi.{stack}.yaml"))["config"]


@pytest.fixture(params=STACKS)
def run(request) -> Run:
    return stack_run(request.param)


@pytest.fixture
def settings(run: Run) -> dict[str, Any]:
    return stack_file(run.stack)


@pytest.fixture
def dev() -> Run:
    return stack_run("dev")


@pytest.fixture
def prod() -> Run:
    return stack_run("prod")

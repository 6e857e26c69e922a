"""Runs the real program once per committed stack file and shares the recording across tests."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.mocks import ACCOUNT, ROOT, Run, read_yaml, run_program, stack_config, stack_region

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

DOMAIN = {"tca:domainName": "todo.example.com", "tca:hostedZoneId": "Z0123456789ABCDEFGHIJ"}
DOCKER_HUB_SECRET = (f"arn:aws:secretsmanager:{stack_region('dev')}:{ACCOUNT}:secret:"
                     "ecr-pullthroughcache/docker-hub-AbC123")

# Two changed configurations that many modules read, so that each is rendered once (shared_run): every key is
# one that some test needs changed, and no test reads a key it does not name. Each render costs a third of a
# second; one render per behaviour would cost several seconds.
DEV_ALL_ON: dict[str, Any] = {
    "tca:alarmEmail": "ops@example.com",          # the alarm topic's email subscription
    "tca:albAccessLogs": True, "tca:waf": True,   # the edge: access-log bucket and web ACL
    "tca:deletionProtection": False,              # an unprotected stack's bucket is emptied on destroy
    "tca:dbProxy": True,                          # switching the proxy on
    "tca:dbMonitoringIntervalSeconds": 60,        # enhanced monitoring's role
    "tca:deploymentStrategy": "CANARY",           # dev with prod's canary wiring
    "tca:dockerHubCredentialsSecretArn": DOCKER_HUB_SECRET,  # the pull-through cache
    "tca:appImage": "nginx:1.27",                 # an official image, from the cache's library/ path
    "tca:dbEngineVersion": 14,                    # the oldest supported major
}
PROD_CHANGED: dict[str, Any] = {
    **DOMAIN,                                     # HTTPS on a custom domain
    "tca:dbProxy": True, "tca:dbProxyClientAuth": "POSTGRES_SCRAM_SHA_256",  # the proxy's client auth
    "tca:dbSlowStatementMs": -1,                  # slow-statement logging off
    "tca:dbEngineVersion": 18,                    # the newest supported major
    "tca:canaryBakeMinutes": 1440, "tca:deploymentBakeMinutes": 10,  # a day-long canary bake
    "tca:dbManagedMasterPassword": False,         # the stack-generated master password (a stack moving over)
}


def pytest_collection_finish(session) -> None:
    # Every render leaves hundreds of thousands of objects alive (the shared recordings), and the default GC
    # thresholds rescan all of them again and again: it cost about a third of the suite's time. The objects
    # alive after collection (modules, test items) are frozen out of every scan, and young collections run
    # less often; cycles are still collected.
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


_shared: dict[tuple[str, str], Run] = {}


def shared_run(stack: str, overrides: dict[str, Any]) -> Run:
    """One successful run per effective configuration (the stack file's values under `overrides`), shared by
    every test module that asks for it: overrides the file already says, or another module's override set
    that comes to the same configuration, reuse the same render.

    Only for tests that read the recording; a test that needs a fresh run calls run_program itself.
    """
    key = (stack, json.dumps(stack_config(stack, overrides), sort_keys=True))
    if key not in _shared:
        run = run_program(stack, overrides=overrides)
        assert run.error is None, f"the {stack} program with {overrides} failed under mocks: {run.error!r}"
        _shared[key] = run
    return _shared[key]


def stack_run(stack: str) -> Run:
    """The stack's run with its committed file as it is."""
    return shared_run(stack, {})


def run_where(stack: str, settings: dict[str, Any]) -> Run:
    """The stack's run with these settings, whatever its file says: the committed run when the file already
    says so (no extra render), else a shared run with them as overrides.

    For tests of behaviour that needs a value (a proxy, no deletion protection) rather than of the file.
    """
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

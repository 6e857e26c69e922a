"""The shared deploy-time step mechanism: AWS clients, polling, diff/update/delete, and how Pulumi
stores the providers (by reference, loaded from the project directory)."""

from __future__ import annotations

import base64
import subprocess
import sys

import boto3
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from infra import deploy_step
from infra.deploy_step import DeployStepProvider, aws_client, poll
from infra.proxy_ready_provider import ProxyReadyProvider
from infra.release_check_provider import RolloutCheckProvider
from infra.seed_provider import SeedProvider
from tests.mocks import ROOT

PROVIDERS = [
    (SeedProvider, "infra.seed_provider"),
    (ProxyReadyProvider, "infra.proxy_ready_provider"),
    (RolloutCheckProvider, "infra.release_check_provider"),
]


class _Step(DeployStepProvider):
    KEYS = ("key",)
    OUTPUTS = ("result",)


def test_client_uses_the_stack_region_and_profile(monkeypatch):
    seen: dict[str, object] = {}

    class Session:
        def __init__(self, profile_name=None, region_name=None):
            seen.update(profile=profile_name, region=region_name)

        def client(self, name):
            seen["service"] = name
            return object()

    monkeypatch.setattr(boto3.session, "Session", Session)
    aws_client({"region": "us-west-2", "profile": "deployer"}, "ecs")
    assert seen == {"profile": "deployer", "region": "us-west-2", "service": "ecs"}
    aws_client({"region": "us-west-2", "profile": ""}, "rds")
    assert seen["profile"] is None


def test_poll_returns_the_first_answer_and_gives_up_with_none(monkeypatch):
    monkeypatch.setattr(deploy_step.time, "sleep", lambda s: None)
    answers = iter([None, None, "done"])
    assert poll(lambda: next(answers), delay=1, max_attempts=3) == "done"
    calls: list[int] = []
    assert poll(lambda: calls.append(1), delay=1, max_attempts=4) is None
    assert len(calls) == 4


def test_a_key_change_reruns_the_step_and_other_changes_only_update():
    olds = {"key": "a", "other": 1, "result": "r", "__provider": "p1"}
    assert _Step().diff("id", olds, {"key": "b", "other": 1, "__provider": "p1"}).replaces == ["key"]
    update = _Step().diff("id", olds, {"key": "a", "other": 2, "__provider": "p1"})
    assert update.changes is True and update.replaces == []
    assert update.delete_before_replace is False


def test_a_new_provider_pickle_or_an_unset_output_alone_changes_nothing():
    olds = {"key": "a", "result": "r", "__provider": "p1"}
    assert _Step().diff("id", olds, {"key": "a", "result": None, "__provider": "p2"}).changes is False


def test_update_keeps_the_steps_result_and_delete_does_nothing():
    outs = _Step().update("id", {"key": "a", "result": "r"}, {"key": "a", "other": 3}).outs
    assert outs == {"key": "a", "other": 3, "result": "r"}
    _Step().delete("id", {"key": "a"})  # returns without calling anything


@pytest.mark.parametrize("provider,module", PROVIDERS, ids=[m for _, m in PROVIDERS])
def test_every_step_uses_the_shared_mechanism(provider, module):
    assert issubclass(provider, DeployStepProvider)
    assert provider.__module__ == module


@pytest.mark.parametrize("provider,module", PROVIDERS, ids=[m for _, m in PROVIDERS])
def test_state_refers_to_the_provider_by_module_and_class_not_by_its_code(provider, module):
    """What Pulumi stores is a reference: renaming or moving the module breaks deployed stacks."""
    raw = base64.b64decode(serialize_provider(provider()))
    assert module.encode() in raw and provider.__name__.encode() in raw
    assert b"co_code" not in raw and b"CodeType" not in raw and len(raw) < 500, "pickled by value"


def test_serialized_providers_load_in_a_fresh_process_from_the_project_directory():
    """Pulumi's dynamic-provider host, started in the project directory, must load each and answer diff."""
    script = (
        "import base64, sys, dill\n"
        "for line in sys.stdin.read().split():\n"
        "    p = dill.loads(base64.b64decode(line))\n"
        "    print(type(p).__module__, type(p).__name__, p.diff('x', {}, {}).changes)\n")
    encoded = "\n".join(serialize_provider(provider()) for provider, _ in PROVIDERS)
    out = subprocess.run([sys.executable, "-c", script], input=encoded, check=False,
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"{module} {provider.__name__} False" for provider, module in PROVIDERS]

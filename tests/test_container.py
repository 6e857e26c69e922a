"""The one container definition shared by the service and the seed: hardened the same way in both."""

from __future__ import annotations

import pytest

from tests.helpers import ECS_SERVICE, plain

SEED_TASK = "awsx:ecs:FargateTaskDefinition"


def _containers(run) -> dict[str, dict]:
    return {
        "service": plain(run.one(ECS_SERVICE).inputs["taskDefinitionArgs"]["container"]),
        "seed": plain(run.one(SEED_TASK).inputs["container"]),
    }


@pytest.mark.parametrize("which", ["service", "seed"])
def test_container_runs_as_alpine_nobody_not_root_ecs_5(run, which):
    assert _containers(run)[which]["user"] == "65534:65534"


@pytest.mark.parametrize("which", ["service", "seed"])
def test_container_root_file_system_is_read_only_ecs_5(run, which):
    assert _containers(run)[which]["readonlyRootFilesystem"] is True


@pytest.mark.parametrize("which", ["service", "seed"])
def test_container_drops_every_linux_capability_and_adds_none_ecs_5(run, which):
    assert _containers(run)[which]["linuxParameters"] == {"capabilities": {"drop": ["ALL"]}}


def test_container_is_not_privileged_ecs_4(run):
    for which, c in _containers(run).items():
        assert c.get("privileged", False) is False, which

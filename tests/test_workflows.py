"""The GitHub workflows: what runs on pull requests and on main, and how they reach AWS."""

from __future__ import annotations

import pytest
import yaml

from tests.mocks import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def _load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _triggers(workflow: dict) -> dict:
    # YAML 1.1 reads the key `on` as the boolean True.
    return workflow.get("on") or workflow[True]


def _steps(job: dict) -> list[dict]:
    return job["steps"]


def _uses(job: dict, action: str) -> list[dict]:
    return [s for s in _steps(job) if s.get("uses", "").startswith(action)]


@pytest.mark.parametrize("name", ["pull-request.yml", "deploy.yml", "destroy-dev.yml"])
def test_aws_access_is_oidc_only(name):
    text = (WORKFLOWS / name).read_text()
    assert "aws-access-key-id" not in text and "aws-secret-access-key" not in text
    for job in _load(name)["jobs"].values():
        for step in _uses(job, "aws-actions/configure-aws-credentials"):
            assert step["with"]["role-to-assume"].startswith("${{ vars.AWS_")
            assert job["permissions"]["id-token"] == "write"


@pytest.mark.parametrize("name", ["pull-request.yml", "deploy.yml", "destroy-dev.yml"])
def test_backend_url_and_passphrase_come_from_repository_settings(name):
    env = _load(name)["env"]
    assert env["PULUMI_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL }}"
    assert env["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"


def test_pull_requests_run_ci_then_preview_both_stacks_and_guard_the_database():
    workflow = _load("pull-request.yml")
    assert "pull_request" in _triggers(workflow)
    checks, preview = workflow["jobs"]["checks"], workflow["jobs"]["preview"]
    assert any(s.get("run") == "bash .ci/run" for s in _steps(checks))
    assert preview["needs"] == "checks"
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    (action,) = _uses(preview, "pulumi/actions")
    assert action["with"]["command"] == "preview" and action["with"]["comment-on-pr"] is True
    assert any("scripts/check_preview.py" in s.get("run", "") for s in _steps(preview))
    assert _uses(preview, "aws-actions/configure-aws-credentials")[0]["with"]["role-to-assume"] == \
        "${{ vars.AWS_PREVIEW_ROLE_ARN }}"


def test_main_deploys_dev_then_prod_behind_an_approved_environment_with_smoke_tests():
    workflow = _load("deploy.yml")
    assert _triggers(workflow)["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert jobs["dev"]["needs"] == "checks" and jobs["prod"]["needs"] == "dev"
    assert jobs["prod"]["environment"] == "production"
    for stack in ("dev", "prod"):
        (up,) = _uses(jobs[stack], "pulumi/actions")
        assert (up["with"]["command"], up["with"]["stack-name"]) == ("up", stack)
        smoke = [s for s in _steps(jobs[stack]) if "scripts/smoke.py" in s.get("run", "")]
        assert smoke and "steps.up.outputs.url" in smoke[0]["run"]


def test_destroy_is_manual_and_only_for_dev():
    workflow = _load("destroy-dev.yml")
    assert set(_triggers(workflow)) == {"workflow_dispatch"}
    (job,) = workflow["jobs"].values()
    (action,) = _uses(job, "pulumi/actions")
    assert (action["with"]["command"], action["with"]["stack-name"]) == ("destroy", "dev")
    assert "destroy dev" in job["if"]

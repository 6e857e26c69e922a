"""Day two: an operator changes the stack files after the first deploy, and the program still validates,
renders and keeps the prod guardrails.

The changes are tests/operator_changes.py's: every key of both stack files moves to another valid value,
the region included (the README's procedure: aws:region in both stack files, AWS_REGION in every workflow).
`python -m tests.operator_changes` runs the whole suite against a copy with these changes written in.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pulumi
import pytest

from infra.config import declared_keys, load_config
from tests.conftest import STACKS, shared_run, stack_file
from tests.helpers import ECS_SERVICE, RDS, container, int_of, plain
from tests.mocks import ROOT, AwsMocks, Run, rds_offers_like_aws, read_yaml, stack_config
from tests.operator_changes import (
    CHANGES,
    NEW_REGION,
    ROLLBACK_DIGEST,
    apply_to_copy,
    changed_stack_config,
    set_workflow_region,
)

WORKFLOWS = ROOT / ".github" / "workflows"


@pytest.fixture(params=STACKS)
def changed(request) -> Run:
    """The stack rendered from its committed file with every operator change applied."""
    return shared_run(request.param, CHANGES[request.param])


def test_the_operator_changes_state_every_key_of_both_stack_files():
    """Complete, so the changed configuration is the same whatever the committed files say."""
    keys = {"aws:region", *(f"tca:{key}" for key in declared_keys())}
    assert set(CHANGES["dev"]) == set(CHANGES["prod"]) == keys


def test_both_stacks_render_with_every_operator_change(changed):
    assert changed.error is None
    assert changed.region == NEW_REGION


def test_the_changed_values_reach_the_resources(changed):
    wanted = changed_stack_config(changed.stack)
    task = plain(changed.one(ECS_SERVICE).inputs["taskDefinitionArgs"])
    assert (int(task["cpu"]), int(task["memory"])) == (wanted["tca:taskCpu"], wanted["tca:taskMemory"])
    target = changed.one("aws:appautoscaling/target:Target").inputs
    assert (int_of(target["minCapacity"]), int_of(target["maxCapacity"])) == (wanted["tca:minTasks"],
                                                                              wanted["tca:maxTasks"])
    rds = changed.one(RDS).inputs
    assert (rds["instanceClass"], rds["maintenanceWindow"], rds["backupWindow"]) == (
        wanted["tca:dbInstanceClass"], wanted["tca:dbMaintenanceWindow"], wanted["tca:dbBackupWindow"])
    retention = {int_of(g.inputs["retentionInDays"]) for g in changed.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert retention == {wanted["tca:logRetentionDays"]}
    (subscription,) = changed.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs["endpoint"] == wanted["tca:alarmEmail"]


def test_prod_keeps_every_guardrail_of_its_policy_pack_under_the_operator_changes():
    """The changes are valid ones: prod's stay inside policy/prod.json, so the suite tests real operator choices."""
    prod, policy = shared_run("prod", CHANGES["prod"]), json.loads((ROOT / "policy" / "prod.json").read_text())
    rds = prod.one(RDS).inputs
    assert int_of(rds["backupRetentionPeriod"]) >= policy["rds-backups"]["minRetentionDays"]
    assert rds["deletionProtection"] is True and prod.one(RDS).protect is True
    assert rds["multiAz"] is True
    assert 0 < int_of(rds["monitoringInterval"]) <= policy["rds-enhanced-monitoring"]["maxIntervalSeconds"]
    alb = prod.one("awsx:lb:ApplicationLoadBalancer").inputs
    assert alb["enableDeletionProtection"] is True and alb["accessLogs"]["enabled"] is True
    assert len(prod.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")) == 1
    assert prod.one(ECS_SERVICE).inputs["deploymentConfiguration"]["strategy"] == "CANARY"
    for group in prod.of_type("aws:cloudwatch/logGroup:LogGroup"):
        assert int_of(group.inputs["retentionInDays"]) >= policy["log-group-retention"]["minRetentionDays"]


# -- the region is a value ------------------------------------------------------------------------

def _copy_region_files(destination: Path) -> None:
    for stack in STACKS:
        shutil.copy2(ROOT / f"Pulumi.{stack}.yaml", destination / f"Pulumi.{stack}.yaml")
    (destination / ".github").mkdir()
    shutil.copytree(WORKFLOWS, destination / ".github" / "workflows")


def test_the_region_procedure_moves_both_stack_files_and_every_workflow_together(tmp_path):
    _copy_region_files(tmp_path)
    apply_to_copy(tmp_path)
    stacks = {stack: read_yaml(tmp_path / f"Pulumi.{stack}.yaml")["config"] for stack in STACKS}
    workflows = {path.name: read_yaml(path) for path in (tmp_path / ".github" / "workflows").glob("*.yml")}
    assert workflows, "no workflow to move"
    # What test_workflows checks of the committed files, here of the moved ones.
    assert {config["aws:region"] for config in stacks.values()} == {NEW_REGION}
    assert {name: wf["env"]["AWS_REGION"] for name, wf in workflows.items()} == dict.fromkeys(workflows, NEW_REGION)
    for stack, config in stacks.items():
        assert config == changed_stack_config(stack)


def test_moving_a_workflow_changes_its_aws_region_line_and_nothing_else():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        before = path.read_text().splitlines()
        after = set_workflow_region(path.read_text(), NEW_REGION).splitlines()
        assert len(before) == len(after), path.name
        changed_lines = [new for old, new in zip(before, after, strict=True) if old != new]
        assert [line.strip() for line in changed_lines] == [f"AWS_REGION: {NEW_REGION}"], path.name


def test_nothing_the_program_sends_or_gets_back_names_the_old_region_after_the_move(changed):
    old = stack_file(changed.stack)["aws:region"]
    if old == NEW_REGION:
        pytest.skip("the stack file is already in the region the procedure moves to")
    for reg in changed.registrations:
        text = json.dumps([reg.inputs, reg.outputs], default=str)
        assert old not in text, f"{reg.type} {reg.name} still names {old}"
    assert old not in json.dumps(changed.outputs, default=str)


def test_the_mocks_answer_zone_lookups_in_the_stacks_region():
    call = pulumi.runtime.MockCallArgs(token="aws:index/getAvailabilityZones:getAvailabilityZones", args={},
                                       provider="")
    answer = AwsMocks("dev", NEW_REGION).call(call)
    assert answer["names"] == [f"{NEW_REGION}{letter}" for letter in "abc"]
    assert all(zone.endswith(("-az1", "-az2", "-az3")) for zone in answer["zoneIds"])


# -- the bad-release runbook: pin the previous image by digest and commit the stack file -----------

def test_the_rollback_commit_pinning_prods_image_by_digest_validates():
    values = stack_config("prod", {"tca:appImage": ROLLBACK_DIGEST})
    assert load_config("prod", values, offered=rds_offers_like_aws).service.app_image == ROLLBACK_DIGEST


def test_the_rollback_commit_renders_with_the_digest_in_the_service_and_the_seed():
    # prod's operator changes pin the digest and set no Docker Hub credentials, so the image goes out as written.
    prod = shared_run("prod", CHANGES["prod"])
    assert CHANGES["prod"]["tca:appImage"] == ROLLBACK_DIGEST
    assert container(prod)["image"] == ROLLBACK_DIGEST
    assert plain(prod.one("awsx:ecs:FargateTaskDefinition").inputs["container"])["image"] == ROLLBACK_DIGEST

"""Release check wiring under mocks: one rollout check per new task definition, after the service."""

from __future__ import annotations

from tests.helpers import ECS_SERVICE, plain

CHECK = "pulumi-python:dynamic/release:RolloutCheck"


def test_rollout_check_is_keyed_on_the_services_current_task_definition(run):
    props = plain(run.one(CHECK).inputs)
    task_definition = run.referenced(run.one(ECS_SERVICE).outputs["taskDefinition"])
    assert props["task_definition"] == task_definition["arn"]


def test_rollout_check_reads_this_service_in_this_cluster_and_region(run, settings):
    props = plain(run.one(CHECK).inputs)
    service = run.referenced(run.one(ECS_SERVICE).outputs["service"])
    assert props["service"] == service["name"]
    assert props["cluster"] == run.one("aws:ecs/cluster:Cluster").outputs["arn"]
    assert props["region"] == settings["aws:region"] and props["profile"] == ""


def test_rollout_check_runs_after_awsx_finished_updating_the_service(run):
    assert run.one(ECS_SERVICE).urn in run.one(CHECK).dependencies


def test_rollout_check_belongs_to_the_release_check_component(run):
    component = run.one("tca:infra:ReleaseCheck")
    assert run.one(CHECK).parent == component.urn
    assert component.parent.endswith(f"pulumi:pulumi:Stack::tca-{run.stack}")

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
    assert props["cluster"] == run.one("aws:ecs/cluster:Cluster", "-cluster").outputs["arn"]
    assert props["region"] == settings["aws:region"] and props["profile"] == ""


def test_rollout_check_runs_after_awsx_finished_updating_the_service(run):
    assert run.one(ECS_SERVICE).urn in run.one(CHECK).dependencies


def test_rollout_check_belongs_to_the_release_check_component(run):
    component = run.one("tca:infra:ReleaseCheck")
    assert run.one(CHECK).parent == component.urn
    assert component.parent.endswith(f"pulumi:pulumi:Stack::tca-{run.stack}")


def test_rollout_check_waits_through_the_canarys_bakes_and_at_least_half_an_hour(run, settings):
    bakes = (settings["tca:canaryBakeMinutes"] + settings["tca:deploymentBakeMinutes"]
             if settings["tca:deploymentStrategy"] == "CANARY" else 0)
    assert int(plain(run.one(CHECK).inputs)["wait_minutes"]) == max(30, 20 + bakes)


def test_a_day_long_canary_bake_gives_the_rollout_check_a_day_and_more():
    from tests.conftest import PROD_CHANGED, shared_run
    assert (PROD_CHANGED["tca:canaryBakeMinutes"], PROD_CHANGED["tca:deploymentBakeMinutes"]) == (1440, 10)
    run = shared_run("prod", PROD_CHANGED)
    assert int(plain(run.one(CHECK).inputs)["wait_minutes"]) == 20 + 1440 + 10

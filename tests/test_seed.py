"""Seed wiring under mocks: a one-off `updatedb -s` task, run once, before the service starts."""

from __future__ import annotations

import json

from infra.seed import reseed_command
from tests.helpers import ECS_SERVICE, RDS, VPC, group_id, int_of, plain

SEED = "pulumi-python:dynamic/seed:DatabaseSeed"
SEED_TASK = "awsx:ecs:FargateTaskDefinition"
PROXY_READY = "pulumi-python:dynamic/proxy:ProxyReady"


def _seed_container(run):
    return plain(run.one(SEED_TASK).inputs["container"])


def _service_container(run):
    return plain(run.one(ECS_SERVICE).inputs["taskDefinitionArgs"]["container"])


def test_seed_task_runs_updatedb_skip_create(run):
    assert _seed_container(run)["command"] == ["updatedb", "-s"]


def test_seed_task_has_the_services_image_environment_and_secrets(run):
    seed, service = _seed_container(run), _service_container(run)
    for key in ("image", "environment", "secrets", "name"):
        assert seed[key] == service[key], key


def test_seed_task_logs_to_the_service_log_group_under_its_own_prefix(run):
    seed, service = _seed_container(run)["logConfiguration"], _service_container(run)["logConfiguration"]
    assert seed["options"]["awslogs-group"] == service["options"]["awslogs-group"]
    assert seed["options"]["awslogs-stream-prefix"] == "seed"
    assert plain(run.one(SEED).inputs)["log_stream_prefix"] == "seed"


def test_seed_task_has_no_port_health_check_or_load_balancer(run):
    seed = _seed_container(run)
    assert "portMappings" not in seed and "healthCheck" not in seed


def test_seed_task_uses_the_same_roles_and_size_as_the_service(run):
    seed = run.one(SEED_TASK).inputs
    service = run.one(ECS_SERVICE).inputs["taskDefinitionArgs"]
    for key in ("executionRole", "taskRole", "logGroup", "cpu", "memory", "runtimePlatform"):
        assert seed[key] == service[key], key


def test_seed_runs_the_seed_task_in_private_subnets_with_the_service_group(run):
    props = plain(run.one(SEED).inputs)
    td = run.referenced(run.one(SEED_TASK).outputs["taskDefinition"])
    assert props["task_definition"] == td["arn"]
    assert props["subnets"] == run.one(VPC).outputs["privateSubnetIds"]
    assert props["security_groups"] == [group_id(run, "svc")]
    assert props["cluster"] == run.one("aws:ecs/cluster:Cluster", "-cluster").outputs["arn"]
    assert props["container_name"] == _seed_container(run)["name"]
    assert props["log_group"] == run.one("aws:cloudwatch/logGroup:LogGroup", f"tca-{run.stack}-logs").outputs["name"]


def test_seed_uses_the_stack_region(run, settings):
    assert plain(run.one(SEED).inputs)["region"] == settings["aws:region"]


def test_seed_is_keyed_to_this_database_instance_and_revision(run, settings):
    props = plain(run.one(SEED).inputs)
    assert props["db_instance_id"] == run.one(RDS).outputs["resourceId"]
    assert int_of(props["seed_revision"]) == settings["tca:seedRevision"]


def test_seed_runs_after_the_database_password_and_role_exist(run):
    deps = set(run.one(SEED).dependencies)
    for needed in (run.one(RDS),
                   run.one("aws:iam/rolePolicy:RolePolicy", "-exec-secret"),
                   run.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "-exec-")):
        assert needed.urn in deps, needed.name


def test_seed_starts_only_after_the_proxy_is_ready_exactly_when_there_is_one(run, settings):
    deps = run.one(SEED).dependencies
    ready = run.of_type(PROXY_READY)
    assert len(ready) == (1 if settings["tca:dbProxy"] else 0)
    assert all(r.urn in deps for r in ready)
    # One mechanism waits for the proxy: the seed itself no longer polls it.
    assert "db_proxy_name" not in plain(run.one(SEED).inputs)


def test_service_starts_only_after_the_seed_finished(run):
    assert run.one(SEED).urn in run.one(ECS_SERVICE).dependencies


def test_service_task_definition_has_no_updatedb_and_seed_is_the_only_place(run):
    service = json.dumps(plain(run.one(ECS_SERVICE).inputs))
    assert "updatedb" not in service
    places = [r.name for r in run.registrations if "updatedb" in json.dumps(plain(r.inputs), default=str)]
    assert places == [run.one(SEED_TASK).name]


def test_reseed_command_output_names_the_next_revision_and_warns(run, settings):
    expected = reseed_command(run.stack, settings["tca:seedRevision"])
    assert run.outputs["reseedCommand"] == expected
    assert f"tca:seedRevision {settings['tca:seedRevision'] + 1}" in expected
    assert f"--stack {run.stack}" in expected and "erasing every task" in expected


def test_seed_children_belong_to_the_seed_component(run):
    parent = run.one("tca:infra:Seed").urn
    assert run.one(SEED).parent == parent and run.one(SEED_TASK).parent == parent


def test_seed_revision_must_be_a_positive_whole_number():
    from infra.config import ConfigError
    from tests.mocks import run_program
    result = run_program("dev", overrides={"tca:seedRevision": 0})
    assert isinstance(result.error, ConfigError) and "tca:seedRevision = '0'" in str(result.error)
    assert result.registrations == []


def test_seed_uses_the_stacks_aws_profile_when_one_is_set(run):
    assert plain(run.one(SEED).inputs)["profile"] == ""
    from tests.conftest import shared_run
    with_profile = shared_run("dev", {"aws:profile": "deployer"})
    assert plain(with_profile.one(SEED).inputs)["profile"] == "deployer"

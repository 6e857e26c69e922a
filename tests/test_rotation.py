"""Rotation of the app's database credential by AWS's published multi-user PostgreSQL function."""

from __future__ import annotations

import re

import pytest

from infra.config import MAX_NAME_PREFIX, ROTATION_WINDOW_HOURS, ConfigError, StackSettings
from infra.rotation import rotation_function_name
from tests.conftest import STACKS, run_where, stack_file
from tests.helpers import ECS_SERVICE, RDS, SECRET, VPC, plain
from tests.layered import as_referenced, layer_overrides, layered, qualified
from tests.mocks import run_program

SAR_STACK = "aws:serverlessrepository/cloudFormationStack:CloudFormationStack"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SEED_TASK = "awsx:ecs:FargateTaskDefinition"
MULTI_USER_POSTGRES = ("arn:aws:serverlessrepo:us-east-1:297356227824:applications/"
                       "SecretsManagerRDSPostgreSQLRotationMultiUser")
WITHOUT_PROXY = {"tca:dbProxy": False}
WITH_PROXY = {"tca:dbProxy": True}


def _function(run) -> dict:
    (stack,) = run.of_type(SAR_STACK)
    return stack.inputs


def _secret_arns_the_app_logs_in_with(run) -> set[str]:
    """Every secret the service's and the seed's containers read a credential from (`<arn>:<key>::`)."""
    containers = [plain(run.one(ECS_SERVICE).inputs["taskDefinitionArgs"]["container"]),
                  plain(run.one(SEED_TASK).inputs["container"])]
    return {s["valueFrom"].rsplit(":", 3)[0] for c in containers for s in c.get("secrets", [])}


@pytest.mark.parametrize("stack", STACKS)
def test_every_secret_the_app_logs_in_with_is_rotated_by_the_multi_user_function_without_a_proxy_secretsmanager_1(
        stack):
    run = run_where(stack, WITHOUT_PROXY)
    function_arn = run.one(SAR_STACK).outputs["outputs"]["RotationLambdaARN"]
    rotated = {r.inputs["secretId"]: r.inputs["rotationLambdaArn"] for r in run.of_type(ROTATION)}
    used = _secret_arns_the_app_logs_in_with(run)
    assert used
    assert rotated == dict.fromkeys(used, function_arn)


@pytest.mark.parametrize("stack", STACKS)
def test_proxy_stacks_rotate_no_app_credential_because_the_proxy_cannot_follow_alternating_users(stack):
    """Documented waiver of SecretsManager.1 for the app secret (docs/database.md): RDS Proxy authenticates against
    each auth secret's current version only. The master is still rotated, by RDS."""
    run = run_where(stack, WITH_PROXY)
    assert run.of_type(ROTATION) == []
    assert run.of_type(SAR_STACK) == []
    assert run.of_type("tca:infra:CredentialRotation") == []


@pytest.mark.parametrize("stack", STACKS)
def test_rotation_waits_for_its_schedule_instead_of_rotating_at_once(stack):
    # RotateSecret with RotateImmediately (the provider's default) rotates on create and on every change of the
    # rules: two rotations could then come closer together than tca:rotationDays allows.
    (rotation,) = run_where(stack, WITHOUT_PROXY).of_type(ROTATION)
    assert rotation.inputs["rotateImmediately"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_rotation_runs_every_rotation_days_in_a_fixed_window(stack):
    (rotation,) = run_where(stack, WITHOUT_PROXY).of_type(ROTATION)
    assert rotation.inputs["rotationRules"] == {
        "scheduleExpression": f"rate({stack_file(stack)['tca:rotationDays']} days)",
        "duration": f"{ROTATION_WINDOW_HOURS}h",
    }


@pytest.mark.parametrize("stack", STACKS)
def test_rotation_starts_only_after_the_bootstrap_created_both_users(stack):
    run = run_where(stack, WITHOUT_PROXY)
    (rotation,) = run.of_type(ROTATION)
    (bootstrap,) = [r for r in run.registrations if r.type.startswith("pulumi-python:dynamic/")
                    and "bootstrap" in r.name.lower()]
    assert bootstrap.urn in rotation.dependencies


@pytest.mark.parametrize("stack", STACKS)
def test_rotation_function_is_awss_multi_user_postgresql_application_at_a_pinned_version(stack):
    function = _function(run_where(stack, WITHOUT_PROXY))
    assert function["applicationId"] == MULTI_USER_POSTGRES
    assert re.fullmatch(r"\d+\.\d+\.\d+", function["semanticVersion"])
    # The template creates the function's role and the permission Secrets Manager invokes it with.
    assert sorted(function["capabilities"]) == ["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"]


@pytest.mark.parametrize("stack", STACKS)
def test_rotation_function_runs_in_the_private_subnets_with_the_database_admin_group(stack):
    run = run_where(stack, WITHOUT_PROXY)
    parameters = _function(run)["parameters"]
    assert parameters["vpcSubnetIds"] == ",".join(run.one(VPC).outputs["privateSubnetIds"])
    admin = run.one("aws:ec2/securityGroup:SecurityGroup", "-admin-sg").id
    assert parameters["vpcSecurityGroupIds"] == admin


@pytest.mark.parametrize("stack", STACKS)
def test_rotation_functions_admin_group_reaches_postgres_on_the_database_group_and_https_out(stack):
    run = run_where(stack, WITHOUT_PROXY)
    admin = run.one("aws:ec2/securityGroup:SecurityGroup", "-admin-sg").id
    db = run.one("aws:ec2/securityGroup:SecurityGroup", "-db-sg").id
    egress = {(e.inputs["fromPort"], e.inputs["toPort"], e.inputs.get("referencedSecurityGroupId"),
               e.inputs.get("cidrIpv4"))
              for e in run.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
              if e.inputs["securityGroupId"] == admin}
    assert egress == {(5432, 5432, db, None), (443, 443, None, "0.0.0.0/0")}


@pytest.mark.parametrize("stack", STACKS)
def test_rotation_function_calls_secrets_manager_in_the_stacks_region(stack):
    run = run_where(stack, WITHOUT_PROXY)
    assert _function(run)["parameters"]["endpoint"] == f"https://secretsmanager.{run.region}.amazonaws.com"


@pytest.mark.parametrize("stack", STACKS)
def test_rotation_function_decrypts_with_the_stack_key_and_logs_in_as_the_master(stack):
    run = run_where(stack, WITHOUT_PROXY)
    parameters = _function(run)["parameters"]
    key = run.one("aws:kms/key:Key").outputs["arn"]
    assert parameters["kmsKeyArn"] == parameters["masterSecretKmsKeyArn"] == key
    instance = run.one(RDS)
    managed = instance.outputs.get("masterUserSecrets") or []
    master = (managed[0]["secretArn"] if managed
              else next(s.id for s in run.of_type(SECRET) if s.name.endswith("-credentials")))
    assert parameters["masterSecretArn"] == master


@pytest.mark.parametrize("stack", STACKS)
def test_rotated_passwords_leave_out_what_rds_and_the_apps_connection_string_refuse(stack):
    # RDS refuses "/", "@", '"' (and spaces, which GetRandomPassword never includes unless asked);
    # the app pastes the password unquoted into a lib/pq key=value string, where "'" and "\" break it.
    excluded = _function(run_where(stack, WITHOUT_PROXY))["parameters"]["excludeCharacters"]
    assert sorted(excluded) == sorted("/@\"'\\")


@pytest.mark.parametrize("stack", STACKS)
def test_rotation_functions_log_group_exists_first_with_the_stack_key_and_retention(stack):
    run = run_where(stack, WITHOUT_PROXY)
    function = run.one(SAR_STACK)
    name = f"/aws/lambda/{function.inputs['parameters']['functionName']}"
    (group,) = [g for g in run.of_type(LOG_GROUP) if g.inputs.get("name") == name]
    assert group.inputs["kmsKeyId"] == run.one("aws:kms/key:Key").outputs["arn"]
    assert group.inputs["retentionInDays"] == stack_file(stack)["tca:logRetentionDays"]
    assert group.urn in function.dependencies


def test_rotation_function_name_fits_lambdas_64_characters_for_the_longest_stack_name():
    longest = "a" * (MAX_NAME_PREFIX - len("tca-"))
    stack = StackSettings(stack=longest, region="ap-southeast-2", aws_profile="", deletion_protection=False,
                          log_retention_days=7)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", rotation_function_name(stack))


@pytest.mark.parametrize("stack", STACKS)
def test_rotation_resources_belong_to_the_credential_rotation_component(stack):
    run = run_where(stack, WITHOUT_PROXY)
    parent = run.one("tca:infra:CredentialRotation").urn
    for r in run.of_type(SAR_STACK) + run.of_type(ROTATION):
        assert r.parent == parent, r.name


# -- a deployment split into layers ---------------------------------------------------------------------------

def test_a_database_layer_rotates_the_app_credential_and_names_its_period_for_the_app_layer():
    runs = layered("dev", WITHOUT_PROXY)
    assert len(runs["database"].of_type(ROTATION)) == 1
    assert runs["database"].outputs["dbRotationDays"] == stack_file("dev")["tca:rotationDays"]
    assert runs["app"].of_type(ROTATION) == []
    assert len(runs["app"].of_type("tca:infra:ScheduledRedeploy")) == 1


def test_a_database_layer_behind_rds_proxy_names_no_period_and_its_app_layer_is_not_redeployed_daily():
    runs = layered("prod", WITH_PROXY)
    assert "dbRotationDays" not in runs["database"].outputs
    assert runs["database"].of_type(ROTATION) == []
    assert runs["app"].of_type("tca:infra:ScheduledRedeploy") == []


def test_an_app_layer_whose_releases_outlast_the_database_layers_rotation_period_is_refused_before_anything():
    runs = layered("dev", WITHOUT_PROXY)
    outputs = {qualified("dev", layer): as_referenced(runs[layer].outputs) for layer in ("network", "database")}
    # Two days apart at worst 44 h; a day plus two day-long bakes is more.
    outputs[qualified("dev", "database")]["dbRotationDays"] = 2.0
    slow = {"tca:deploymentStrategy": "CANARY", "tca:canaryBakeMinutes": 1440, "tca:deploymentBakeMinutes": 1440}
    run = run_program("dev-app", {**WITHOUT_PROXY, **slow, **layer_overrides("dev", "app")}, stack_file="dev",
                      stack_outputs=outputs)
    assert isinstance(run.error, ConfigError), run.error
    assert run.registrations == []
    assert "rotates the app credential every 2 days (its tca:rotationDays)" in str(run.error)

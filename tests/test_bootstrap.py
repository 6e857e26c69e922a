"""The database bootstrap (infra/bootstrap.py): the app's login roles, created by the master before anything uses
them, in a hardened one-off task on the database administration path."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from infra.bootstrap import BOOTSTRAP_SQL, PSQL_SCRIPT
from infra.database import PASSWORD_EXCLUDE_CHARACTERS
from tests.conftest import PROD_CHANGED, run_where, shared_run
from tests.helpers import ECS_SERVICE, RDS, SECRET, SECRET_VERSION, VPC, group_id, int_of, plain

STEP = "pulumi-python:dynamic/bootstrap:DatabaseBootstrap"
TASK_DEF = "aws:ecs/taskDefinition:TaskDefinition"
CLUSTER = "aws:ecs/cluster:Cluster"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SEED = "pulumi-python:dynamic/seed:DatabaseSeed"
PROXY = "aws:rds/proxy:Proxy"
PROXY_READY = "pulumi-python:dynamic/proxy:ProxyReady"


def _container(run) -> dict:
    (container,) = json.loads(run.one(TASK_DEF, "-dbadmin-task").inputs["containerDefinitions"])
    return container


def _props(run) -> dict:
    return plain(run.one(STEP).inputs)


def _master_secret_arn(run) -> str:
    managed = run.one(RDS).outputs["masterUserSecrets"]
    return managed[0]["secretArn"] if managed else run.one(SECRET, f"tca-{run.stack}-credentials").outputs["arn"]


def _app_secret_arn(run) -> str:
    return run.one(SECRET, "-app-credentials").outputs["arn"]


def stack_generated_master():
    assert PROD_CHANGED["tca:dbManagedMasterPassword"] is False
    return shared_run("prod", PROD_CHANGED)


@pytest.fixture
def proxied():
    return run_where("prod", {"tca:dbProxy": True})


# -- the task ----------------------------------------------------------------------------------------------

def test_bootstrap_runs_psql_of_the_engines_major_from_ecr_public(run, settings):
    # ECR Public's copy of Docker's official image: no Docker Hub anonymous pull limit behind the NAT's one IP.
    major = settings["tca:dbEngineVersion"]
    assert _container(run)["image"] == f"public.ecr.aws/docker/library/postgres:{major}-alpine"


def test_bootstrap_image_follows_a_changed_major():
    run = shared_run("prod", PROD_CHANGED)
    assert _container(run)["image"].endswith(f":{PROD_CHANGED['tca:dbEngineVersion']}-alpine")


def test_bootstrap_container_runs_as_the_images_postgres_user_not_root_ecs_5(run):
    assert _container(run)["user"] == "70:70"


def test_bootstrap_container_root_file_system_is_read_only_ecs_5(run):
    assert _container(run)["readonlyRootFilesystem"] is True


def test_bootstrap_container_drops_every_capability_and_is_not_privileged_ecs_4(run):
    container = _container(run)
    assert container["linuxParameters"] == {"capabilities": {"drop": ["ALL"]}}
    assert container["privileged"] is False


def test_bootstrap_runs_exactly_the_psql_script_with_the_sql_in_its_environment(run):
    container = _container(run)
    assert container["entryPoint"] == ["sh", "-c"]
    assert container["command"] == [PSQL_SCRIPT]
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["BOOTSTRAP_SQL"] == BOOTSTRAP_SQL


def test_the_psql_script_stops_at_the_first_error_and_takes_every_value_as_a_psql_variable():
    assert PSQL_SCRIPT == ('printf \'%s\\n\' "$BOOTSTRAP_SQL" | psql -X -v ON_ERROR_STOP=1 -v VERBOSITY=terse '
                           '-v app_user="$APP_USER" -v app_password="$APP_PASSWORD" -f -')


def test_bootstrap_connects_to_the_instance_itself_over_tls_never_through_the_proxy(proxied):
    env = {e["name"]: e["value"] for e in _container(proxied)["environment"]}
    rds = proxied.one(RDS).outputs
    assert env["PGHOST"] == rds["address"] != proxied.one(PROXY).outputs["endpoint"]
    assert env["PGPORT"] == str(int_of(rds["port"])) and env["PGDATABASE"] == proxied.one(RDS).inputs["dbName"]
    assert env["PGSSLMODE"] == "require"


@pytest.mark.parametrize("managed", [True, False])
def test_bootstrap_reads_the_master_login_and_the_app_credential_only_as_ecs_secrets(managed):
    run = run_where("prod", {"tca:dbManagedMasterPassword": True}) if managed else stack_generated_master()
    container = _container(run)
    master, app = _master_secret_arn(run), _app_secret_arn(run)
    assert container["secrets"] == [
        {"name": "PGUSER", "valueFrom": f"{master}:username::"},
        {"name": "PGPASSWORD", "valueFrom": f"{master}:password::"},
        {"name": "APP_USER", "valueFrom": f"{app}:username::"},
        {"name": "APP_PASSWORD", "valueFrom": f"{app}:password::"}]
    env = container["environment"]
    assert set({e["name"] for e in env}) == {"PGHOST", "PGPORT", "PGDATABASE", "PGSSLMODE", "PGCONNECT_TIMEOUT",
                                             "BOOTSTRAP_SQL"}
    assert not any(secret in json.dumps(container) for secret in run.generated_secrets)


def test_bootstrap_task_is_a_small_fargate_task_without_a_task_role(run):
    task = run.one(TASK_DEF, "-dbadmin-task").inputs
    assert task["requiresCompatibilities"] == ["FARGATE"] and task["networkMode"] == "awsvpc"
    assert (task["cpu"], task["memory"]) == ("256", "512")
    assert "taskRoleArn" not in task
    assert task["executionRoleArn"] == run.one(ROLE, "-dbadmin-role").outputs["arn"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,255}", task["family"]) and task["family"].startswith(f"tca-{run.stack}-")


def test_bootstrap_logs_to_its_own_group(run):
    options = _container(run)["logConfiguration"]
    assert options["logDriver"] == "awslogs"
    assert options["options"] == {"awslogs-group": run.one(LOG_GROUP, "-dbadmin-logs").outputs["name"],
                                  "awslogs-region": run.region, "awslogs-stream-prefix": "bootstrap"}


# -- its role -------------------------------------------------------------------------------------------------

def test_bootstrap_execution_role_is_assumable_only_by_ecs_tasks(run):
    trust = json.loads(run.one(ROLE, "-dbadmin-role").inputs["assumeRolePolicy"])
    assert [(s["Principal"], s["Action"]) for s in trust["Statement"]] == [
        ({"Service": "ecs-tasks.amazonaws.com"}, "sts:AssumeRole")]


@pytest.mark.parametrize("managed", [True, False])
def test_bootstrap_execution_role_reads_only_the_master_and_app_secrets_and_writes_its_logs_iam_1(managed):
    run = run_where("prod", {"tca:dbManagedMasterPassword": True}) if managed else stack_generated_master()
    policy = run.one(ROLE_POLICY, "-dbadmin-role")
    assert policy.inputs["role"] == run.one(ROLE, "-dbadmin-role").id
    group = run.one(LOG_GROUP, "-dbadmin-logs").outputs["arn"]
    assert json.loads(policy.inputs["policy"])["Statement"] == [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": [_master_secret_arn(run), _app_secret_arn(run)]},
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": run.one("aws:kms/key:Key").outputs["arn"],
         "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{run.region}.amazonaws.com"}}},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": [group, f"{group}:*"]},
    ]


# -- where and when it runs -------------------------------------------------------------------------------------

def test_bootstrap_runs_in_the_private_subnets_with_the_admin_group_in_its_own_cluster(run):
    props = _props(run)
    assert props["subnets"] == run.one(VPC).outputs["privateSubnetIds"]
    assert props["security_groups"] == [group_id(run, "admin")]
    assert props["cluster"] == run.one(CLUSTER, "-dbadmin").outputs["arn"]
    assert props["task_definition"] == run.one(TASK_DEF, "-dbadmin-task").outputs["arn"]
    assert (props["container_name"], props["log_stream_prefix"]) == ("psql", "bootstrap")


def test_bootstrap_cluster_is_created_after_its_container_insights_group_with_a_known_name(run):
    cluster = run.one(CLUSTER, "-dbadmin")
    suffix = run.one("random:index/randomId:RandomId", "-dbadmin-ecs-name").outputs["hex"]
    assert cluster.inputs["name"] == f"tca-{run.stack}-dbadmin-{suffix}"
    group = run.one(LOG_GROUP, "-dbadmin-insights")
    assert group.inputs["name"] == f"/aws/ecs/containerinsights/{cluster.inputs['name']}/performance"
    assert group.urn in cluster.dependencies and cluster.ignore_changes == ["name"]


def test_bootstrap_reruns_for_a_new_instance_another_secret_or_other_sql(run):
    props = _props(run)
    assert props["db_resource_id"] == run.one(RDS).outputs["resourceId"]
    assert props["app_secret_arn"] == _app_secret_arn(run)
    assert props["master_secret_arn"] == _master_secret_arn(run)
    assert props["sql_hash"] == hashlib.sha256(f"{BOOTSTRAP_SQL}\n{PSQL_SCRIPT}".encode()).hexdigest()


def test_stack_generated_master_is_what_the_bootstrap_logs_in_as_when_rds_does_not_manage_it():
    run = stack_generated_master()
    assert _props(run)["master_secret_arn"] == run.one(SECRET, "tca-prod-credentials").outputs["arn"]
    assert run.one(SECRET_VERSION).urn in run.one(STEP).dependencies


def test_the_credential_names_the_instance_and_uses_the_stacks_password_rules(proxied):
    props = _props(proxied)
    assert props["host"] == proxied.one(RDS).outputs["address"]
    assert int_of(props["port"]) == int_of(proxied.one(RDS).outputs["port"])
    assert props["dbname"] == proxied.one(RDS).inputs["dbName"]
    assert props["app_user"] == "tca_app"
    assert props["app_users"] == ["tca_app", "tca_app_clone"]
    assert props["exclude_characters"] == PASSWORD_EXCLUDE_CHARACTERS
    assert int_of(props["password_length"]) == 32


def test_bootstrap_runs_after_the_instance_and_its_permission(run):
    deps = run.one(STEP).dependencies
    assert run.one(RDS).urn in deps and run.one(ROLE_POLICY, "-dbadmin-role").urn in deps


def test_seed_and_service_start_only_after_the_bootstrap(run):
    step = run.one(STEP).urn
    assert step in run.one(SEED).dependencies
    assert step in run.one(ECS_SERVICE).dependencies


def test_the_proxy_and_its_readiness_wait_for_the_bootstrap(proxied):
    step = proxied.one(STEP).urn
    assert step in proxied.one(PROXY).dependencies
    assert step in proxied.one(PROXY_READY).dependencies


def test_bootstrap_belongs_to_the_database(run):
    bootstrap = run.one("tca:infra:DatabaseBootstrap")
    assert bootstrap.parent == run.one("tca:infra:Database").urn
    for type_, name in ((STEP, ""), (TASK_DEF, "-dbadmin-task"), (CLUSTER, "-dbadmin"), (ROLE, "-dbadmin-role")):
        assert run.one(type_, name).parent == bootstrap.urn, type_


# -- the SQL ----------------------------------------------------------------------------------------------------

def test_the_sql_creates_only_what_is_missing_and_grants_as_designed():
    assert BOOTSTRAP_SQL == """\
SELECT 'CREATE ROLE tca_owner NOLOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tca_owner') \\gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'app_user', :'app_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \\gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD NULL', u) FROM unnest(ARRAY['tca_app', 'tca_app_clone']) AS u
 WHERE u <> :'app_user' AND NOT EXISTS (SELECT FROM pg_roles WHERE rolname = u) \\gexec
GRANT tca_owner TO tca_app, tca_app_clone, CURRENT_USER;
ALTER ROLE tca_app SET role = 'tca_owner';
ALTER ROLE tca_app_clone SET role = 'tca_owner';
SELECT format('GRANT CONNECT ON DATABASE %I TO tca_owner', current_database()) \\gexec
GRANT USAGE, CREATE ON SCHEMA public TO tca_owner;
ALTER TABLE IF EXISTS public.tasks OWNER TO tca_owner;
"""

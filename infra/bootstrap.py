"""The database bootstrap: the app's login roles, created by the master in a one-off task inside `pulumi up`.

The app never logs in as the master. Two login roles alternate (the multi-user rotation function changes the
password of the one not in use and then switches the secret to it): `tca_app` and `tca_app_clone`, both members
of the NOLOGIN owner role `tca_owner` and both starting every session as it (`ALTER ROLE ... SET role`), so
whatever the seed creates is owned by `tca_owner` whichever user is current, and stays usable by the other.

The task runs `psql` from the official PostgreSQL image on ECR Public (no anonymous pull limit, unlike Docker
Hub), matching the engine's major version. It reads the master's login and the app credential through ECS
secrets (never in the task definition, its environment or its logs) and passes them to psql as variables that
psql quotes itself. The SQL creates only what is missing, so running it again changes nothing.
"""

from __future__ import annotations

import hashlib
import json

import pulumi
import pulumi.dynamic
import pulumi_aws as aws

from infra.bootstrap_provider import BootstrapProvider
from infra.cluster import insights_cluster
from infra.config import DatabaseConfig, StackSettings
from infra.iam import service_trust_policy
from infra.keys import decrypt_secrets_statement
from infra.logs import stack_log_group
from infra.refs import NetworkRefs

OWNER_ROLE = "tca_owner"
APP_USER = "tca_app"
# The multi-user rotation function's name for the other user of the pair: "<username>_clone".
APP_USER_CLONE = f"{APP_USER}_clone"
CONTAINER_NAME = "psql"
STREAM_PREFIX = "bootstrap"
# Alpine's `postgres` user in the official image (uid/gid 70): psql needs neither root nor a writable file system.
PSQL_USER = "70:70"
IMAGE_REPOSITORY = "public.ecr.aws/docker/library/postgres"

# psql variables: app_user, app_password (the app credential's current pair). `\gexec` runs each row of a query
# as a statement, so a role is created only where the query finds it missing; format's %I and %L quote the name
# and the password. Every other statement is one PostgreSQL accepts again unchanged. Only constants are formatted in.
BOOTSTRAP_SQL = f"""\
SELECT 'CREATE ROLE {OWNER_ROLE} NOLOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER_ROLE}') \\gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'app_user', :'app_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \\gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD NULL', u) FROM unnest(ARRAY['{APP_USER}', '{APP_USER_CLONE}']) AS u
 WHERE u <> :'app_user' AND NOT EXISTS (SELECT FROM pg_roles WHERE rolname = u) \\gexec
GRANT {OWNER_ROLE} TO {APP_USER}, {APP_USER_CLONE}, CURRENT_USER;
ALTER ROLE {APP_USER} SET role = '{OWNER_ROLE}';
ALTER ROLE {APP_USER_CLONE} SET role = '{OWNER_ROLE}';
SELECT format('GRANT CONNECT ON DATABASE %I TO {OWNER_ROLE}', current_database()) \\gexec
GRANT USAGE, CREATE ON SCHEMA public TO {OWNER_ROLE};
ALTER TABLE IF EXISTS public.tasks OWNER TO {OWNER_ROLE};
"""  # noqa: S608 - only this module's role names are formatted in; values arrive as psql variables

# The SQL arrives through the environment and the secrets as psql variables: nothing is pasted into the shell's
# command text. ON_ERROR_STOP makes psql exit 3 at the first failing statement; VERBOSITY terse keeps a failing
# statement's text (which may carry the password) out of the task's log.
PSQL_SCRIPT = ('printf \'%s\\n\' "$BOOTSTRAP_SQL" | psql -X -v ON_ERROR_STOP=1 -v VERBOSITY=terse '
               '-v app_user="$APP_USER" -v app_password="$APP_PASSWORD" -f -')


def image(engine_version: int) -> str:
    # psql of the engine's own major; the Alpine variant is the smallest pull.
    return f"{IMAGE_REPOSITORY}:{engine_version}-alpine"


def container_definition(*, image_name: str, host: str, port: int, dbname: str, master_secret_arn: str,
                         app_secret_arn: str, log_group: str, region: str) -> dict:
    secret = {"PGUSER": (master_secret_arn, "username"), "PGPASSWORD": (master_secret_arn, "password"),
              "APP_USER": (app_secret_arn, "username"), "APP_PASSWORD": (app_secret_arn, "password")}
    environment = {
        "PGHOST": host, "PGPORT": str(int(port)), "PGDATABASE": dbname,
        # The admin path encrypts even though the app cannot (rds.force_ssl is 0 for the app's sake).
        "PGSSLMODE": "require", "PGCONNECT_TIMEOUT": "10", "BOOTSTRAP_SQL": BOOTSTRAP_SQL,
    }
    return {
        "name": CONTAINER_NAME,
        "image": image_name,
        "essential": True,
        "entryPoint": ["sh", "-c"],
        "command": [PSQL_SCRIPT],
        "environment": [{"name": k, "value": v} for k, v in environment.items()],
        # "<secret-arn>:<json-key>::" picks one key of the secret's current version.
        "secrets": [{"name": k, "valueFrom": f"{arn}:{key}::"} for k, (arn, key) in secret.items()],
        "user": PSQL_USER,
        "readonlyRootFilesystem": True,
        "privileged": False,
        "linuxParameters": {"capabilities": {"drop": ["ALL"]}},
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": log_group, "awslogs-region": region, "awslogs-stream-prefix": STREAM_PREFIX}},
    }


def execution_policy(secret_arns: list[str], key_arn: str, log_group_arn: str, region: str) -> dict:
    """Read the master and app credentials (decrypting only through Secrets Manager) and write the task's logs.

    No ECR permission: ECR Public serves its images to anonymous pulls.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arns},
            decrypt_secrets_statement(key_arn, region),
            # The awslogs driver creates the task's stream in the group, then writes to it.
            {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": [log_group_arn, f"{log_group_arn}:*"]},
        ],
    }


class DatabaseBootstrapStep(pulumi.dynamic.Resource, module="bootstrap", name="DatabaseBootstrap"):
    """Exists once the app credential has a value and its users exist (infra/bootstrap_provider.py)."""
    task_arn: pulumi.Output[str]
    credential: pulumi.Output[str]

    def __init__(self, name: str, props: dict, opts: pulumi.ResourceOptions | None = None):
        super().__init__(BootstrapProvider(), name, {**props, "task_arn": None, "exit_code": None,
                                                     "stopped_at": None, "credential": None}, opts)


class DatabaseBootstrap(pulumi.ComponentResource):
    step: DatabaseBootstrapStep

    def __init__(self, name: str, stack: StackSettings, cfg: DatabaseConfig, network: NetworkRefs, *,
                 key_arn: pulumi.Input[str], instance: aws.rds.Instance, db_name: str,
                 app_secret_arn: pulumi.Input[str], master_secret_arn: pulumi.Input[str], password_length: int,
                 exclude_characters: str,
                 wait_for: list[pulumi.Resource], opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:DatabaseBootstrap", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Its own small cluster, so the database layer needs nothing of the app layer. Named
        # `tca-<stack>-dbadmin-<8 hex>`: at most 41 characters.
        self.cluster, self.insights_log_group = insights_cluster(
            f"{name}-dbadmin-ecs", f"{stack.name_prefix}-dbadmin", stack, key_arn, self,
            log_group_resource=f"{name}-dbadmin-insights")
        self.log_group = stack_log_group(f"{name}-dbadmin-logs", stack, key_arn, self)

        self.execution_role = aws.iam.Role(
            f"{name}-dbadmin-role",
            description="Reads the database master and app credentials and writes the bootstrap task's logs",
            assume_role_policy=service_trust_policy("ecs-tasks.amazonaws.com"),
            opts=child,
        )
        grant = aws.iam.RolePolicy(
            f"{name}-dbadmin-role",
            role=self.execution_role.id,
            policy=pulumi.Output.all(master_secret_arn, app_secret_arn, key_arn, self.log_group.arn).apply(
                lambda v: json.dumps(execution_policy([v[0], v[1]], v[2], v[3], stack.region))),
            opts=child,
        )

        self.task_definition = aws.ecs.TaskDefinition(
            f"{name}-dbadmin-task",
            family=f"{stack.name_prefix}-db-bootstrap",
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            # The smallest Fargate size: psql runs a dozen statements.
            cpu="256",
            memory="512",
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                cpu_architecture="X86_64", operating_system_family="LINUX"),
            execution_role_arn=self.execution_role.arn,
            # psql calls no AWS API: no task role.
            container_definitions=pulumi.Output.all(
                instance.address, instance.port, master_secret_arn, app_secret_arn, self.log_group.name,
            ).apply(lambda v: json.dumps([container_definition(
                image_name=image(cfg.engine_version), host=v[0], port=v[1], dbname=db_name,
                master_secret_arn=v[2], app_secret_arn=v[3], log_group=v[4], region=stack.region)])),
            opts=child,
        )

        self.step = DatabaseBootstrapStep(
            f"{name}-db-bootstrap",
            {
                "region": stack.region,
                "profile": stack.aws_profile,
                "cluster": self.cluster.arn,
                "task_definition": self.task_definition.arn,
                "subnets": network.private_subnet_ids,
                "security_groups": [network.admin_security_group_id],
                "container_name": CONTAINER_NAME,
                "log_group": self.log_group.name,
                "log_stream_prefix": STREAM_PREFIX,
                # The instance itself, never the proxy: the rotation function connects to this host.
                "host": instance.address,
                "port": instance.port,
                "dbname": db_name,
                "app_user": APP_USER,
                "app_users": [APP_USER, APP_USER_CLONE],
                "password_length": password_length,
                "exclude_characters": exclude_characters,
                # Keys: a new instance, another secret, or other SQL is a database not yet prepared.
                "db_resource_id": instance.resource_id,
                "app_secret_arn": app_secret_arn,
                "master_secret_arn": master_secret_arn,
                "sql_hash": hashlib.sha256(f"{BOOTSTRAP_SQL}\n{PSQL_SCRIPT}".encode()).hexdigest(),
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[instance, grant, *wait_for]),
        )
        self.register_outputs({"credential": self.step.credential})

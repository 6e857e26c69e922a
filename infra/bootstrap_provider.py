"""The database bootstrap step: the app credential's value, then the bootstrap task, inside `pulumi up`.

1. The app credential secret (infra/database.py) gets its first value here, never from Pulumi: if it has no
   AWSCURRENT version, a password from Secrets Manager's GetRandomPassword (the stack's excluded characters) is
   stored with the user `tca_app` and the instance's connection fields. If it has one whose host, port, dbname,
   engine or masterarn differ from this instance's (a replaced instance, the master moved to RDS's own secret),
   a new version corrects those fields and keeps its username and password: a rotated password is never undone.
2. The bootstrap task (infra/bootstrap.py) logs in as the master and creates what is missing: the owner role,
   the secret's current user with its password, the other user of the alternating pair, their grants.

It runs when created and again when the instance, either secret or the SQL changes (KEYS). Calls AWS with the
deployer's credentials like every step on `infra/deploy_step.py` (read its docstring). Pulumi's state refers to
`infra.bootstrap_provider.BootstrapProvider` BY REFERENCE (module path and class name): moving or renaming this
module or the class breaks diff, update and destroy for every deployed stack.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, ClassVar

from pulumi.dynamic import CreateResult

from infra.deploy_step import (
    DEFAULT_DELAY_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DeployStepError,
    DeployStepProvider,
    aws_client,
)
from infra.task_run import run_task_to_completion

# A change to any of these means a database or credential the task has not yet prepared.
BOOTSTRAP_KEYS = ("db_resource_id", "app_secret_arn", "master_secret_arn", "sql_hash")
BOOTSTRAP_OUTPUTS = ("task_arn", "exit_code", "stopped_at", "credential")
# The fields of the app credential that describe the instance (what the rotation function connects to).
CONNECTION_FIELDS = ("engine", "host", "port", "dbname", "masterarn")


class BootstrapError(DeployStepError):
    """The app credential could not be prepared, or the bootstrap task did not exit 0."""


def connection_fields(props: dict[str, Any]) -> dict[str, Any]:
    """What the app credential must say about the instance; `host` is the instance itself, never the proxy."""
    return {"engine": "postgres", "host": props["host"], "port": int(float(props["port"])),
            "dbname": props["dbname"], "masterarn": props["master_secret_arn"]}


def _has_current_version(secrets: Any, secret_arn: str) -> bool:
    versions = secrets.describe_secret(SecretId=secret_arn).get("VersionIdsToStages") or {}
    return any("AWSCURRENT" in stages for stages in versions.values())


def _put_current(secrets: Any, secret_arn: str, value: dict[str, Any]) -> None:
    # PutSecretValue with VersionStages AWSCURRENT moves the label to the new version (the old one becomes
    # AWSPREVIOUS). The token makes a retried call idempotent.
    secrets.put_secret_value(SecretId=secret_arn, ClientRequestToken=str(uuid.uuid4()),
                             SecretString=json.dumps(value), VersionStages=["AWSCURRENT"])


def ensure_app_credential(secrets: Any, props: dict[str, Any]) -> str:
    """Give the app credential a first value, or correct its connection fields; "created", "corrected" or "kept".

    Never changes the username or password of a value that exists: after a rotation, that is the only copy.
    """
    arn = props["app_secret_arn"]
    wanted = connection_fields(props)
    if not _has_current_version(secrets, arn):
        password = secrets.get_random_password(
            PasswordLength=int(props["password_length"]), ExcludeCharacters=props["exclude_characters"],
            IncludeSpace=False, RequireEachIncludedType=True)["RandomPassword"]
        _put_current(secrets, arn, {**wanted, "username": props["app_user"], "password": password})
        return "created"
    current = json.loads(secrets.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
    missing = [key for key in ("username", "password") if not current.get(key)]
    if missing:
        raise BootstrapError(
            f"The app credential {arn} has a current value without {' or '.join(missing)}; it was left as it is. "
            "Restore its previous version (aws secretsmanager update-secret-version-stage) and run `pulumi up` again.")
    if current["username"] not in props["app_users"]:
        # The task grants and configures exactly the pair; any other user would log in without the owner role.
        raise BootstrapError(
            f"The app credential {arn} names the user {current['username']!r}, not one of "
            f"{', '.join(props['app_users'])}; it was left as it is.")
    if all(current.get(key) == value for key, value in wanted.items()):
        return "kept"
    _put_current(secrets, arn, {**current, **wanted})
    return "corrected"


def run_bootstrap_task(ecs: Any, props: dict[str, Any], delay: int = DEFAULT_DELAY_SECONDS,
                       max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> dict[str, Any]:
    return run_task_to_completion(ecs, props, what="database bootstrap", started_by="pulumi-db-bootstrap",
                                  error=BootstrapError, delay=delay, max_attempts=max_attempts)


class BootstrapProvider(DeployStepProvider):
    KEYS: ClassVar[tuple[str, ...]] = BOOTSTRAP_KEYS
    OUTPUTS: ClassVar[tuple[str, ...]] = BOOTSTRAP_OUTPUTS

    def create(self, props: dict[str, Any]) -> CreateResult:
        # The task reads the credential through ECS secrets: it must have a value before the task starts.
        credential = ensure_app_credential(aws_client(props, "secretsmanager"), props)
        result = run_bootstrap_task(aws_client(props, "ecs"), props)
        return CreateResult(id_=result["task_arn"], outs={**props, **result, "credential": credential})

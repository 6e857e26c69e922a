"""The database bootstrap step: the app credential's value, then the bootstrap task, inside `pulumi up`.

0. With a master password RDS manages, it waits until RDS reports the master secret `active`.
1. The app credential secret (infra/database.py) gets its first value here, never from Pulumi: if it has no
   AWSCURRENT version, a password from Secrets Manager's GetRandomPassword (the stack's excluded characters) is
   stored with the user `tca_app` and the instance's connection fields. If it has one whose host, port, dbname,
   engine or masterarn differ from this instance's (a replaced instance, the master moved to RDS's own secret),
   a new version corrects those fields and keeps its username and password: a rotated password is never undone.
   While a rotation is in flight (an AWSPENDING version), it refuses to correct: finishing the rotation would
   promote a version copied from the uncorrected value.
2. The bootstrap task (infra/bootstrap.py) logs in as the master, creates what is missing (the owner role, both
   users of the alternating pair, their grants) and sets the current user's password to the credential's.

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
    poll,
)
from infra.task_run import run_task_to_completion

# A change to any of these means a database or credential the task has not yet prepared.
BOOTSTRAP_KEYS = ("db_resource_id", "app_secret_arn", "master_secret_arn", "sql_hash")
BOOTSTRAP_OUTPUTS = ("task_arn", "exit_code", "stopped_at", "credential")
# The fields of the app credential that describe the instance (what the rotation function connects to).
CONNECTION_FIELDS = ("engine", "host", "port", "dbname", "masterarn")
# RDS names the master secrets it manages `rds!<...>`; the stack's own master secret never starts so.
RDS_MANAGED_SECRET = ":secret:rds!"  # noqa: S105 - part of an ARN, not a password


class BootstrapError(DeployStepError):
    """The app credential could not be prepared, or the bootstrap task did not exit 0."""


def connection_fields(props: dict[str, Any]) -> dict[str, Any]:
    """What the app credential must say about the instance; `host` is the instance itself, never the proxy."""
    return {"engine": "postgres", "host": props["host"], "port": int(float(props["port"])),
            "dbname": props["dbname"], "masterarn": props["master_secret_arn"]}


def _versions(secrets: Any, secret_arn: str) -> dict[str, list[str]]:
    """The secret's version ids and their staging labels."""
    return secrets.describe_secret(SecretId=secret_arn).get("VersionIdsToStages") or {}


def _rotation_in_flight(versions: dict[str, list[str]]) -> list[str]:
    """Versions labelled AWSPENDING but not AWSCURRENT: a rotation started and has not finished (or failed midway).

    After a rotation AWSPENDING is on no version or on the current one; on any other version, Secrets Manager treats
    a rotation as still in progress.
    """
    return sorted(v for v, stages in versions.items() if "AWSPENDING" in stages and "AWSCURRENT" not in stages)


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
    versions = _versions(secrets, arn)
    if not any("AWSCURRENT" in stages for stages in versions.values()):
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
    stale = [key for key, value in wanted.items() if current.get(key) != value]
    if not stale:
        return "kept"
    pending = _rotation_in_flight(versions)
    if pending:
        # Finishing that rotation would make its version current, and it was copied from the uncorrected value.
        raise BootstrapError(
            f"The app credential {arn} needs its {', '.join(stale)} corrected for this instance, but a rotation is "
            f"in flight: version {pending[0]} is labelled AWSPENDING, and finishing the rotation would make it current "
            "without the correction; nothing was changed. Wait until the rotation finishes (aws secretsmanager "
            f"describe-secret --secret-id {arn} shows AWSPENDING on no version other than AWSCURRENT's), or, if it "
            "failed, cancel it by removing the label (aws secretsmanager update-secret-version-stage --secret-id "
            f"{arn} --version-stage AWSPENDING --remove-from-version-id {pending[0]}); then run `pulumi up` again.")
    _put_current(secrets, arn, {**current, **wanted})
    return "corrected"


def wait_for_master_secret(rds: Any, props: dict[str, Any], delay: int = DEFAULT_DELAY_SECONDS,
                           max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> str:
    """Wait until RDS reports the master secret it manages `active`; "active", or "not managed by RDS".

    RDS creates its secret while it creates the instance, or modifies it to manage the password: until the
    secret's status is `active` (DescribeDBInstances MasterUserSecret.SecretStatus: creating, active, rotating,
    impaired), the task could read no value, or one RDS is about to replace.
    """
    if RDS_MANAGED_SECRET not in props["master_secret_arn"]:
        return "not managed by RDS"
    instance = props["db_instance"]
    last = {"status": "not reported yet"}

    def check() -> str | None:
        (db,) = rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"]
        secret = db.get("MasterUserSecret") or {}
        last["status"] = secret.get("SecretStatus") or "not reported yet"
        if last["status"] == "impaired":
            # RDS cannot reach the secret or its key; waiting does not repair it.
            raise BootstrapError(
                f"RDS reports the master secret of {instance} impaired (it cannot use the secret or its KMS key); "
                "the bootstrap did not run. Restore RDS's access to the secret and its key, or turn the managed "
                "master password off and on again, then run `pulumi up` again.")
        if secret.get("SecretArn") and secret["SecretArn"] != props["master_secret_arn"]:
            # RDS made a new secret (the managed password turned off and on outside Pulumi): the task would read
            # one RDS no longer uses.
            raise BootstrapError(
                f"RDS reports the master secret of {instance} as {secret['SecretArn']}, not "
                f"{props['master_secret_arn']}; the bootstrap did not run. Run `pulumi refresh`, then `pulumi up`.")
        return "active" if last["status"] == "active" else None

    status = poll(check, delay=delay, max_attempts=max_attempts)
    if status is None:
        raise BootstrapError(
            f"RDS did not report the master secret of {instance} active within {delay * max_attempts} s (last "
            f"status {last['status']}); the bootstrap did not run. Check: aws rds describe-db-instances "
            f"--db-instance-identifier {instance} --query 'DBInstances[0].MasterUserSecret'")
    return status


def run_bootstrap_task(ecs: Any, props: dict[str, Any], delay: int = DEFAULT_DELAY_SECONDS,
                       max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> dict[str, Any]:
    return run_task_to_completion(ecs, props, what="database bootstrap", started_by="pulumi-db-bootstrap",
                                  error=BootstrapError, delay=delay, max_attempts=max_attempts)


class BootstrapProvider(DeployStepProvider):
    KEYS: ClassVar[tuple[str, ...]] = BOOTSTRAP_KEYS
    OUTPUTS: ClassVar[tuple[str, ...]] = BOOTSTRAP_OUTPUTS

    def create(self, props: dict[str, Any]) -> CreateResult:
        # The task logs in with the master secret's value: it must exist first.
        wait_for_master_secret(aws_client(props, "rds"), props)
        # The task reads the credential through ECS secrets: it must have a value before the task starts.
        credential = ensure_app_credential(aws_client(props, "secretsmanager"), props)
        result = run_bootstrap_task(aws_client(props, "ecs"), props)
        return CreateResult(id_=result["task_arn"], outs={**props, **result, "credential": credential})

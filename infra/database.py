"""RDS PostgreSQL, its master credential (RDS-managed, or the stack's), and the app credential the app logs in with.

The master user is for administration only: the bootstrap step (infra/bootstrap.py) and the rotation function
log in as it; the app, its seed and RDS Proxy use the app credential, a separate login role.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi.dynamic
import pulumi_aws as aws
import pulumi_random as random

from infra.bootstrap import DatabaseBootstrap
from infra.config import DatabaseConfig, StackSettings
from infra.iam import service_trust_policy
from infra.keys import Keys
from infra.logs import stack_log_group
from infra.network import POSTGRES_PORT
from infra.proxy import ProxyReady, add_proxy
from infra.refs import DatabaseRefs, NetworkRefs

DB_NAME = "tca"
DB_USERNAME = "tcaadmin"
PASSWORD_LENGTH = 32
# RDS refuses "/", "@", '"' and space in a master password; the app pastes the password unquoted
# into a lib/pq key=value string, where whitespace, "'" and "\" break parsing. None of those is here.
PASSWORD_SPECIALS = "!#%*+-.:=^_~"  # noqa: S105 - a character set, not a password
# The same rules for passwords Secrets Manager draws (GetRandomPassword, for the bootstrap and the rotation
# function): its alphabet is printable ASCII, and space only with IncludeSpace, which stays off.
PASSWORD_EXCLUDE_CHARACTERS = "'\\\"/@"  # noqa: S105 - a character set, not a password
MONITORING_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
# Database Insights Standard mode with Performance Insights kept for 7 days, the free retention. RDS for
# PostgreSQL offers it on every instance class (RDS User Guide, "Amazon RDS DB engine, Region, and instance
# class support for Database Insights": the micro/small exclusions are listed for MariaDB and MySQL only).
# Advanced mode is paid per vCPU-hour and requires at least 465 days of retention.
DATABASE_INSIGHTS_MODE = "standard"
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7


def credential_rotation(proxy: bool) -> str:
    """How the app credential is rotated: RDS Proxy authenticates clients against each secret's current version
    only, so behind it the app credential is not rotated (docs/database.md)."""
    return "none" if proxy else "alternating-users"


class Database(pulumi.ComponentResource):
    address: pulumi.Output[str]
    port: pulumi.Output[int]
    endpoint: pulumi.Output[str]
    db_name: str
    # The app credential; its value is written by the bootstrap step, never by Pulumi.
    secret: aws.secretsmanager.Secret
    # The master credential's secret ARN: RDS's own, or the stack's master secret.
    master_secret_arn: pulumi.Output[str]
    instance: aws.rds.Instance
    log_group: aws.cloudwatch.LogGroup

    def __init__(self, name: str, stack: StackSettings, cfg: DatabaseConfig, network: NetworkRefs, *,
                 keys: Keys, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.db_name = DB_NAME
        # What clients wait for of the master credential: the stack's secret value, when the stack keeps one.
        self.master_ready: list[pulumi.Resource] = []

        # RDS creates, encrypts (with the stack key) and rotates the master password in its own secret; no
        # password passes through Pulumi or its state. Without it, the stack generates one (RandomPassword).
        password: random.RandomPassword | None = None
        if cfg.managed_master_password:
            master_password: dict[str, pulumi.Input[Any]] = dict(
                manage_master_user_password=True, master_user_secret_kms_key_id=keys.arn)
        else:
            password = random.RandomPassword(
                f"{name}-password",
                length=PASSWORD_LENGTH,
                special=True,
                override_special=PASSWORD_SPECIALS,
                min_lower=2,
                min_upper=2,
                min_numeric=2,
                min_special=2,
                opts=child,
            )
            master_password = dict(password=password.result)

        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=network.private_subnet_ids,
            description="Private subnets for the TechChallengeApp database",
            opts=child,
        )

        # The app hard-codes sslmode=disable in its connection string, and PostgreSQL 15+ on RDS
        # defaults rds.force_ssl to 1, which refuses it. The waiver is compensated by the network:
        # only the service security group can reach 5432, inside private subnets.
        #
        # A major upgrade changes `family`, which replaces the group. Pulumi creates the replacement
        # first and deletes the old group at the end of the update, after the instance (applying
        # immediately) has moved to the new one; the old group is free by then. This holds only
        # while the group is auto-named: an explicit `name` makes the bridge delete the old group
        # first (InvalidDBParameterGroupState while the instance still uses it). So: no `name`, no
        # `name_prefix`, no delete_before_replace.
        parameter_group = aws.rds.ParameterGroup(
            f"{name}-params",
            family=f"postgres{cfg.engine_version}",
            description="TechChallengeApp: the app cannot use TLS (sslmode=disable)",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="0", apply_method="immediate"),
                # Statements slower than this (ms) go to the exported postgresql log; -1 is off.
                aws.rds.ParameterGroupParameterArgs(
                    name="log_min_duration_statement", value=str(cfg.slow_statement_ms), apply_method="immediate"),
            ],
            opts=child,
        )

        # RDS streams the exported `postgresql` log to /aws/rds/instance/<identifier>/postgresql and,
        # if that group does not exist, creates it with no retention and outside the stack, so it
        # outlives `pulumi destroy`. RDS writes into a group that already exists (an AWS Support reply
        # quoted in terraform-provider-aws#5348), so the program creates it first, with the stack's
        # retention, and the instance depends on it: created after it, and deleted before it, so RDS
        # cannot re-create the group while the instance is still shutting down.
        #
        # That needs the identifier before the instance exists. Auto-naming decides it only at
        # create time, and a group named from the instance's output would come after the instance,
        # by which time RDS has already created it (the create would fail "already exists"). So
        # the identifier is the stack prefix plus a RandomId created once and kept in state: stable
        # across updates, unique per stack incarnation, so a re-created stack never meets a
        # leftover group. `identifier` is ignored on update: a changed identifier would REPLACE
        # the instance (an empty database), so an instance created before this change keeps its
        # auto-generated name (docs/operations.md, "Tearing down", says how to bound that stack's own group).
        identifier_suffix = random.RandomId(f"{name}-identifier", byte_length=4, opts=child)
        identifier = pulumi.Output.concat(f"{stack.name_prefix}-pg-", identifier_suffix.hex)
        self.log_group = stack_log_group(
            f"{name}-pg-logs", stack, keys.arn, self,
            name=pulumi.Output.concat("/aws/rds/instance/", identifier, "/postgresql"))

        # A unique name per instance, so a re-created stack never collides with an old snapshot.
        snapshot_suffix = random.RandomId(f"{name}-final-snapshot", byte_length=4, opts=child)
        final_snapshot = (pulumi.Output.concat(f"{stack.name_prefix}-final-", snapshot_suffix.hex)
                          if stack.deletion_protection else None)

        monitoring_role, monitoring_grant = (self._monitoring_role(name) if cfg.monitoring_interval_seconds
                                             else (None, None))

        self.instance = aws.rds.Instance(
            f"{name}-pg",
            identifier=identifier,
            engine="postgres",
            # A major version alone lets RDS pick the newest minor and upgrade minors itself.
            engine_version=str(cfg.engine_version),
            allow_major_version_upgrade=True,
            auto_minor_version_upgrade=True,
            # Without it, RDS queues class, Multi-AZ, backup and version changes for the
            # maintenance window, `up` reports success, the same diff returns on every `up`, and
            # a major upgrade leaves the old parameter group attached when Pulumi deletes it.
            apply_immediately=True,
            # Explicit windows (UTC), so automatic minor upgrades and backups happen when chosen.
            maintenance_window=cfg.maintenance_window,
            backup_window=cfg.backup_window,
            # Without this, RDS enrols majors past end of standard support in paid Extended Support.
            engine_lifecycle_support="open-source-rds-extended-support-disabled",
            instance_class=cfg.instance_class,
            db_name=DB_NAME,
            username=DB_USERNAME,
            **master_password,
            port=POSTGRES_PORT,
            parameter_group_name=parameter_group.name,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[network.db_security_group_id],
            publicly_accessible=False,
            storage_type="gp3",
            storage_encrypted=True,
            allocated_storage=cfg.allocated_storage,
            max_allocated_storage=cfg.max_allocated_storage,
            multi_az=cfg.multi_az,
            backup_retention_period=cfg.backup_retention_days,
            copy_tags_to_snapshot=True,
            enabled_cloudwatch_logs_exports=["postgresql"],
            # RDS.10: operators can sign in with an IAM token; the app keeps its password.
            iam_database_authentication_enabled=True,
            # RDS.6: OS metrics every N seconds (0 is off; RDS refuses a role without an interval).
            monitoring_interval=cfg.monitoring_interval_seconds,
            monitoring_role_arn=monitoring_role.arn if monitoring_role is not None else None,
            # Standard mode, explicitly: left unset, RDS picks the mode. The Performance Insights data stays on
            # the AWS-managed aws/rds key like the storage: its key "can never be changed" once set, and moving
            # it later to the stack key would need a new instance (docs/security.md).
            database_insights_mode=DATABASE_INSIGHTS_MODE,
            performance_insights_enabled=True,
            performance_insights_retention_period=PERFORMANCE_INSIGHTS_RETENTION_DAYS,
            deletion_protection=stack.deletion_protection,
            skip_final_snapshot=not stack.deletion_protection,
            final_snapshot_identifier=final_snapshot,
            # RDS checks the role's permissions when monitoring is switched on; RDS writes its logs into
            # the group the stack made (with retention) only if that group exists first.
            opts=pulumi.ResourceOptions(parent=self, protect=stack.deletion_protection,
                                        depends_on=[self.log_group, *([monitoring_grant] if monitoring_grant else [])],
                                        ignore_changes=["identifier"]),
        )
        self.address = self.instance.address
        self.port = self.instance.port
        self.endpoint = self.instance.endpoint

        self.master_secret_arn = (
            # RDS names its own secret (rds!db-...) in the instance it manages the password of.
            self.instance.master_user_secrets.apply(lambda secrets: (secrets[0].secret_arn if secrets else None) or "")
            if password is None else self._master_secret(name, stack, cfg, keys, password))

        # Auto-named: an explicit name would collide with a deleted secret still in its recovery window; the name
        # starts with the stack prefix, which the workload boundary and the key policy admit.
        self.secret = aws.secretsmanager.Secret(
            f"{name}-app-credentials",
            description=f"TechChallengeApp database app credentials ({stack.deployment or stack.stack})",
            recovery_window_in_days=cfg.secret_recovery_days,
            kms_key_id=keys.arn,
            opts=child,
        )
        # No SecretVersion: the bootstrap step writes the first value and the rotation function the later ones,
        # so Pulumi never holds the password and can never write an old one back.

        # The app's users, created by the master before anything logs in as them (infra/bootstrap.py).
        self.bootstrap = DatabaseBootstrap(
            name, stack, cfg, network, key_arn=keys.arn, instance=self.instance, db_name=DB_NAME,
            app_secret_arn=self.secret.arn, master_secret_arn=self.master_secret_arn,
            password_length=PASSWORD_LENGTH, exclude_characters=PASSWORD_EXCLUDE_CHARACTERS,
            wait_for=self.master_ready, opts=child)

        # What the app connects to: the proxy when there is one, else the instance itself.
        self.proxy: aws.rds.Proxy | None = None
        self.proxy_target: aws.rds.ProxyTarget | None = None
        # What tasks must wait for before they connect: the proxy's readiness gate, when there is one.
        self.proxy_ready: ProxyReady | None = None
        self.client_host: pulumi.Output[str] = self.address
        if cfg.proxy:
            # The network opens the proxy's hop whenever tca:dbProxy is on (checked across stacks in infra/layers.py).
            assert network.proxy_security_group_id is not None, "tca:dbProxy needs the network's proxy group"
            # While the stack still keeps its own master (the first of the two deploys that move it off the master
            # login), the proxy accepts the master too: tasks not yet replaced keep logging in through it.
            auth_secrets = [self.secret.arn] + ([self.master_secret_arn] if password is not None else [])
            self.proxy, self.proxy_target, self.proxy_ready = add_proxy(
                self, name, stack, cfg, subnet_ids=network.private_subnet_ids,
                security_group_id=network.proxy_security_group_id, key_arn=keys.arn, auth_secrets=auth_secrets,
                instance=self.instance, bootstrap=self.bootstrap.step,
                app_secret_arn=self.secret.arn)
            self.client_host = self.proxy.endpoint

        self.refs = DatabaseRefs(
            client_host=self.client_host, port=self.port, name=self.db_name,
            endpoint=self.endpoint, secret_arn=self.secret.arn, master_secret_arn=self.master_secret_arn,
            credential_rotation=credential_rotation(cfg.proxy), key_arn=keys.arn,
            instance_identifier=self.instance.identifier, resource_id=self.instance.resource_id,
            proxy_name=self.proxy.name if self.proxy is not None else None, vpc_id=network.vpc_id,
            ready=(self.instance, *self.master_ready, self.bootstrap.step,
                   *([self.proxy_ready] if self.proxy_ready else [])))
        self.register_outputs({
            "address": self.address,
            "clientHost": self.client_host,
            "port": self.port,
            "secretArn": self.secret.arn,
            "masterSecretArn": self.master_secret_arn,
        })

    def _master_secret(self, name: str, stack: StackSettings, cfg: DatabaseConfig, keys: Keys,
                       password: random.RandomPassword) -> pulumi.Output[str]:
        """The stack's own master secret, for a stack whose master password RDS does not manage.

        Keeps the logical name it has always had, so a stack moving to the RDS-managed master keeps this secret
        until the second of the two deploys.
        """
        child = pulumi.ResourceOptions(parent=self)
        secret = aws.secretsmanager.Secret(
            f"{name}-credentials",
            description=f"TechChallengeApp database master credentials ({stack.deployment or stack.stack})",
            recovery_window_in_days=cfg.secret_recovery_days,
            kms_key_id=keys.arn,
            opts=child,
        )
        version = aws.secretsmanager.SecretVersion(
            f"{name}-credentials",
            secret_id=secret.id,
            secret_string=pulumi.Output.json_dumps({
                "username": DB_USERNAME,
                "password": password.result,
                "engine": "postgres",
                "host": self.instance.address,
                "port": self.instance.port,
                "dbname": DB_NAME,
            }),
            opts=child,
        )
        self.master_ready.append(version)
        return secret.arn

    def _monitoring_role(self, name: str) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
        """The role RDS Enhanced Monitoring uses to write OS metrics to CloudWatch Logs."""
        account = aws.get_caller_identity().account_id
        role = aws.iam.Role(
            f"{name}-monitoring",
            description="Lets RDS Enhanced Monitoring publish OS metrics",
            # RDS User Guide, "Setting up and enabling Enhanced Monitoring": trusted by
            # monitoring.rds.amazonaws.com, with aws:SourceAccount against the confused deputy.
            assume_role_policy=service_trust_policy(
                "monitoring.rds.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": account}}),
            opts=pulumi.ResourceOptions(parent=self),
        )
        grant = aws.iam.RolePolicyAttachment(f"{name}-monitoring", role=role.name, policy_arn=MONITORING_POLICY_ARN,
                                             opts=pulumi.ResourceOptions(parent=self))
        return role, grant

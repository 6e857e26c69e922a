"""Database: password, secret and an RDS instance that keeps data and destroys cleanly per stack."""

from __future__ import annotations

import json

import pytest

from infra.database import PASSWORD_EXCLUDE_CHARACTERS, PASSWORD_SPECIALS, credential_rotation
from infra.refs import DatabaseRefs
from tests.conftest import DEV_ALL_ON, PROD_CHANGED, STACKS, run_where, shared_run
from tests.helpers import RDS, SECRET, SECRET_VERSION, VPC, group_id, int_of, is_secret, plain, security_decisions
from tests.mocks import ACCOUNT, ROOT

PASSWORD = "random:index/randomPassword:RandomPassword"
PARAMS = "aws:rds/parameterGroup:ParameterGroup"
SUBNETS = "aws:rds/subnetGroup:SubnetGroup"

# RDS refuses these in a master password; the app's unquoted key=value string breaks on the rest.
RDS_FORBIDDEN = set('/@" ')
CONNECTION_STRING_FORBIDDEN = set("'\\") | {chr(c) for c in range(33)} | {chr(127)}


def stack_generated_master():
    """prod keeping the stack-generated master password (the first deploy of a stack moving to RDS's)."""
    assert PROD_CHANGED["tca:dbManagedMasterPassword"] is False
    return shared_run("prod", PROD_CHANGED)


def managed_master(stack: str):
    return run_where(stack, {"tca:dbManagedMasterPassword": True})


def test_rds_manages_the_master_password_in_its_own_secret_on_the_stack_key(run):
    run = managed_master(run.stack)
    rds = run.one(RDS).inputs
    assert rds["manageMasterUserPassword"] is True
    assert rds["masterUserSecretKmsKeyId"] == run.one("aws:kms/key:Key").outputs["arn"]


def test_the_stack_key_lets_secrets_manager_encrypt_rds_own_master_secret(run):
    """RDS creates the secret with the stack key (named rds!db-<uuid>, never the stack prefix): Secrets Manager's
    use of the key, with the secret's ARN as encryption context, must be inside the key policy."""
    import fnmatch

    run = managed_master(run.stack)
    master = run.one(RDS).outputs["masterUserSecrets"][0]["secretArn"]
    policy = json.loads(run.one("aws:kms/key:Key").inputs["policy"])
    patterns = [p for s in policy["Statement"] if s.get("Sid") == "SecretsManagerForThisStacksSecrets"
                for p in ([s["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"]]
                          if isinstance(s["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"], str)
                          else s["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"])]
    assert any(fnmatch.fnmatchcase(master, p) for p in patterns), patterns


def test_with_the_rds_managed_master_no_password_exists_in_the_program_or_its_state(run):
    run = managed_master(run.stack)
    assert "password" not in run.one(RDS).inputs
    assert run.of_type(PASSWORD) == [] and run.of_type(SECRET_VERSION) == []
    assert [s.name for s in run.of_type(SECRET)] == [f"tca-{run.stack}-app-credentials"]


def test_the_stack_generated_master_is_kept_when_rds_does_not_manage_it():
    run = stack_generated_master()
    rds = run.one(RDS).inputs
    assert "manageMasterUserPassword" not in rds and "masterUserSecretKmsKeyId" not in rds
    assert is_secret(rds["password"])
    assert plain(rds["password"]) == run.one(PASSWORD).outputs["result"]


def test_stack_generated_password_is_long_and_uses_only_characters_rds_and_the_app_accept():
    spec = stack_generated_master().one(PASSWORD).inputs
    assert int_of(spec["length"]) >= 24
    assert spec["special"] is True
    specials = set(spec["overrideSpecial"])
    assert specials, "without overrideSpecial the provider draws from its own default set"
    assert not specials & (RDS_FORBIDDEN | CONNECTION_STRING_FORBIDDEN)
    assert all(33 <= ord(c) <= 126 for c in specials)
    assert specials == set(PASSWORD_SPECIALS)


def test_stack_generated_password_requires_every_character_class():
    spec = stack_generated_master().one(PASSWORD).inputs
    for key in ("minLower", "minUpper", "minNumeric", "minSpecial"):
        assert int_of(spec[key]) >= 1, key


def test_secrets_manager_passwords_exclude_every_character_rds_or_the_app_refuses():
    """GetRandomPassword draws from printable ASCII (space only with IncludeSpace): excluding these leaves only
    characters both accept."""
    printable = {chr(c) for c in range(32, 127)}
    allowed = printable - set(PASSWORD_EXCLUDE_CHARACTERS) - {" "}
    assert not allowed & (RDS_FORBIDDEN | CONNECTION_STRING_FORBIDDEN)
    assert set(PASSWORD_EXCLUDE_CHARACTERS) == (RDS_FORBIDDEN | CONNECTION_STRING_FORBIDDEN) & printable - {" "}


def test_stack_master_secret_holds_the_connection_json_of_the_instance():
    run = stack_generated_master()
    version = run.one(SECRET_VERSION).inputs
    assert is_secret(version["secretString"])
    body = json.loads(plain(version["secretString"]))
    rds = run.one(RDS)
    assert body == {
        "username": rds.inputs["username"],
        "password": run.one(PASSWORD).outputs["result"],
        "engine": "postgres",
        "host": rds.outputs["address"],
        "port": int_of(rds.outputs["port"]),
        "dbname": rds.inputs["dbName"],
    }
    assert version["secretId"] == run.one(SECRET, "tca-prod-credentials").id


def test_app_secret_is_auto_named_on_the_stack_key_with_the_configured_recovery_window(run, settings):
    secret = run.one(SECRET, "-app-credentials").inputs
    assert "name" not in secret and "namePrefix" not in secret
    assert int_of(secret["recoveryWindowInDays"]) == settings["tca:secretRecoveryDays"]
    assert secret["kmsKeyId"] == run.one("aws:kms/key:Key").outputs["arn"]


@pytest.mark.parametrize("managed", [True, False])
def test_pulumi_never_writes_a_value_into_the_app_secret(managed):
    run = managed_master("prod") if managed else stack_generated_master()
    app = run.one(SECRET, "-app-credentials").id
    assert [v.name for v in run.of_type(SECRET_VERSION) if v.inputs["secretId"] == app] == []


def test_credential_rotation_is_alternating_users_without_the_proxy_and_none_behind_it():
    assert credential_rotation(proxy=False) == "alternating-users"
    assert credential_rotation(proxy=True) == "none"
    assert DatabaseRefs.EXPORTS["credential_rotation"] == "dbCredentialRotation"
    assert DatabaseRefs.EXPORTS["master_secret_arn"] == "dbMasterSecretArn"
    assert "username" not in DatabaseRefs.EXPORTS


def test_db_not_publicly_accessible_rds_2(run):
    assert run.one(RDS).inputs["publiclyAccessible"] is False


def test_db_sits_in_the_private_subnets_behind_the_database_group(run):
    rds = run.one(RDS)
    subnet_group = run.one(SUBNETS)
    assert subnet_group.inputs["subnetIds"] == run.one(VPC).outputs["privateSubnetIds"]
    assert rds.inputs["dbSubnetGroupName"] == subnet_group.outputs["name"]
    assert rds.inputs["vpcSecurityGroupIds"] == [group_id(run, "db")]


def test_db_storage_encrypted_gp3_rds_3(run):
    rds = run.one(RDS).inputs
    assert rds["storageEncrypted"] is True
    assert rds["storageType"] == "gp3"


def test_db_storage_autoscales_between_configured_sizes(run, settings):
    rds = run.one(RDS).inputs
    assert int_of(rds["allocatedStorage"]) == settings["tca:dbAllocatedStorage"]
    assert int_of(rds["maxAllocatedStorage"]) == settings["tca:dbMaxAllocatedStorage"]


def test_db_multi_az_follows_config_rds_5(run, settings, prod):
    assert run.one(RDS).inputs["multiAz"] is settings["tca:dbMultiAz"]
    assert prod.one(RDS).inputs["multiAz"] is True


def test_db_backups_follow_config_rds_11(run, settings, prod):
    assert int_of(run.one(RDS).inputs["backupRetentionPeriod"]) == settings["tca:dbBackupRetentionDays"]
    assert int_of(prod.one(RDS).inputs["backupRetentionPeriod"]) >= 7


def test_db_minor_versions_upgrade_automatically_rds_13(run):
    assert run.one(RDS).inputs["autoMinorVersionUpgrade"] is True


def test_db_copies_tags_to_snapshots_rds_17(run):
    assert run.one(RDS).inputs["copyTagsToSnapshot"] is True


def test_db_exports_postgresql_logs_rds_9(run):
    assert run.one(RDS).inputs["enabledCloudwatchLogsExports"] == ["postgresql"]


def test_db_runs_the_configured_postgres_major_and_class(run, settings):
    rds = run.one(RDS).inputs
    assert rds["engine"] == "postgres"
    assert rds["engineVersion"] == str(settings["tca:dbEngineVersion"])
    assert rds["instanceClass"] == settings["tca:dbInstanceClass"]
    assert rds["engineLifecycleSupport"] == "open-source-rds-extended-support-disabled"


def _parameters(run) -> dict[str, str]:
    return {p["name"]: p["value"] for p in run.one(PARAMS).inputs["parameters"]}


def test_parameter_group_matches_the_major_and_waives_forced_tls(run, settings):
    params = run.one(PARAMS)
    assert params.inputs["family"] == f"postgres{settings['tca:dbEngineVersion']}"
    assert _parameters(run)["rds.force_ssl"] == "0"
    assert run.one(RDS).inputs["parameterGroupName"] == params.outputs["name"]


def test_db_changes_apply_at_once_not_in_the_next_maintenance_window(run):
    assert run.one(RDS).inputs["applyImmediately"] is True


def test_db_windows_follow_config(run, settings):
    rds = run.one(RDS).inputs
    assert rds["maintenanceWindow"] == settings["tca:dbMaintenanceWindow"]
    assert rds["backupWindow"] == settings["tca:dbBackupWindow"]


def test_parameter_group_is_auto_named_so_a_new_family_is_created_before_the_old_is_deleted(run):
    # An explicit name makes the bridge delete the old group first, while the instance still uses it.
    params = run.one(PARAMS)
    assert "name" not in params.inputs and "namePrefix" not in params.inputs
    assert params.delete_before_replace is False


def test_instance_switches_parameter_group_in_the_same_update_as_the_major(run, settings):
    rds = run.one(RDS)
    params = run.one(PARAMS)
    assert rds.inputs["parameterGroupName"] == params.outputs["name"]
    assert params.urn in rds.dependencies
    assert rds.inputs["allowMajorVersionUpgrade"] is True
    assert rds.inputs["applyImmediately"] is True
    assert rds.delete_before_replace is False


def test_parameter_group_sets_only_the_tls_waiver_and_slow_statement_logging(run):
    assert set(_parameters(run)) == {"rds.force_ssl", "log_min_duration_statement"}


# The committed stacks cover 16; the oldest and newest supported majors cover the rest of the mapping.
@pytest.mark.parametrize("major", [14, 18])
def test_parameter_group_family_follows_a_changed_major(major):
    stack, changed = {14: ("dev", DEV_ALL_ON), 18: ("prod", PROD_CHANGED)}[major]
    assert changed["tca:dbEngineVersion"] == major
    run = shared_run(stack, changed)
    assert run.one(PARAMS).inputs["family"] == f"postgres{major}"
    assert run.one(RDS).inputs["engineVersion"] == str(major)


def test_prod_db_is_protected_and_keeps_a_uniquely_named_final_snapshot_rds_8(prod):
    rds = prod.one(RDS)
    assert rds.inputs["deletionProtection"] is True
    assert rds.protect is True
    assert rds.inputs["skipFinalSnapshot"] is False
    suffix = prod.one("random:index/randomId:RandomId", "final-snapshot").outputs["hex"]
    assert rds.inputs["finalSnapshotIdentifier"] == f"tca-prod-final-{suffix}"


def test_dev_db_destroys_without_a_snapshot():
    rds = run_where("dev", {"tca:deletionProtection": False}).one(RDS)
    assert rds.inputs["deletionProtection"] is False
    assert rds.protect is False
    assert rds.inputs["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in rds.inputs


LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def test_rds_log_group_is_created_by_the_stack_with_its_retention(run, settings):
    # Left to RDS, the group has no retention and survives `pulumi destroy`.
    logs = run.one(LOG_GROUP, "-pg-logs")
    identifier = run.one(RDS).inputs["identifier"]
    assert logs.inputs["name"] == f"/aws/rds/instance/{identifier}/postgresql"
    assert int_of(logs.inputs["retentionInDays"]) == settings["tca:logRetentionDays"]
    assert logs.inputs["skipDestroy"] is False


def test_instance_is_created_after_its_log_group_and_deleted_before_it(run):
    assert run.one(LOG_GROUP, "-pg-logs").urn in run.one(RDS).dependencies


def test_instance_identifier_is_known_before_the_instance_and_stable(run):
    rds = run.one(RDS)
    suffix = run.one("random:index/randomId:RandomId", "-identifier").outputs["hex"]
    assert rds.inputs["identifier"] == f"tca-{run.stack}-pg-{suffix}"
    # A changed identifier replaces the instance; an instance created auto-named keeps its name.
    assert rds.ignore_changes == ["identifier"]


def test_instance_identifier_fits_rds_rules(run):
    import re
    identifier = run.one(RDS).inputs["identifier"]
    assert re.fullmatch(r"[a-z](?!.*--)[a-z0-9-]{0,62}(?<!-)", identifier), identifier


@pytest.mark.parametrize("managed", [True, False])
def test_database_children_belong_to_the_database_component(managed):
    run = managed_master("prod") if managed else stack_generated_master()
    parent = run.one("tca:infra:Database").urn
    for type_ in (PARAMS, SUBNETS, RDS, *(() if managed else (PASSWORD, SECRET_VERSION))):
        assert run.one(type_).parent == parent, type_
    assert {s.parent for s in run.of_type(SECRET)} == {parent}
    assert run.one(LOG_GROUP, "-pg-logs").parent == parent


# -- security hardening: monitoring, IAM auth, slow statements, Performance Insights, rotation -------

MONITORING_ROLE_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"


def test_slow_statements_are_logged_above_the_configured_threshold(run, settings):
    assert _parameters(run)["log_min_duration_statement"] == str(settings["tca:dbSlowStatementMs"])
    (param,) = [p for p in run.one(PARAMS).inputs["parameters"] if p["name"] == "log_min_duration_statement"]
    assert param["applyMethod"] == "immediate"


@pytest.fixture(scope="module")
def prod_variant():
    """prod with slow-statement logging off."""
    assert PROD_CHANGED["tca:dbSlowStatementMs"] == -1
    return shared_run("prod", PROD_CHANGED)


def test_slow_statement_logging_can_be_turned_off(prod_variant):
    assert _parameters(prod_variant)["log_min_duration_statement"] == "-1"


def test_iam_database_authentication_is_on_rds_10(run):
    assert run.one(RDS).inputs["iamDatabaseAuthenticationEnabled"] is True


def test_enhanced_monitoring_interval_follows_config_rds_6(run, settings):
    assert int_of(run.one(RDS).inputs.get("monitoringInterval", 0)) == settings["tca:dbMonitoringIntervalSeconds"]


def test_prod_has_enhanced_monitoring_as_often_as_its_policy_requires_through_its_own_role_rds_6(prod):
    rds = prod.one(RDS)
    role = prod.one("aws:iam/role:Role", "-monitoring")
    required = json.loads((ROOT / "policy" / "prod.json").read_text())["rds-enhanced-monitoring"]
    assert 0 < int_of(rds.inputs["monitoringInterval"]) <= required["maxIntervalSeconds"]
    assert rds.inputs["monitoringRoleArn"] == role.outputs["arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"] == [{
        "Effect": "Allow", "Principal": {"Service": "monitoring.rds.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]
    grant = prod.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "-monitoring")
    assert grant.inputs == {"role": role.outputs["name"], "policyArn": MONITORING_ROLE_POLICY}
    assert grant.urn in rds.dependencies, "RDS checks the role's permissions when monitoring is switched on"


def test_dev_has_no_enhanced_monitoring_and_no_role_for_it():
    dev = run_where("dev", {"tca:dbMonitoringIntervalSeconds": 0})
    rds = dev.one(RDS).inputs
    assert int_of(rds.get("monitoringInterval", 0)) == 0
    assert "monitoringRoleArn" not in rds
    assert [r.name for r in dev.of_type("aws:iam/role:Role") if "-monitoring" in r.name] == []


def test_database_insights_standard_mode_with_the_free_week_of_performance_insights_on_any_class(run):
    # RDS for PostgreSQL offers Database Insights on every class, micro and small included.
    rds = run.one(RDS).inputs
    assert rds["databaseInsightsMode"] == "standard"
    assert rds["performanceInsightsEnabled"] is True
    assert int_of(rds["performanceInsightsRetentionPeriod"]) == 7


def test_performance_insights_stays_on_the_aws_managed_key_because_its_key_can_never_change(run):
    assert "performanceInsightsKmsKeyId" not in run.one(RDS).inputs


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_rotation_behind_rds_proxy_and_the_waiver_is_documented_secretsmanager_1(stack):
    # Without the proxy the app credential rotates (tests/test_rotation.py).
    run = run_where(stack, {"tca:dbProxy": True})
    assert run.of_type("aws:secretsmanager/secretRotation:SecretRotation") == []
    assert "rotationRules" not in run.one(SECRET, "-app-credentials").inputs
    rows = security_decisions()
    assert "SecretsManager.1" in rows
    assert "waived" in rows["SecretsManager.1"].lower()
    assert "VTT_DBPASSWORD" in rows["SecretsManager.1"]

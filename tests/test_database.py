"""Database: password, secret and an RDS instance that keeps data and destroys cleanly per stack."""

from __future__ import annotations

import json

import pytest

from infra.database import PASSWORD_SPECIALS
from tests.helpers import RDS, SECRET, SECRET_VERSION, VPC, group_id, int_of, is_secret, plain

PASSWORD = "random:index/randomPassword:RandomPassword"
PARAMS = "aws:rds/parameterGroup:ParameterGroup"
SUBNETS = "aws:rds/subnetGroup:SubnetGroup"

# RDS refuses these in a master password; the app's unquoted key=value string breaks on the rest.
RDS_FORBIDDEN = set('/@" ')
CONNECTION_STRING_FORBIDDEN = set("'\\") | {chr(c) for c in range(33)} | {chr(127)}


def test_password_is_long_and_uses_only_characters_rds_and_the_app_accept(run):
    spec = run.one(PASSWORD).inputs
    assert int_of(spec["length"]) >= 24
    assert spec["special"] is True
    specials = set(spec["overrideSpecial"])
    assert specials, "without overrideSpecial the provider draws from its own default set"
    assert not specials & (RDS_FORBIDDEN | CONNECTION_STRING_FORBIDDEN)
    assert all(33 <= ord(c) <= 126 for c in specials)
    assert specials == set(PASSWORD_SPECIALS)


def test_password_requires_every_character_class(run):
    spec = run.one(PASSWORD).inputs
    for key in ("minLower", "minUpper", "minNumeric", "minSpecial"):
        assert int_of(spec[key]) >= 1, key


def test_rds_master_password_is_the_generated_secret(run):
    password = run.one(RDS).inputs["password"]
    assert is_secret(password)
    assert plain(password) == run.one(PASSWORD).outputs["result"]


def test_secret_holds_the_connection_json_of_the_instance(run):
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
    assert version["secretId"] == run.one(SECRET).id


def test_secret_is_auto_named_with_the_configured_recovery_window(run, settings):
    secret = run.one(SECRET).inputs
    assert "name" not in secret and "namePrefix" not in secret
    assert int_of(secret["recoveryWindowInDays"]) == settings["tca:secretRecoveryDays"]


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


def test_parameter_group_matches_the_major_and_waives_forced_tls(run, settings):
    params = run.one(PARAMS)
    assert params.inputs["family"] == f"postgres{settings['tca:dbEngineVersion']}"
    assert [(p["name"], p["value"]) for p in params.inputs["parameters"]] == [("rds.force_ssl", "0")]
    assert run.one(RDS).inputs["parameterGroupName"] == params.outputs["name"]


@pytest.mark.parametrize("major", [14, 15, 17, 18])
def test_parameter_group_family_follows_a_changed_major(major):
    from tests.mocks import run_program
    run = run_program("dev", overrides={"tca:dbEngineVersion": major})
    assert run.one(PARAMS).inputs["family"] == f"postgres{major}"
    assert run.one(RDS).inputs["engineVersion"] == str(major)


def test_prod_db_is_protected_and_keeps_a_uniquely_named_final_snapshot_rds_8(prod):
    rds = prod.one(RDS)
    assert rds.inputs["deletionProtection"] is True
    assert rds.protect is True
    assert rds.inputs["skipFinalSnapshot"] is False
    suffix = prod.one("random:index/randomId:RandomId").outputs["hex"]
    assert rds.inputs["finalSnapshotIdentifier"] == f"tca-prod-final-{suffix}"


def test_dev_db_destroys_without_a_snapshot(dev):
    rds = dev.one(RDS)
    assert rds.inputs["deletionProtection"] is False
    assert rds.protect is False
    assert rds.inputs["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in rds.inputs


def test_database_children_belong_to_the_database_component(run):
    parent = run.one("tca:infra:Database").urn
    for type_ in (PASSWORD, PARAMS, SUBNETS, RDS, SECRET, SECRET_VERSION):
        assert run.one(type_).parent == parent, type_

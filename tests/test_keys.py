"""The stack's customer-managed KMS key: who may use it, and everything that must be encrypted with it."""

from __future__ import annotations

import fnmatch
import json

from infra.keys import key_policy
from tests.conftest import run_where
from tests.helpers import RDS, SECRET, int_of
from tests.mocks import ACCOUNT, ROOT

KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TOPIC = "aws:sns/topic:Topic"


def _policy(run) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(run.one(KEY).inputs["policy"])["Statement"]}


def _key_arn(run) -> str:
    return run.one(KEY).outputs["arn"]


def test_one_symmetric_customer_managed_key_per_stack_with_rotation_on_kms_4(run):
    key = run.one(KEY)
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["customerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert key.inputs["keyUsage"] == "ENCRYPT_DECRYPT"
    assert key.parent == run.one("tca:infra:Keys").urn


def test_key_deletion_window_follows_config_and_outlives_the_secret(run, settings):
    window = int_of(run.one(KEY).inputs["deletionWindowInDays"])
    assert window == settings["tca:keyDeletionWindowDays"]
    assert window >= settings["tca:secretRecoveryDays"]


def test_alias_names_the_stack(run):
    alias = run.one(ALIAS).inputs
    assert alias["name"] == f"alias/tca-{run.stack}"
    assert alias["targetKeyId"] == run.one(KEY).outputs["keyId"]


def test_key_policy_has_exactly_the_account_its_administrator_and_the_four_services(run, settings):
    administrator = ({"StackDeployerAdministersTheKey", "StackDeployerLetsRdsEncryptTheMasterSecret"}
                     if settings["tca:keyAdministrator"] else set())
    assert set(_policy(run)) == {"AccountAdministersTheKey", *administrator,
                                 "CloudWatchLogsForThisStacksLogGroups",
                                 "CloudWatchAlarmsPublishToTheEncryptedTopic",
                                 "EventBridgePublishesToTheEncryptedTopic", "SecretsManagerForThisStacksSecrets"}


def test_only_the_stacks_own_deployer_administers_its_key_including_policy_rotation_and_deletion():
    # The deployer policies grant no key administration on "*"; this statement is the one grant, by
    # the stack's own deployer, so dev's deployer can never schedule prod's key for deletion.
    run = run_where("dev", {"tca:keyAdministrator": "role/github-tca-dev-deployer"})
    assert _policy(run)["StackDeployerAdministersTheKey"] == {
        "Sid": "StackDeployerAdministersTheKey", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/github-tca-dev-deployer"},
        "Action": ["kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:EnableKeyRotation",
                   "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags", "kms:PutKeyPolicy",
                   "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias",
                   "kms:UpdateKeyDescription"],
        "Resource": "*"}


def test_the_stacks_deployer_may_use_the_key_only_through_rds_when_rds_manages_the_master_password():
    # RDS User Guide, "Permissions required for Secrets Manager integration": the caller who names a customer
    # managed key for the master secret needs kms:Decrypt, kms:GenerateDataKey and kms:CreateGrant on it.
    run = run_where("dev", {"tca:keyAdministrator": "role/github-tca-dev-deployer"})
    assert _policy(run)["StackDeployerLetsRdsEncryptTheMasterSecret"] == {
        "Sid": "StackDeployerLetsRdsEncryptTheMasterSecret", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/github-tca-dev-deployer"},
        "Action": ["kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": f"rds.{run.region}.amazonaws.com"}}}


def test_a_stack_without_a_key_administrator_names_no_principal_kms_would_refuse():
    # KMS refuses a key policy naming a principal that does not exist, so a try-out stack with no deployer
    # role of its own leaves tca:keyAdministrator empty and the key to the account's IAM administrators.
    sids = {s["Sid"] for s in key_policy("tca-try", "eu-west-1", ACCOUNT, "")["Statement"]}
    assert "StackDeployerAdministersTheKey" not in sids
    assert "StackDeployerLetsRdsEncryptTheMasterSecret" not in sids
    assert "AccountAdministersTheKey" in sids


def test_the_key_policy_never_bypasses_kmss_lockout_safety_check(run):
    # KMS refuses (MalformedPolicyDocumentException) a policy that would lock the caller out, unless
    # told to bypass that check; the provider passes the flag with CreateKey and PutKeyPolicy.
    assert run.one(KEY).inputs.get("bypassPolicyLockoutSafetyCheck") in (None, False)


def test_key_policy_keeps_the_account_in_control_so_the_key_never_becomes_unmanageable(run):
    assert _policy(run)["AccountAdministersTheKey"] == {
        "Sid": "AccountAdministersTheKey", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}


def test_key_policy_lets_cloudwatch_logs_use_it_only_for_this_stacks_log_groups(run):
    prefix = f"arn:aws:logs:{run.region}:{ACCOUNT}:log-group:"
    assert _policy(run)["CloudWatchLogsForThisStacksLogGroups"] == {
        "Sid": "CloudWatchLogsForThisStacksLogGroups", "Effect": "Allow",
        "Principal": {"Service": f"logs.{run.region}.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": [
            f"{prefix}tca-{run.stack}-*", f"{prefix}/aws/rds/instance/tca-{run.stack}-*",
            f"{prefix}/aws/ecs/containerinsights/tca-{run.stack}-*/performance",
            f"{prefix}/aws/lambda/tca-{run.stack}-*", f"{prefix}aws-waf-logs-tca-{run.stack}-*"]}},
    }


def test_key_policy_lets_cloudwatch_alarms_publish_to_the_encrypted_topic_from_this_account(run):
    assert _policy(run)["CloudWatchAlarmsPublishToTheEncryptedTopic"] == {
        "Sid": "CloudWatchAlarmsPublishToTheEncryptedTopic", "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }


def test_key_policy_lets_this_account_use_it_only_through_secrets_manager_for_this_stacks_secrets(run):
    # The stack's own secrets by name, and the master secret RDS creates on this key (`rds!db-<uuid>`).
    secrets = f"arn:aws:secretsmanager:{run.region}:{ACCOUNT}:secret:"
    assert _policy(run)["SecretsManagerForThisStacksSecrets"] == {
        "Sid": "SecretsManagerForThisStacksSecrets", "Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
        "Condition": {
            "StringEquals": {"kms:ViaService": f"secretsmanager.{run.region}.amazonaws.com",
                             "kms:CallerAccount": ACCOUNT},
            "StringLike": {"kms:EncryptionContext:SecretARN": [f"{secrets}tca-{run.stack}-*", f"{secrets}rds!db-*"]},
        },
    }


def test_every_log_group_the_stack_creates_is_encrypted_with_the_stack_key_cloudwatch_log_group_encryption(run):
    groups = run.of_type(LOG_GROUP)
    assert len(groups) >= 2, "the app's and the flow logs' groups at least"
    assert {g.name: g.inputs.get("kmsKeyId") for g in groups} == {g.name: _key_arn(run) for g in groups}


def test_every_log_group_the_stack_creates_is_inside_the_key_policys_scope(run):
    patterns = _policy(run)["CloudWatchLogsForThisStacksLogGroups"]["Condition"]["ArnLike"][
        "kms:EncryptionContext:aws:logs:arn"]
    for group in run.of_type(LOG_GROUP):
        arn = f"arn:aws:logs:{run.region}:{ACCOUNT}:log-group:{group.outputs['name']}"
        assert any(fnmatch.fnmatchcase(arn, p) for p in patterns), arn


def test_every_log_group_keeps_the_stacks_retention(run, settings):
    for group in run.of_type(LOG_GROUP):
        assert int_of(group.inputs["retentionInDays"]) == settings["tca:logRetentionDays"], group.name


def test_every_log_group_keeps_logs_at_least_as_long_as_the_stacks_policy_pack_requires(run):
    required = json.loads((ROOT / "policy" / f"{run.stack}.json").read_text())["log-group-retention"]
    for group in run.of_type(LOG_GROUP):
        assert int_of(group.inputs["retentionInDays"]) >= required["minRetentionDays"], group.name


def test_every_database_secret_is_encrypted_with_the_stack_key(run):
    # The app credential, and while a stack moves to the RDS-managed master, the stack's own master secret.
    secrets = run.of_type(SECRET)
    assert secrets
    assert {s.inputs["kmsKeyId"] for s in secrets} == {_key_arn(run)}


def test_every_secret_the_stack_creates_is_inside_the_key_policys_secrets_manager_scope(run):
    # The mock names a secret after its resource, as Pulumi's auto-naming does; an explicit name or
    # prefix would escape that, so no secret may have either.
    patterns = _policy(run)["SecretsManagerForThisStacksSecrets"]["Condition"]["StringLike"][
        "kms:EncryptionContext:SecretARN"]
    secrets = run.of_type(SECRET)
    assert secrets
    for secret in secrets:
        assert "name" not in secret.inputs and "namePrefix" not in secret.inputs, secret.name
        assert any(fnmatch.fnmatchcase(secret.outputs["arn"], p) for p in patterns), secret.name


def test_alarm_topic_is_encrypted_with_the_stack_key_sns_1(run):
    assert run.one(TOPIC).inputs["kmsMasterKeyId"] == _key_arn(run)


def test_rds_storage_stays_encrypted_on_the_aws_managed_key_because_a_new_key_replaces_the_instance(run):
    rds = run.one(RDS).inputs
    assert rds["storageEncrypted"] is True
    assert "kmsKeyId" not in rds


def test_the_master_secret_rds_creates_on_this_key_is_inside_the_key_policys_secrets_manager_scope():
    # RDS names it rds!db-<uuid>; Secrets Manager encrypts it under this key with its ARN as the context.
    run = run_where("dev", {"tca:dbManagedMasterPassword": True})
    (instance,) = run.of_type(RDS)
    assert instance.inputs["masterUserSecretKmsKeyId"] == _key_arn(run)
    patterns = _policy(run)["SecretsManagerForThisStacksSecrets"]["Condition"]["StringLike"][
        "kms:EncryptionContext:SecretARN"]
    (secret,) = instance.outputs["masterUserSecrets"]
    assert any(fnmatch.fnmatchcase(secret["secretArn"], p) for p in patterns)

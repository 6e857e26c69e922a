"""The stack's one customer-managed KMS key: the database secret, every log group and the alarm topic.

RDS storage is deliberately not on this key: an instance's `kms_key_id` cannot change in place, so
moving a running database to it would replace the instance and lose what users stored (docs/security.md).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.config import KeysConfig, StackSettings

# Only symmetric keys work for CloudWatch Logs ("CloudWatch Logs supports only symmetric KMS keys").
KEY_SPEC = "SYMMETRIC_DEFAULT"

# What the stack's deployer does to its key: read it, keep its policy and rotation, alias it (CreateAlias and
# UpdateAlias need the key's permission too, not only the alias's) and schedule its deletion on destroy.
# Granted here, in the key's own policy, so a deployer holds them for its own stack's key and no other:
# the deployer policies grant no key administration on "*" (iam/deployer-*-policy-data-operations.json).
KEY_ADMIN_ACTIONS = [
    "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus", "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion",
    "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
]


def log_group_name_patterns(name_prefix: str) -> list[str]:
    """Names of the log groups this stack creates; the key serves CloudWatch Logs for these only.

    A log group the stack adds must match one of them, or CloudWatch Logs refuses the key:
    Pulumi auto-names `<prefix>-...` (app, seed, flow logs); RDS writes to
    `/aws/rds/instance/<identifier>/postgresql` (identifiers start with the prefix); Container Insights
    writes to `/aws/ecs/containerinsights/<cluster>/performance` (cluster names start with the prefix);
    Lambda writes to `/aws/lambda/<function>` (the rotation function's name starts with the prefix);
    WAF requires its groups to start with `aws-waf-logs-`. A stack whose name extends another's with a hyphen
    (`dev` and `dev-x`) would match both: names allow no tighter scope.
    """
    return [f"{name_prefix}-*", f"/aws/rds/instance/{name_prefix}-*",
            f"/aws/ecs/containerinsights/{name_prefix}-*/performance", f"/aws/lambda/{name_prefix}-*",
            f"aws-waf-logs-{name_prefix}-*"]


# The secrets RDS creates when it manages a master password are named `rds!db-<uuid>` (`rds!cluster-...` for
# clusters), never after the stack; this key encrypts only the stack's own instance's, which names this key.
RDS_MASTER_SECRET_NAME = "rds!db-*"  # noqa: S105 - a name pattern, not a password


def secret_arn_patterns(name_prefix: str, region: str, account: str) -> list[str]:
    """The secrets this stack's key encrypts: those named with the stack prefix, and its RDS-managed master secret."""
    return [f"arn:aws:secretsmanager:{region}:{account}:secret:{name}"
            for name in (f"{name_prefix}-*", RDS_MASTER_SECRET_NAME)]


def key_policy(name_prefix: str, region: str, account: str, administrator: str = "") -> dict[str, Any]:
    """Who may use the key: the account's administrators, the stack's deployer, each service for this stack only."""
    logs_arns = [f"arn:aws:logs:{region}:{account}:log-group:{name}" for name in log_group_name_patterns(name_prefix)]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                # The default key policy statement: IAM policies in the account decide who manages and
                # uses the key, so the key can never become unmanageable (KMS refuses a policy that
                # locks out its own account unless told to bypass the safety check).
                "Sid": "AccountAdministersTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            *([{
                # The stack's deployer by name: the policy is set atomically with CreateKey, so the grant
                # holds from the key's first moment (tags or aliases would lag behind it, and destroy deletes
                # the alias before the key). KMS requires the principal to exist when the policy is set.
                "Sid": "StackDeployerAdministersTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:{administrator}"},
                "Action": KEY_ADMIN_ACTIONS,
                "Resource": "*",
            }, {
                # RDS User Guide, "Permissions required for Secrets Manager integration": whoever asks RDS to
                # manage the master password with a customer managed key needs kms:Decrypt, GenerateDataKey and
                # CreateGrant on it; only through RDS, so the deployer cannot use the key for anything else.
                "Sid": "StackDeployerLetsRdsEncryptTheMasterSecret",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:{administrator}"},
                "Action": ["kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": f"rds.{region}.amazonaws.com"}},
            }] if administrator else []),
            {
                # CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs using AWS KMS".
                "Sid": "CloudWatchLogsForThisStacksLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": logs_arns}},
            },
            {
                # SNS Developer Guide, "Enable compatibility between event sources from AWS services and
                # encrypted topics": CloudWatch alarms need these two to publish to the encrypted topic.
                "Sid": "CloudWatchAlarmsPublishToTheEncryptedTopic",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            },
            {
                # The same for EventBridge, whose rules send rotation and deployment failures to the topic
                # (infra/credential_alarms.py): SNS Developer Guide, same section, "events.amazonaws.com". No
                # aws:Source* key here: the same section says adding them "is not supported for
                # EventBridge-to-encrypted topics" (delivery fails). Narrowed instead by the topic SNS names in
                # the encryption context of its KMS calls (SNS Developer Guide, "Setting up Amazon SNS topic
                # encryption"); the stack's topic is auto-named with the stack's prefix (infra/alerts.py).
                "Sid": "EventBridgePublishesToTheEncryptedTopic",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringLike": {"kms:EncryptionContext:aws:sns:topicArn":
                                             f"arn:aws:sns:{region}:{account}:{name_prefix}-*"}},
            },
            {
                # The shape of the AWS-managed aws/secretsmanager key's policy, narrowed to this stack's
                # secrets: principals of this account, only through Secrets Manager, only for secrets
                # named with the stack's prefix or RDS's master secret (Secrets Manager passes the
                # secret's ARN as context). Who may read a secret is IAM's and the boundary's decision.
                "Sid": "SecretsManagerForThisStacksSecrets",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com",
                                     "kms:CallerAccount": account},
                    "StringLike": {"kms:EncryptionContext:SecretARN":
                                   secret_arn_patterns(name_prefix, region, account)},
                },
            },
        ],
    }


def decrypt_secrets_statement(key_arn: str, region: str) -> dict[str, Any]:
    """What a role that reads the database secret needs on the key: Decrypt, and only via Secrets Manager.

    ECS Developer Guide ("kms:Decrypt - Required only if your secret uses a custom KMS key") and the
    RDS Proxy setup guide both ask for it, with the ARN of the key as the resource.
    """
    return {
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
    }


class Keys(pulumi.ComponentResource):
    key: aws.kms.Key
    arn: pulumi.Output[str]

    def __init__(self, name: str, stack: StackSettings, cfg: KeysConfig,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:Keys", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity().account_id

        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"TechChallengeApp {stack.stack}: database secret, log groups, alarm topic",
            key_usage="ENCRYPT_DECRYPT",
            customer_master_key_spec=KEY_SPEC,
            # KMS.4: a new key version every year (the default period); old versions still decrypt.
            enable_key_rotation=True,
            # A destroyed stack's key waits this long before it is gone for good. It must outlive the
            # secret's recovery window (checked in config), so a restored secret can still be read;
            # dev takes the minimum, since nothing in it is worth restoring.
            deletion_window_in_days=cfg.deletion_window_days,
            policy=json.dumps(key_policy(stack.name_prefix, stack.region, account, cfg.administrator)),
            opts=child,
        )
        # Alias names: "alias/" plus up to 250 letters, digits, "/", "_" and "-", never "alias/aws/";
        # the stack prefix is at most 24 characters. Deleting an alias is immediate, so a re-created
        # stack can take the same name even while the old key waits for deletion. Named after the stack, not the
        # deployment: each layer of a deployment has its own key.
        aws.kms.Alias(f"{name}-key", name=f"alias/{stack.stack_prefix}", target_key_id=self.key.key_id, opts=child)
        self.arn = self.key.arn
        self.register_outputs({"keyArn": self.arn})

"""Logs, keys, topics, secrets (CloudWatch.16, KMS.4, SNS.1, SecretsManager)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .engine import UNKNOWN, _must_be_true, at, number, text
from .registry import resource_policy
from .resource_types import KMS_KEY, LOG_GROUP, SM_SECRET, SNS_TOPIC


@resource_policy("log-group-retention", "Every log group expires its logs after the configured days at least "
                 "(CloudWatch.16).", [LOG_GROUP], {"minRetentionDays": {"type": "integer", "default": 1, "minimum": 1}})
def _log_retention(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    days, wanted = at(props, "retentionInDays"), number(config["minRetentionDays"]) or 1
    if days is not UNKNOWN and (number(days) or 0) < wanted:
        yield f"retentionInDays is {days!r}; log groups need a retention of at least {wanted:g} days"


@resource_policy("log-group-kms", "Every log group is encrypted with the stack's customer-managed key.", [LOG_GROUP])
def _log_kms(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    key = at(props, "kmsKeyId")
    if key is not UNKNOWN and not text(key):
        yield "log groups must be encrypted with the stack's KMS key (kmsKeyId is not set)"


@resource_policy("sns-topic-encrypted", "The alarm topic is encrypted with a customer-managed key (SNS.1).",
                 [SNS_TOPIC])
def _sns_encrypted(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    key = at(props, "kmsMasterKeyId")
    # CloudWatch cannot publish to a topic under the AWS-managed alias/aws/sns key.
    if key is not UNKNOWN and (not text(key) or key == "alias/aws/sns"):
        yield f"topics must be encrypted with a customer-managed KMS key (kmsMasterKeyId is {key!r})"


@resource_policy("secret-cmk", "Secrets are encrypted with a customer-managed key.", [SM_SECRET])
def _secret_cmk(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    key = at(props, "kmsKeyId")
    if key is not UNKNOWN and (not text(key) or key == "alias/aws/secretsmanager"):
        yield f"secrets must use a customer-managed KMS key (kmsKeyId is {key!r})"


@resource_policy("kms-key-rotation", "Customer-managed symmetric keys rotate yearly (KMS.4).", [KMS_KEY])
def _kms_rotation(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    spec = at(props, "keySpec") or at(props, "customerMasterKeySpec")
    if spec in (None, "SYMMETRIC_DEFAULT", UNKNOWN):
        yield from _must_be_true(props, "enableKeyRotation", message="key rotation must be on")

"""S3 (S3.1/S3.8, S3.5)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pulumi_policy import PolicyResource

from .engine import UNKNOWN, _is_list, _json, _link_unknown, _of_type, _points_to, at, elements
from .registry import Config, Resources, Violations, stack_policy
from .resource_types import BUCKET_POLICY, BUCKET_PUBLIC_ACCESS_BLOCK, BUCKETS


def _for_bucket(resources: Sequence[PolicyResource], kind: str, bucket: PolicyResource) -> list[PolicyResource]:
    return [r for r in _of_type(resources, kind) if _points_to(r, bucket, "bucket") or _link_unknown(r, "bucket")]


@stack_policy("s3-public-access-block", "Every bucket blocks public access (S3.8).")
def _s3_public_access(resources: Resources, config: Config) -> Violations:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for bucket in _of_type(resources, *BUCKETS):
        blocks = _for_bucket(resources, BUCKET_PUBLIC_ACCESS_BLOCK, bucket)
        if not any(all(at(b.props, f) in (True, UNKNOWN) for f in flags) for b in blocks):
            yield f"bucket {bucket.name} needs a public access block with all four settings on", bucket.urn


def _denies_plain_http(policy: Any) -> bool:
    document = _json(policy)
    statements = at(document, "Statement")
    for statement in elements(statements) if _is_list(statements) else [statements]:
        secure = at(statement, "Condition", "Bool", "aws:SecureTransport")
        if at(statement, "Effect") == "Deny" and str(secure).lower() == "false":
            return True
    return False


@stack_policy("s3-tls-only", "Every bucket's policy denies requests that do not use TLS (S3.5).")
def _s3_tls_only(resources: Resources, config: Config) -> Violations:
    for bucket in _of_type(resources, *BUCKETS):
        policies = _for_bucket(resources, BUCKET_POLICY, bucket)
        if not any(at(p.props, "policy") is UNKNOWN or _denies_plain_http(at(p.props, "policy")) for p in policies):
            yield f"bucket {bucket.name} needs a policy that denies aws:SecureTransport false", bucket.urn

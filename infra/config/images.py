"""Where tasks pull the app image from: Docker Hub, or an ECR pull-through cache with stored credentials."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from infra.config.reader import _Reader


@dataclass(frozen=True)
class ImagesConfig:
    """Where tasks pull the app image from: Docker Hub directly, or through an ECR pull-through cache."""
    docker_hub_credentials_secret_arn: str

    @property
    def pull_through_cache(self) -> bool:
        return bool(self.docker_hub_credentials_secret_arn)


# ECR's CredentialArn pattern (API_PullThroughCacheRule), with the account and region spelled out.
PULL_THROUGH_CACHE_SECRET_PREFIX = "ecr-pullthroughcache/"  # noqa: S105 - a name prefix, not a password
_SECRET_ARN = r"arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):(\d{12}):secret:([A-Za-z0-9/_+=.@-]+)"  # noqa: S105


def _images(r: _Reader, region: str | None) -> dict[str, Any]:
    key = "dockerHubCredentialsSecretArn"
    arn = (r.raw(key) or "").strip()
    match = re.fullmatch(_SECRET_ARN, arn)
    if arn and not match:
        r.fail(key, arn, "must be a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:"
                         f"{PULL_THROUGH_CACHE_SECRET_PREFIX}NAME-xxxxxx), or empty to pull from Docker Hub directly")
        return dict(docker_hub_credentials_secret_arn=None)
    if match and not match.group(3).startswith(PULL_THROUGH_CACHE_SECRET_PREFIX):
        r.fail(key, arn, f"the secret's name must start with {PULL_THROUGH_CACHE_SECRET_PREFIX} "
                         "(ECR accepts no other secret for pull-through cache credentials)")
        return dict(docker_hub_credentials_secret_arn=None)
    if match and region and match.group(1) != region:
        r.fail(key, arn, f"the secret must be in the stack's region (aws:region = {region}): ECR requires the "
                         "secret's account and region to match the pull-through cache rule's")
        return dict(docker_hub_credentials_secret_arn=None)
    return dict(docker_hub_credentials_secret_arn=arn)

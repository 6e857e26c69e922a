"""Where tasks pull the app image from: Docker Hub, or Docker Hub through an ECR pull-through cache.

Docker Hub allows anonymous clients 10 pulls per hour per IPv4 address, and every task in the
private subnets pulls through the same NAT address (one per AZ in prod): a crash loop, a circuit
breaker retry, a scale-out and the seed can use that up, and then no task starts for up to an hour
(`toomanyrequests`). With `tca:dockerHubCredentialsSecretArn` set, ECR pulls from Docker Hub with
those credentials, once per image, and tasks pull from ECR inside the account.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra.config import ImagesConfig, StackSettings

# The pull-through cache rule's upstream URL for Docker Hub (CreatePullThroughCacheRule).
DOCKER_HUB_UPSTREAM = "registry-1.docker.io"
# Names that mean Docker Hub when an image reference spells its registry out.
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")
# Exactly what pulling through the cache needs (ECR user guide, "IAM permissions required to sync an
# upstream registry"): a registry login; reading image manifests and layers; importing the upstream
# image; and creating the cached repository on the first pull of an image.
PULL_ACTIONS = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchImportUpstreamImage",
                "ecr:CreateRepository"]


def cache_prefix(stack: StackSettings) -> str:
    # ECR allows 2 to 30 characters; the stack prefix is at most 24.
    return f"{stack.name_prefix}-hub"


def docker_hub_repository(image: str) -> tuple[str, str] | None:
    """(repository on Docker Hub, ":tag" and/or "@digest") for a Docker Hub image, else None.

    Docker Hub's official images ("nginx") live under `library/`; user and organisation images
    ("servian/techchallengeapp") keep their path.
    """
    name, at, digest = image.partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    repository, tag = (name[:colon], name[colon:]) if colon > slash else (name, "")
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        if first not in DOCKER_HUB_HOSTS:
            return None  # another registry: the cache rule does not apply
        repository = rest
    if "/" not in repository:
        repository = f"library/{repository}"
    return repository, tag + at + digest


def cached_image(image: str, account: str, region: str, prefix: str) -> str:
    """The ECR reference that pulls `image` through the cache; other registries' images unchanged."""
    hub = docker_hub_repository(image)
    if hub is None:
        return image
    repository, reference = hub
    return f"{account}.dkr.ecr.{region}.amazonaws.com/{prefix}/{repository}{reference}"


def pull_policy(account: str, region: str, prefix: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            # GetAuthorizationToken is a registry-wide call with no resource to scope it to.
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {"Sid": "PullThroughCache", "Effect": "Allow", "Action": PULL_ACTIONS,
             "Resource": f"arn:aws:ecr:{region}:{account}:repository/{prefix}/*"},
        ],
    })


class Images(pulumi.ComponentResource):
    app_image: pulumi.Input[str]
    # The execution role's extra policy when tasks pull through the cache; None when they pull from Docker Hub.
    pull_policy: pulumi.Output[str] | None
    cache_rule: aws.ecr.PullThroughCacheRule | None

    def __init__(self, name: str, stack: StackSettings, cfg: ImagesConfig, app_image: str,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:Images", name, None, opts)
        self.app_image = app_image
        self.pull_policy = None
        self.cache_rule = None
        if cfg.pull_through_cache:
            account = aws.get_caller_identity().account_id
            self.cache_rule = aws.ecr.PullThroughCacheRule(
                f"{name}-docker-hub",
                ecr_repository_prefix=cache_prefix(stack),
                upstream_registry_url=DOCKER_HUB_UPSTREAM,
                credential_arn=cfg.docker_hub_credentials_secret_arn,
                opts=pulumi.ResourceOptions(parent=self),
            )
            # Built from the rule's output, so every task definition waits for the rule to exist.
            self.app_image = self.cache_rule.ecr_repository_prefix.apply(
                lambda prefix: cached_image(app_image, account, stack.region, prefix))
            self.pull_policy = self.cache_rule.ecr_repository_prefix.apply(
                lambda prefix: pull_policy(account, stack.region, prefix))
        self.register_outputs({"appImage": self.app_image})

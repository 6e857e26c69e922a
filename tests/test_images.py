"""Image pulls: Docker Hub directly, or through an ECR pull-through cache when credentials are set."""

from __future__ import annotations

import json

import pytest

from infra.images import PULL_ACTIONS, cached_image, docker_hub_repository
from tests.conftest import DEV_ALL_ON, DOCKER_HUB_SECRET, run_where, shared_run
from tests.helpers import ECS_SERVICE, plain
from tests.mocks import ACCOUNT, stack_region

# The cache's secret must be in the stack's region; these tests run dev.
REGION = stack_region("dev")
SECRET_ARN = DOCKER_HUB_SECRET
RULE = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SEED_TASK = "awsx:ecs:FargateTaskDefinition"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"


@pytest.fixture(scope="module")
def cached():
    return shared_run("dev", {"tca:dockerHubCredentialsSecretArn": SECRET_ARN,
                              "tca:appImage": "servian/techchallengeapp:latest"})


def _images(run) -> tuple[str, str]:
    service = plain(run.one(ECS_SERVICE).inputs["taskDefinitionArgs"]["container"])["image"]
    seed = plain(run.one(SEED_TASK).inputs["container"])["image"]
    return service, seed


@pytest.mark.parametrize("image,expected", [
    ("servian/techchallengeapp:latest", ("servian/techchallengeapp", ":latest")),
    ("servian/techchallengeapp", ("servian/techchallengeapp", "")),
    ("nginx:1.27", ("library/nginx", ":1.27")),
    ("nginx", ("library/nginx", "")),
    ("docker.io/library/nginx:1.27", ("library/nginx", ":1.27")),
    ("docker.io/nginx", ("library/nginx", "")),
    ("registry-1.docker.io/servian/techchallengeapp:0.11.0", ("servian/techchallengeapp", ":0.11.0")),
    ("servian/techchallengeapp@sha256:" + "a" * 64, ("servian/techchallengeapp", "@sha256:" + "a" * 64)),
    ("servian/techchallengeapp:0.11.0@sha256:" + "b" * 64,
     ("servian/techchallengeapp", ":0.11.0@sha256:" + "b" * 64)),
])
def test_docker_hub_images_map_to_their_repository_official_ones_under_library(image, expected):
    assert docker_hub_repository(image) == expected


@pytest.mark.parametrize("image", ["ghcr.io/org/app:1", "public.ecr.aws/nginx/nginx:1.27", "localhost:5000/app",
                                   f"{REGISTRY}/mine/app:3"])
def test_images_from_other_registries_are_left_alone(image):
    assert docker_hub_repository(image) is None
    assert cached_image(image, ACCOUNT, REGION, "tca-dev-hub") == image


def test_no_credentials_means_docker_hub_directly_and_no_cache(run, settings):
    run = run_where(run.stack, {"tca:dockerHubCredentialsSecretArn": ""})
    assert run.of_type(RULE) == []
    assert _images(run) == (settings["tca:appImage"], settings["tca:appImage"])
    assert [p.name for p in run.of_type(ROLE_POLICY) if "pull-cache" in p.name] == []


def test_cache_rule_pulls_docker_hub_with_the_configured_secret(cached):
    rule = cached.one(RULE)
    assert rule.inputs == {"ecrRepositoryPrefix": "tca-dev-hub", "upstreamRegistryUrl": "registry-1.docker.io",
                           "credentialArn": SECRET_ARN}
    assert rule.parent == cached.one("tca:infra:Images").urn


def test_service_and_seed_pull_the_app_through_the_cache(cached):
    # servian/techchallengeapp is a user image, not an official one: no library/ in its path.
    expected = f"{REGISTRY}/tca-dev-hub/servian/techchallengeapp:latest"
    assert _images(cached) == (expected, expected)


def test_an_official_image_is_pulled_from_the_caches_library_path():
    run = shared_run("dev", DEV_ALL_ON)
    assert (DEV_ALL_ON["tca:dockerHubCredentialsSecretArn"], DEV_ALL_ON["tca:appImage"]) == (SECRET_ARN, "nginx:1.27")
    expected = f"{REGISTRY}/tca-dev-hub/library/nginx:1.27"
    assert _images(run) == (expected, expected)


def test_execution_role_gets_exactly_the_pull_through_permissions(cached):
    policy = cached.one(ROLE_POLICY, "-exec-pull-cache")
    assert policy.inputs["role"] == cached.one("aws:iam/role:Role", "-exec").id
    assert json.loads(policy.inputs["policy"])["Statement"] == [
        {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Sid": "PullThroughCache", "Effect": "Allow",
         "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchImportUpstreamImage",
                    "ecr:CreateRepository"],
         "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/tca-dev-hub/*"},
    ]
    assert PULL_ACTIONS == json.loads(policy.inputs["policy"])["Statement"][1]["Action"]


def test_service_and_seed_start_only_after_the_role_may_pull_through_the_cache(cached):
    grant = cached.one(ROLE_POLICY, "-exec-pull-cache").urn
    assert grant in cached.one(ECS_SERVICE).dependencies
    assert grant in cached.one("pulumi-python:dynamic/seed:DatabaseSeed").dependencies

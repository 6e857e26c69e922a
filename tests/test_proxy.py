"""infra/proxy.py: RDS Proxy in front of the instance, and its readiness step."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DEV_ALL_ON, PROD_CHANGED, run_where, shared_run, stack_file
from tests.helpers import RDS, SECRET, VPC, group_id, int_of, plain
from tests.test_database import PARAMS, stack_generated_master

# -- RDS Proxy (tca:dbProxy) ----------------------------------------------------------------------

PROXY = "aws:rds/proxy:Proxy"
PROXY_GROUP = "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup"
PROXY_TARGET = "aws:rds/proxyTarget:ProxyTarget"


def test_proxy_exists_exactly_when_configured(run, settings):
    expected = 1 if settings["tca:dbProxy"] else 0
    for type_ in (PROXY, PROXY_GROUP, PROXY_TARGET):
        assert len(run.of_type(type_)) == expected, type_


@pytest.fixture
def proxied():
    """prod with its proxy, whatever the stack file says."""
    return run_where("prod", {"tca:dbProxy": True})


def test_proxy_sits_in_private_subnets_behind_its_own_group(proxied):
    proxy = proxied.one(PROXY).inputs
    assert proxy["engineFamily"] == "POSTGRESQL"
    assert proxy["vpcSubnetIds"] == proxied.one(VPC).outputs["privateSubnetIds"]
    assert proxy["vpcSecurityGroupIds"] == [group_id(proxied, "proxy")]


def test_proxy_accepts_the_apps_plaintext_connections(proxied):
    assert proxied.one(PROXY).inputs["requireTls"] is False


def test_proxy_authenticates_only_with_the_app_secret_and_configured_client_auth(proxied):
    (auth,) = proxied.one(PROXY).inputs["auths"]
    assert auth["authScheme"] == "SECRETS"
    assert auth["secretArn"] == proxied.one(SECRET, "-app-credentials").outputs["arn"]
    assert auth["clientPasswordAuthType"] == stack_file("prod")["tca:dbProxyClientAuth"]
    assert auth["iamAuth"] == "DISABLED"


def test_a_proxy_stack_keeping_its_own_master_accepts_the_app_and_the_master_while_tasks_move():
    """The first of the two deploys: tasks not yet replaced still log in as the master through the proxy."""
    run = stack_generated_master()
    assert run.of_type(PROXY)
    app = run.one(SECRET, "-app-credentials").outputs["arn"]
    master = run.one(SECRET, "tca-prod-credentials").outputs["arn"]
    assert [a["secretArn"] for a in run.one(PROXY).inputs["auths"]] == [app, master]
    statements = json.loads(run.one("aws:iam/rolePolicy:RolePolicy", "-proxy-").inputs["policy"])["Statement"]
    assert statements[0] == {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": [app, master]}


def test_with_the_rds_managed_master_the_proxy_never_lists_the_master():
    run = run_where("prod", {"tca:dbProxy": True, "tca:dbManagedMasterPassword": True})
    master = run.one(RDS).outputs["masterUserSecrets"][0]["secretArn"]
    assert master not in json.dumps(plain(run.one(PROXY).inputs))
    assert master not in run.one("aws:iam/rolePolicy:RolePolicy", "-proxy-").inputs["policy"]


def test_proxy_client_auth_follows_config():
    assert PROD_CHANGED["tca:dbProxy"] is True
    assert PROD_CHANGED["tca:dbProxyClientAuth"] == "POSTGRES_SCRAM_SHA_256"
    run = shared_run("prod", PROD_CHANGED)
    assert run.one(PROXY).inputs["auths"][0]["clientPasswordAuthType"] == "POSTGRES_SCRAM_SHA_256"


def test_proxy_role_is_for_rds_and_reads_only_the_one_secret_iam_1(proxied):
    role = proxied.one("aws:iam/role:Role", "-proxy")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "rds.amazonaws.com"}]
    assert proxied.one(PROXY).inputs["roleArn"] == role.outputs["arn"]
    policy = proxied.one("aws:iam/rolePolicy:RolePolicy", "-proxy-")
    assert policy.inputs["role"] == role.id
    assert json.loads(policy.inputs["policy"])["Statement"] == [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": proxied.one(SECRET, "-app-credentials").outputs["arn"]},
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": proxied.one("aws:kms/key:Key").outputs["arn"],
         "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{proxied.region}.amazonaws.com"}}}]


def test_proxy_pool_fails_fast_and_drops_idle_clients(proxied):
    pool = proxied.one(PROXY_GROUP).inputs["connectionPoolConfig"]
    alb_idle = int_of(proxied.one("awsx:lb:ApplicationLoadBalancer").inputs["idleTimeout"])
    assert int_of(pool["connectionBorrowTimeout"]) < alb_idle, "must give up before the ALB closes the request"
    assert 1 <= int_of(pool["maxConnectionsPercent"]) <= 100
    assert proxied.one(PROXY_GROUP).inputs["dbProxyName"] == proxied.one(PROXY).outputs["name"]
    assert int_of(proxied.one(PROXY).inputs["idleClientTimeout"]) == 300


def test_proxy_target_is_this_instance(proxied):
    target = proxied.one(PROXY_TARGET).inputs
    assert target["dbInstanceIdentifier"] == proxied.one(RDS).outputs["identifier"]
    assert target["dbProxyName"] == proxied.one(PROXY).outputs["name"]
    assert target["targetGroupName"] == proxied.one(PROXY_GROUP).outputs["name"]


def test_proxy_starts_after_its_permission_exists(proxied):
    deps = set(proxied.one(PROXY).dependencies)
    assert proxied.one("aws:iam/rolePolicy:RolePolicy", "-proxy-").urn in deps


def test_proxied_stack_keeps_the_tls_waiver(proxied):
    parameters = {p["name"]: p["value"] for p in proxied.one(PARAMS).inputs["parameters"]}
    assert parameters["rds.force_ssl"] == "0"


# -- the proxy readiness step (infra/proxy_ready_provider.py) ----------------------------------

PROXY_READY = "pulumi-python:dynamic/proxy:ProxyReady"


def test_proxy_readiness_step_exists_exactly_with_the_proxy(run, settings):
    assert len(run.of_type(PROXY_READY)) == (1 if settings["tca:dbProxy"] else 0)


def test_proxy_readiness_waits_for_this_instances_target_after_it_is_registered(proxied):
    ready = proxied.one(PROXY_READY)
    props = plain(ready.inputs)
    assert props["proxy_name"] == proxied.one(PROXY).outputs["name"]
    assert props["db_instance"] == proxied.one(RDS).outputs["identifier"]
    assert props["region"] == proxied.region == stack_file("prod")["aws:region"] and props["profile"] == ""
    assert proxied.one(PROXY_TARGET).urn in ready.dependencies
    assert ready.parent == proxied.one("tca:infra:Database").urn


def test_proxy_readiness_is_rechecked_when_the_proxy_its_target_the_instance_or_the_app_credential_changes(proxied):
    props = plain(proxied.one(PROXY_READY).inputs)
    assert props["proxy_arn"] == proxied.one(PROXY).outputs["arn"]
    assert props["target_id"] == proxied.one(PROXY_TARGET).id
    assert props["db_resource_id"] == proxied.one(RDS).outputs["resourceId"]
    # The credential the proxy logs in with (its first auth).
    app_secret = proxied.one(SECRET, "-app-credentials").outputs["arn"]
    assert props["app_secret_arn"] == app_secret == proxied.one(PROXY).inputs["auths"][0]["secretArn"]


def test_switching_the_proxy_on_for_a_running_stack_makes_service_and_seed_wait_for_it():
    # On the `up` that turns dbProxy on, the step is new, so it is created (and waits) before
    # the service rolls to tasks that use the proxy endpoint.
    assert DEV_ALL_ON["tca:dbProxy"] is True
    run = shared_run("dev", DEV_ALL_ON)
    ready = run.one(PROXY_READY).urn
    assert ready in run.one("awsx:ecs:FargateService").dependencies
    assert ready in run.one("pulumi-python:dynamic/seed:DatabaseSeed").dependencies

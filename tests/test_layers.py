"""Layers: network, database and app in their own stacks, joined by stack references, and an existing VPC.

The layered renders come from prod's stack file: the network stack first, then the database and app stacks
with stack references answered from the rendered stacks' outputs (tests/layered.py). They ask for RDS Proxy
(tests/layered.py WITH_PROXY) and are compared with the one-stack render of the same settings; the proxy-less
checks render dev's layers without it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any
from unittest import mock
from unittest.mock import call

import pytest
from pulumi_aws.ec2.outputs import GetRouteTableRouteResult
from pulumi_policy import PolicyResource

from infra.config import ConfigError, _egress_problem, load_config
from infra.layers import DEPLOYMENT_OUTPUT
from infra.refs import DatabaseRefs, NetworkRefs
from policy import tca_policies as pack
from tests import mocks
from tests.conftest import shared_run, stack_run
from tests.helpers import ALB, ECS_SERVICE, RDS, SECRET, SG, VPC, environment, plain
from tests.layered import (
    LAYERS,
    WITH_PROXY,
    WITHOUT_PROXY,
    as_referenced,
    layer_overrides,
    layered,
    qualified,
    stack_name,
)
from tests.mocks import (
    EXISTING_CENTRAL_EGRESS,
    EXISTING_ISOLATED,
    EXISTING_PRIVATE,
    EXISTING_PUBLIC,
    EXISTING_VPC,
    EXISTING_VPC_SETTINGS,
    FOREIGN_SUBNET,
    OTHER_VPC,
    TRANSIT_GATEWAY,
    Registration,
    Run,
    availability_zones,
    rds_offers_like_aws,
    run_program,
    stack_config,
    stack_region,
)
from tests.policy_resources import policy_resources, resource
from tests.test_policy import stack_config as policy_config
from tests.test_policy import violations

KEYS = {"tca:infra:Keys", "aws:kms/key:Key", "aws:kms/alias:Alias"}
APP_OUTPUTS = {"url", "healthcheckUrl", "clusterName", "serviceName", "logGroupName", "dbEndpoint", "dbSecretArn",
               "reseedCommand", "dashboardUrl", "alarmTopicArn"}
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
EXEC_SECRET_POLICY = "aws:iam/rolePolicy:RolePolicy"
SEED = "pulumi-python:dynamic/seed:DatabaseSeed"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"

EXISTING = EXISTING_VPC_SETTINGS


def prod_layers() -> dict[str, Run]:
    """prod's three layers with RDS Proxy, shared by every test that reads them."""
    return layered("prod", WITH_PROXY)


def prod_one_stack() -> Run:
    """The one-stack deployment the layers are compared with: prod's stack file under the same settings."""
    return shared_run("prod", WITH_PROXY)


def prod_layer(layer: str) -> dict[str, Any]:
    """What a layer of prod's layered deployment sets on top of prod's stack file."""
    return {**WITH_PROXY, **layer_overrides("prod", layer)}


def _key(r: Registration) -> tuple[str, str]:
    return r.type, r.name


def _owners(runs: dict[str, Run]) -> dict[tuple[str, str], list[str]]:
    owners: dict[tuple[str, str], list[str]] = {}
    for layer, run in runs.items():
        for r in run.registrations:
            owners.setdefault(_key(r), []).append(layer)
    return owners


# -- equivalence with the one-stack deployment -----------------------------------------------------------------

def test_the_three_layers_together_declare_exactly_the_one_stack_deployments_resources_plus_a_key_each():
    runs, one = prod_layers(), prod_one_stack()
    together = Counter(_key(r) for run in runs.values() for r in run.registrations if r.type not in KEYS)
    assert together == Counter(_key(r) for r in one.registrations if r.type not in KEYS)
    for run in runs.values():
        assert Counter(r.type for r in run.registrations if r.type in KEYS) == Counter(KEYS)


def test_every_layered_resource_receives_the_inputs_its_one_stack_counterpart_receives():
    """Wired the same way: what each resource is given, IDs and ARNs of other layers' resources included."""
    one = {_key(r): r for r in prod_one_stack().registrations}
    for layer, run in prod_layers().items():
        differing = [r.name for r in run.registrations
                     if r.type not in KEYS and plain(r.inputs) != plain(one[_key(r)].inputs)]
        assert differing == [], layer


def test_each_layers_key_is_named_after_its_own_stack():
    for layer, run in prod_layers().items():
        assert run.one("aws:kms/alias:Alias").inputs["name"] == f"alias/tca-{stack_name('prod', layer)}"


@pytest.mark.parametrize(("type_", "owner"), [
    (VPC, "network"), (FLOW_LOG, "network"), (SG, "network"),
    (RDS, "database"), (SECRET, "database"),
    ("aws:rds/proxy:Proxy", "database"),
    (ECS_SERVICE, "app"), (ALB, "app"), (SEED, "app"),
    ("pulumi-python:dynamic/bootstrap:DatabaseBootstrap", "database"),
    ("aws:cloudwatch/dashboard:Dashboard", "app"), ("aws:sns/topic:Topic", "app"),
])
def test_each_single_instance_resource_lives_in_exactly_one_layer(type_: str, owner: str):
    owners = {k: v for k, v in _owners(prod_layers()).items() if k[0] == type_}
    assert owners and all(layers == [owner] for layers in owners.values()), owners


def test_the_app_cluster_lives_in_the_app_layer_and_the_database_admin_cluster_in_the_database_layer():
    owners = {k[1]: v for k, v in _owners(prod_layers()).items() if k[0] == "aws:ecs/cluster:Cluster"}
    assert owners == {"tca-prod-cluster": ["app"], "tca-prod-dbadmin-ecs": ["database"]}


def test_the_app_stack_exports_what_the_one_stack_deployment_exports_for_the_same_resources():
    app, one = prod_layers()["app"], prod_one_stack()
    assert set(app.outputs) == APP_OUTPUTS
    assert {k: v for k, v in app.outputs.items() if k != "reseedCommand"} == \
        {k: v for k, v in one.outputs.items() if k != "reseedCommand"}
    assert "--stack prod-app " in app.outputs["reseedCommand"]


# -- what joins the layers ---------------------------------------------------------------------------------------

def test_the_network_and_database_stacks_export_exactly_their_refs_and_their_deployment():
    runs = prod_layers()
    assert set(runs["network"].outputs) == {*NetworkRefs.EXPORTS.values(), DEPLOYMENT_OUTPUT}
    assert set(runs["database"].outputs) == {*DatabaseRefs.EXPORTS.values(), DEPLOYMENT_OUTPUT}
    assert runs["network"].outputs[DEPLOYMENT_OUTPUT] == runs["database"].outputs[DEPLOYMENT_OUTPUT] == "prod"


def test_the_database_goes_in_the_network_stacks_private_subnets_and_database_group():
    runs = prod_layers()
    network, database = runs["network"], runs["database"]
    group = database.one("aws:rds/subnetGroup:SubnetGroup")
    assert group.inputs["subnetIds"] == network.outputs["privateSubnetIds"]
    assert database.one(RDS).inputs["vpcSecurityGroupIds"] == [network.outputs["dbSecurityGroupId"]]
    proxy = database.one("aws:rds/proxy:Proxy")
    assert proxy.inputs["vpcSubnetIds"] == network.outputs["privateSubnetIds"]
    assert proxy.inputs["vpcSecurityGroupIds"] == [network.outputs["proxySecurityGroupId"]]


def test_the_app_uses_the_network_stacks_subnets_and_groups():
    runs = prod_layers()
    network, app = runs["network"], runs["app"]
    alb = app.one(ALB).inputs
    assert alb["subnetIds"] == network.outputs["publicSubnetIds"]
    assert alb["securityGroups"] == [network.outputs["lbSecurityGroupId"]]
    service = app.one(ECS_SERVICE).inputs["networkConfiguration"]
    assert service["subnets"] == network.outputs["privateSubnetIds"]
    assert service["securityGroups"] == [network.outputs["serviceSecurityGroupId"]]
    assert app.one(SEED).inputs["subnets"] == network.outputs["privateSubnetIds"]


def test_the_app_connects_through_the_database_stacks_proxy_with_its_secret_and_a_whole_port():
    runs = prod_layers()
    database, app = runs["database"], runs["app"]
    env = environment(app)
    assert env["VTT_DBHOST"] == database.outputs["dbClientHost"] == database.one("aws:rds/proxy:Proxy").outputs[
        "endpoint"]
    # Stack outputs carry numbers as floats; "5432.0" would not parse as a port.
    assert env["VTT_DBPORT"] == "5432"
    secrets = plain(app.one(ECS_SERVICE).inputs["taskDefinitionArgs"]["container"]["secrets"])
    assert secrets == [{"name": "VTT_DBUSER", "valueFrom": f"{database.outputs['dbSecretArn']}:username::"},
                       {"name": "VTT_DBPASSWORD", "valueFrom": f"{database.outputs['dbSecretArn']}:password::"}]


def test_the_apps_execution_role_may_decrypt_with_the_database_stacks_key_not_its_own():
    """The layers share a name, so the mocks would give both keys one ARN: the database stack names another."""
    outputs = _outputs()
    db_key = f"arn:aws:kms:{stack_region('prod')}:123456789012:key/0d0d0d0d-1234-4567-89ab-0d0d0d0d0d0d"
    outputs[qualified("prod", "database")] = {**outputs[qualified("prod", "database")], "dbKeyArn": db_key}
    app = run_program("prod-app", prod_layer("app"), stack_file="prod", stack_outputs=outputs)
    assert app.error is None, app.error
    policy = json.loads(app.one(EXEC_SECRET_POLICY, "-exec-secret").inputs["policy"])
    decrypt = [s for s in policy["Statement"] if s["Action"] == "kms:Decrypt"]
    assert [s["Resource"] for s in decrypt] == [db_key] != [app.one("aws:kms/key:Key").outputs["arn"]]
    assert [s["Resource"] for s in policy["Statement"] if s["Action"] == "secretsmanager:GetSecretValue"] == \
        [prod_layers()["database"].one(SECRET).outputs["arn"]]


def test_the_database_key_lets_secrets_manager_decrypt_for_any_principal_the_account_allows():
    """No cycle: the database key names no app role; it delegates to IAM through Secrets Manager."""
    database = prod_layers()["database"]
    policy = json.loads(database.one("aws:kms/key:Key").inputs["policy"])
    via = next(s for s in policy["Statement"] if s["Sid"] == "SecretsManagerForThisStacksSecrets")
    assert via["Principal"] == {"AWS": "*"}
    assert via["Condition"]["StringEquals"]["kms:ViaService"] == f"secretsmanager.{database.region}.amazonaws.com"


def test_the_seed_runs_once_per_referenced_database_keyed_on_its_resource_id():
    runs = prod_layers()
    assert runs["app"].one(SEED).inputs["db_instance_id"] == runs["database"].one(RDS).outputs["resourceId"]


def test_the_apps_alarms_and_dashboard_cover_the_referenced_database_and_proxy():
    runs = prod_layers()
    database, app = runs["database"], runs["app"]
    dimensions = [plain(a.inputs.get("dimensions") or {}) for a in app.of_type(ALARM)]
    assert {"DBInstanceIdentifier": database.one(RDS).outputs["identifier"]} in dimensions
    assert {"ProxyName": database.one("aws:rds/proxy:Proxy").outputs["name"]} in dimensions
    body = app.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"]
    assert database.one(RDS).outputs["identifier"] in body


def test_a_layered_stack_creates_nothing_that_another_layer_owns():
    runs = prod_layers()
    assert not runs["network"].of_type(RDS) and not runs["network"].of_type(ECS_SERVICE)
    assert not runs["database"].of_type(VPC) and not runs["database"].of_type(SG)
    assert not runs["database"].of_type(ECS_SERVICE)
    assert not runs["app"].of_type(VPC) and not runs["app"].of_type(SG) and not runs["app"].of_type(RDS)


def test_layers_without_rds_proxy_leave_out_the_proxys_group_output_and_alarms():
    runs = layered("dev", WITHOUT_PROXY)
    assert "proxySecurityGroupId" not in runs["network"].outputs
    assert "dbProxyName" not in runs["database"].outputs
    assert not runs["database"].of_type("aws:rds/proxy:Proxy")
    assert environment(runs["app"])["VTT_DBHOST"] == runs["database"].one(RDS).outputs["address"]
    assert all("ProxyName" not in plain(a.inputs.get("dimensions") or {}) for a in runs["app"].of_type(ALARM))


# -- mistakes refused by name before anything exists ---------------------------------------------------------------

def _refused(stack: str, overrides: dict[str, Any], outputs: dict[str, dict[str, Any]] | None = None,
             base: str = "prod") -> str:
    run = run_program(stack, overrides, stack_file=base, stack_outputs=outputs)
    assert isinstance(run.error, ConfigError), run.error
    assert run.registrations == []
    return str(run.error)


def _outputs() -> dict[str, dict[str, Any]]:
    runs = prod_layers()
    return {qualified("prod", layer): as_referenced(runs[layer].outputs) for layer in ("network", "database")}


def test_an_unknown_layer_is_refused_by_name():
    assert "tca:layer = 'frontend': must be one of all, network, database, app" in \
        _refused("prod-x", {"tca:layer": "frontend"})


@pytest.mark.parametrize(("layer", "missing"), [
    ("database", ["networkStack"]), ("app", ["networkStack", "databaseStack"])])
def test_a_layer_without_the_stacks_it_reads_is_refused_naming_each_key(layer: str, missing: list[str]):
    message = _refused(f"prod-{layer}", {"tca:layer": layer})
    assert [k for k in ("networkStack", "databaseStack") if f"tca:{k} is not set" in message] == missing


def test_an_app_without_a_database_stack_is_refused_by_name():
    message = _refused("prod-app", {"tca:layer": "app", "tca:networkStack": qualified("prod", "network")})
    assert "tca:databaseStack is not set: the app layer reads the database layer's stack" in message


@pytest.mark.parametrize(("layer", "referenced", "output"), [
    ("database", "network", "dbSecurityGroupId"),
    ("app", "network", "publicSubnetIds"),
    ("app", "network", "appPort"),
    ("app", "database", DEPLOYMENT_OUTPUT),
    ("app", "database", "dbResourceId"),
])
def test_a_referenced_stack_missing_an_output_is_refused_naming_the_output_and_the_stack(
        layer: str, referenced: str, output: str):
    outputs = _outputs()
    outputs[qualified("prod", referenced)] = {k: v for k, v in outputs[qualified("prod", referenced)].items()
                                              if k != output}
    message = _refused(stack_name("prod", layer), prod_layer(layer), outputs)
    key = "networkStack" if referenced == "network" else "databaseStack"
    assert f"tca:{key} = '{qualified('prod', referenced)}': that stack has no output {output}," in message


@pytest.mark.parametrize(("layer", "referenced"), [("database", "network"), ("app", "network"), ("app", "database")])
def test_a_layer_referencing_a_layer_of_another_deployment_is_refused_by_name(layer: str, referenced: str):
    """The app's roles' boundary would not admit a secret or key named after another deployment."""
    outputs = _outputs()
    outputs[qualified("prod", referenced)] = {**outputs[qualified("prod", referenced)], DEPLOYMENT_OUTPUT: "staging"}
    message = _refused(stack_name("prod", layer), prod_layer(layer), outputs)
    key = "networkStack" if referenced == "network" else "databaseStack"
    assert message == (
        f"tca:deploymentName = 'prod', but tca:{key} = '{qualified('prod', referenced)}' is a layer of 'staging': "
        "the layers of one deployment share its name prefix, permissions boundary and deployer; set the same "
        "tca:deploymentName in every layer. Nothing was created.")


def test_an_app_whose_database_is_in_another_vpc_than_its_network_is_refused():
    outputs = _outputs()
    outputs[qualified("prod", "database")] = {**outputs[qualified("prod", "database")], "dbVpcId": OTHER_VPC}
    message = _refused("prod-app", prod_layer("app"), outputs)
    network_vpc = outputs[qualified("prod", "network")]["vpcId"]
    assert (f"tca:databaseStack = '{qualified('prod', 'database')}' runs its database in {OTHER_VPC}, but "
            f"tca:networkStack = '{qualified('prod', 'network')}' is {network_vpc}") in message


def test_the_database_stack_names_the_vpc_it_runs_in():
    runs = prod_layers()
    assert runs["database"].outputs["dbVpcId"] == runs["network"].outputs["vpcId"]


def test_a_database_with_rds_proxy_on_a_network_without_the_proxys_hop_is_refused():
    outputs = _outputs()
    del outputs[qualified("prod", "network")]["proxySecurityGroupId"]
    message = _refused("prod-database", prod_layer("database"), outputs)
    assert "has no output proxySecurityGroupId" in message and "tca:dbProxy = true" in message


def test_the_network_stack_exports_the_port_its_load_balancer_reaches_the_tasks_on():
    network = prod_layers()["network"]
    rule = network.one("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "-lb-to-svc-in").inputs
    assert network.outputs["appPort"] == rule["fromPort"] == rule["toPort"]


def test_an_app_on_another_port_than_its_network_stack_opened_is_refused_by_name():
    """The port arrives as the float a stack reference reads; the message names it as a whole number."""
    outputs = _outputs()
    port = load_config(stack="prod-app", values=stack_config("prod", prod_layer("app")),
                       offered=rds_offers_like_aws).service.app_port
    other = port + 1 if port < 65535 else port - 1
    outputs[qualified("prod", "network")] = {**outputs[qualified("prod", "network")], "appPort": float(other)}
    message = _refused("prod-app", prod_layer("app"), outputs)
    assert message == (
        f"tca:appPort = {port}, but the network stack '{qualified('prod', 'network')}' lets the load balancer reach "
        f"the tasks only on port {other} (its tca:appPort): the tasks would be unreachable. Set tca:appPort alike "
        "in both stacks, and run `pulumi up` on the network stack first when changing it. Nothing was created.")


# -- config per layer -------------------------------------------------------------------------------------------------

# What a stack file of each layer must set (beside aws:region); every other key keeps its default or is not read.
LAYER_KEYS = {
    "network": ("azCount", "natGateways", "deletionProtection", "logRetentionDays", "keyDeletionWindowDays",
                "dbProxy"),
    "database": ("dbInstanceClass", "dbMaxAllocatedStorage", "dbMultiAz", "dbBackupRetentionDays",
                 "deletionProtection", "logRetentionDays", "secretRecoveryDays", "dbProxy", "dbMaintenanceWindow",
                 "dbBackupWindow", "dbMonitoringIntervalSeconds", "dbSlowStatementMs", "keyDeletionWindowDays",
                 "dbManagedMasterPassword", "rotationDays"),
    "app": ("deletionProtection", "logRetentionDays", "taskCpu", "taskMemory", "minTasks", "maxTasks", "fargateSpot",
            "alarmTarget5xxCount", "alarmAlb5xxCount", "alarmResponseTimeMs", "alarmServiceCpuPercent",
            "alarmServiceMemoryPercent", "alarmDbCpuPercent", "alarmDbFreeStorageGib", "alarmDbConnections",
            "alarmDbFreeMemoryMib", "alarmProxyBorrowLatencyMs", "alarmProxyClientConnections",
            "keyDeletionWindowDays", "deploymentStrategy", "deploymentBakeMinutes", "rollback5xxCount",
            "rollbackResponseTimeMs", "waf", "albAccessLogs", "albAccessLogDays"),
}


def _defaults_only(layer: str, keys: tuple[str, ...]) -> dict[str, str]:
    full = stack_config("prod", layer_overrides("prod", layer))
    values = stack_config("no-such-stack-file", layer_overrides("prod", layer))
    values.update({k: full[k] for k in (f"tca:{key}" for key in keys)})
    return {**values, "aws:region": full["aws:region"]}


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layers_stack_file_needs_only_that_layers_keys(layer: str):
    cfg = load_config(stack=f"prod-{layer}", values=_defaults_only(layer, LAYER_KEYS[layer]),
                      offered=rds_offers_like_aws)
    assert cfg.layers.layer == layer and cfg.unused_keys == ()


def test_a_network_layer_in_an_existing_vpc_needs_no_vpc_or_key_settings():
    keys = tuple(k for k in LAYER_KEYS["network"] if k not in ("natGateways", "keyDeletionWindowDays"))
    values = {**_defaults_only("network", keys), **{key: str(value) for key, value in EXISTING.items()}}
    values.pop("tca:natGateways", None)
    values.pop("tca:keyDeletionWindowDays", None)
    cfg = load_config(stack="prod-network", values=values, offered=rds_offers_like_aws, vpc_check=lambda *_: [])
    assert cfg.network.existing_vpc and "keys" not in cfg.sections


def test_a_network_stack_file_without_a_key_it_needs_is_refused_naming_it():
    values = _defaults_only("network", tuple(k for k in LAYER_KEYS["network"] if k != "natGateways"))
    with pytest.raises(ConfigError, match=r"tca:natGateways is not set"):
        load_config(stack="prod-network", values=values, offered=rds_offers_like_aws)


def test_keys_only_other_layers_use_are_named_in_a_warning_and_have_no_effect():
    with mock.patch("pulumi.log.warn") as warn:
        cfg = load_config(stack="prod-network", values=stack_config("prod", layer_overrides("prod", "network")),
                          offered=rds_offers_like_aws)
    assert {"tca:taskCpu", "tca:dbInstanceClass", "tca:waf"} <= set(cfg.unused_keys)
    assert not {"tca:azCount", "tca:natGateways", "tca:dbProxy", "tca:keyDeletionWindowDays"} & set(cfg.unused_keys)
    (message,), _ = warn.call_args
    assert message.startswith("the network layer does not use ") and "tca:taskCpu" in message
    with pytest.raises(KeyError, match="the network layer reads no service settings"):
        _ = cfg.service


def test_the_one_stack_files_warn_about_nothing():
    for stack in ("dev", "prod"):
        with mock.patch("pulumi.log.warn") as warn:
            cfg = load_config(stack=stack, values=stack_config(stack), offered=rds_offers_like_aws)
        assert cfg.unused_keys == () and warn.call_count == 0


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_without_a_deployment_name_is_refused_because_the_layers_share_its_prefix(layer: str):
    """Named after its own stack, the app's roles' boundary would not admit the database stack's secret."""
    values = stack_config("prod", {**layer_overrides("prod", layer), "tca:deploymentName": ""})
    with pytest.raises(ConfigError) as refused:
        load_config(stack=stack_name("prod", layer), values=values, offered=rds_offers_like_aws)
    assert (f"tca:deploymentName is not set: the {layer} layer is one layer of a deployment, and the layers of one "
            "deployment share its name prefix (tca-<deploymentName>), its roles' permissions boundary and its "
            "deployer; set it to the same name in the network, database and app stacks") in str(refused.value)


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layers_deployment_name_fits_the_load_balancers_name_prefix(layer: str):
    values = stack_config("prod", {**layer_overrides("prod", layer), "tca:deploymentName": "p" * 21})
    with pytest.raises(ConfigError) as refused:
        load_config(stack=stack_name("prod", layer), values=values, offered=rds_offers_like_aws)
    assert (f"tca:deploymentName = '{'p' * 21}': must be lowercase letters, digits and single hyphens, at most 20 "
            "characters, because it names the load balancer\n") in f"{refused.value}\n"


def test_the_layers_name_their_resources_after_the_deployment_not_their_stacks():
    for layer, run in prod_layers().items():
        components = {r.name for r in run.registrations if r.type.startswith("tca:infra:")}
        assert components and all(name == "tca-prod" or name.startswith("tca-prod-") for name in components), layer
        assert not any(name.startswith(f"tca-{stack_name('prod', layer)}") for name in components), layer


def test_a_stack_reference_must_name_organization_project_and_stack():
    with pytest.raises(ConfigError, match=r"tca:networkStack = 'prod-network': must name a stack as "
                                          r"organization/project/stack"):
        load_config(stack="prod-database", values=stack_config("prod", {"tca:layer": "database",
                                                                       "tca:networkStack": "prod-network"}),
                    offered=rds_offers_like_aws)


# -- an existing VPC ------------------------------------------------------------------------------------------------

def existing_vpc_run() -> Run:
    """prod in the existing VPC, with RDS Proxy: every path's group and subnets."""
    return shared_run("prod", {**EXISTING, **WITH_PROXY})


def test_in_an_existing_vpc_no_vpc_subnet_nat_flow_log_or_default_group_is_created():
    run = existing_vpc_run()
    assert run.of_type(VPC) == [] and run.of_type(FLOW_LOG) == [] and run.of_type(DEFAULT_SG) == []
    assert not [r for r in run.registrations if r.type.startswith("aws:ec2/") and r.type != SG]


def test_in_an_existing_vpc_the_paths_security_groups_are_created_in_it():
    groups = existing_vpc_run().of_type(SG)
    assert sorted(g.name for g in groups) == sorted(f"tca-prod-{role}-sg"
                                                    for role in ("lb", "svc", "db", "admin", "proxy"))
    assert {g.inputs["vpcId"] for g in groups} == {EXISTING_VPC}


def test_in_an_existing_vpc_the_load_balancer_takes_the_public_subnets_and_tasks_and_database_the_private():
    run = existing_vpc_run()
    assert run.one(ALB).inputs["subnetIds"] == list(EXISTING_PUBLIC)
    assert run.one(ECS_SERVICE).inputs["networkConfiguration"]["subnets"] == list(EXISTING_PRIVATE)
    assert run.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"] == list(EXISTING_PRIVATE)
    assert run.one("aws:rds/proxy:Proxy").inputs["vpcSubnetIds"] == list(EXISTING_PRIVATE)


def test_a_network_layer_in_an_existing_vpc_creates_only_the_groups_and_exports_the_given_ids():
    run = run_program("prod-network", {**EXISTING, **layer_overrides("prod", "network")}, stack_file="prod")
    assert run.error is None, run.error
    assert {r.type for r in run.registrations} == {"tca:infra:Network", SG,
                                                   "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                                                   "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"}
    assert run.outputs["vpcId"] == EXISTING_VPC
    assert run.outputs["publicSubnetIds"] == list(EXISTING_PUBLIC)
    assert run.outputs["privateSubnetIds"] == list(EXISTING_PRIVATE)


def _static(overrides: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as refused:
        load_config(stack="prod", values=stack_config("prod", overrides), offered=rds_offers_like_aws,
                    vpc_check=lambda *_: [])
    return str(refused.value)


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"tca:vpcId": "vpc-12"}, "tca:vpcId = 'vpc-12': must be a VPC ID"),
    ({**EXISTING, "tca:publicSubnetIds": '["subnet-1", "subnet-2", "subnet-3"]'},
     "tca:publicSubnetIds = '[\"subnet-1\", \"subnet-2\", \"subnet-3\"]': must be a JSON list of 3 subnet IDs"),
    ({**EXISTING, "tca:privateSubnetIds": json.dumps(list(EXISTING_PRIVATE[:2]))},
     "it lists 2, and tca:azCount is 3"),
    ({"tca:vpcId": EXISTING_VPC}, "tca:publicSubnetIds is not set: with tca:vpcId the stack creates no subnets"),
    ({"tca:vpcId": EXISTING_VPC, "tca:publicSubnetIds": EXISTING["tca:publicSubnetIds"]},
     "tca:privateSubnetIds is not set: with tca:vpcId"),
    ({k: v for k, v in EXISTING.items() if k != "tca:vpcId"},
     "tca:publicSubnetIds and tca:privateSubnetIds name subnets of an existing VPC: set tca:vpcId too"),
    ({**EXISTING, "tca:privateSubnetIds": EXISTING["tca:publicSubnetIds"]},
     "must not list a subnet of tca:publicSubnetIds"),
])
def test_malformed_or_missing_existing_vpc_settings_are_refused_by_name(overrides: dict[str, Any], expected: str):
    assert expected in _static(overrides)


def _looked_up(overrides: dict[str, Any]) -> str:
    """Refused through the EC2 lookups (answered by the mocks), before any resource."""
    return _refused("prod", {**EXISTING, **overrides})


def test_a_subnet_of_another_vpc_is_refused_through_the_lookup():
    private = json.dumps([FOREIGN_SUBNET, *EXISTING_PRIVATE[1:]])
    assert (f"tca:privateSubnetIds = '{FOREIGN_SUBNET}': is in vpc-0ffeeffeeffeeffee, not in tca:vpcId "
            f"({EXISTING_VPC})") in _looked_up({"tca:privateSubnetIds": private})


def test_a_private_subnet_without_a_default_route_is_refused_through_the_lookup():
    """The isolated subnet has no association of its own: the VPC's main route table, with no default route."""
    private = json.dumps([EXISTING_ISOLATED, *EXISTING_PRIVATE[1:]])
    assert (f"tca:privateSubnetIds = '{EXISTING_ISOLATED}': has no default route (0.0.0.0/0); tasks pull the image "
            "and read the database secret through it" in _looked_up({"tca:privateSubnetIds": private}))


def test_public_subnets_must_route_to_an_internet_gateway_and_private_ones_must_not():
    swapped = {"tca:publicSubnetIds": EXISTING["tca:privateSubnetIds"],
               "tca:privateSubnetIds": EXISTING["tca:publicSubnetIds"]}
    message = _looked_up(swapped)
    assert (f"tca:publicSubnetIds = '{EXISTING_PRIVATE[0]}': routes 0.0.0.0/0 to NAT gateway nat-0{'a' * 16}, not "
            "to an internet gateway (or a firewall endpoint in front of one)") in message
    assert (f"tca:privateSubnetIds = '{EXISTING_PUBLIC[0]}': routes 0.0.0.0/0 to internet gateway "
            "igw-0123456789abcdef0, so it is a public subnet") in message


def test_a_private_subnet_with_central_egress_through_a_transit_gateway_passes_with_a_warning():
    private = json.dumps([EXISTING_CENTRAL_EGRESS, *EXISTING_PRIVATE[1:]])
    with mock.patch("pulumi.log.warn") as warn:
        cfg = load_config(stack="prod", values=stack_config("prod", {**EXISTING, "tca:privateSubnetIds": private}),
                          offered=rds_offers_like_aws)
    assert cfg.network.private_subnet_ids == (EXISTING_CENTRAL_EGRESS, *EXISTING_PRIVATE[1:])
    assert call(f"tca:privateSubnetIds: {EXISTING_CENTRAL_EGRESS} routes 0.0.0.0/0 to transit gateway "
                f"{TRANSIT_GATEWAY}, not to a NAT gateway; reaching Docker Hub, Secrets Manager and CloudWatch Logs "
                "through it is not verified; tasks pull the image, read the database secret and write logs that "
                "way") in warn.call_args_list


def _route(**target: str) -> GetRouteTableRouteResult:
    """A default route as the route-table lookup reports it: every other target field empty."""
    fields = dict.fromkeys(("carrier_gateway_id", "core_network_arn", "destination_prefix_list_id",
                            "egress_only_gateway_id", "gateway_id", "instance_id", "ipv6_cidr_block",
                            "local_gateway_id", "nat_gateway_id", "network_interface_id", "odb_network_arn",
                            "transit_gateway_id", "vpc_endpoint_id", "vpc_peering_connection_id"), "")
    return GetRouteTableRouteResult(**{**fields, "cidr_block": "0.0.0.0/0", **target})


@pytest.mark.parametrize(("target", "described"), [
    ({"transit_gateway_id": "tgw-0123456789abcdef0"}, "transit gateway tgw-0123456789abcdef0"),
    ({"core_network_arn": "arn:aws:networkmanager::123456789012:core-network/core-network-0123456789abcdef0"},
     "core network arn:aws:networkmanager::123456789012:core-network/core-network-0123456789abcdef0"),
    ({"instance_id": "i-0123456789abcdef0", "network_interface_id": "eni-0123456789abcdef0"},
     "instance i-0123456789abcdef0"),
    ({"network_interface_id": "eni-0123456789abcdef0"}, "network interface eni-0123456789abcdef0"),
    ({"vpc_endpoint_id": "vpce-0123456789abcdef0"}, "VPC endpoint vpce-0123456789abcdef0"),
])
def test_a_private_subnets_egress_other_than_a_nat_gateway_passes_with_a_warning_naming_it(
        target: dict[str, str], described: str):
    subnet = EXISTING_PRIVATE[0]
    with mock.patch("pulumi.log.warn") as warn:
        assert _egress_problem("privateSubnetIds", subnet, _route(**target)) is None
    warn.assert_called_once_with(
        f"tca:privateSubnetIds: {subnet} routes 0.0.0.0/0 to {described}, not to a NAT gateway; reaching Docker Hub, "
        "Secrets Manager and CloudWatch Logs through it is not verified; tasks pull the image, read the database "
        "secret and write logs that way")


def test_a_private_subnet_routed_to_a_nat_gateway_passes_without_a_warning():
    with mock.patch("pulumi.log.warn") as warn:
        assert _egress_problem("privateSubnetIds", EXISTING_PRIVATE[0], _route(nat_gateway_id="nat-0a")) is None
    warn.assert_not_called()


def test_a_public_subnet_routed_through_a_firewall_endpoint_passes_with_a_warning():
    subnet = EXISTING_PUBLIC[0]
    with mock.patch("pulumi.log.warn") as warn:
        assert _egress_problem("publicSubnetIds", subnet, _route(vpc_endpoint_id="vpce-0123456789abcdef0")) is None
    warn.assert_called_once_with(
        f"tca:publicSubnetIds: {subnet} routes 0.0.0.0/0 to VPC endpoint vpce-0123456789abcdef0, not to an "
        "internet gateway; that the internet-facing load balancer is reached through it is not verified")


@pytest.mark.parametrize(("target", "described"), [
    ({"transit_gateway_id": "tgw-0123456789abcdef0"}, "transit gateway tgw-0123456789abcdef0"),
    ({"instance_id": "i-0123456789abcdef0"}, "instance i-0123456789abcdef0"),
])
def test_a_public_subnet_routed_elsewhere_than_an_internet_gateway_or_firewall_endpoint_is_refused(
        target: dict[str, str], described: str):
    assert _egress_problem("publicSubnetIds", EXISTING_PUBLIC[0], _route(**target)) == (
        f"routes 0.0.0.0/0 to {described}, not to an internet gateway (or a firewall endpoint in front of one); the "
        "internet-facing load balancer goes in these subnets")


def test_a_public_subnet_without_a_default_route_is_refused():
    assert _egress_problem("publicSubnetIds", EXISTING_PUBLIC[0], None) == (
        "has no default route (0.0.0.0/0); the internet-facing load balancer goes in these subnets")


def _denied(token: str, action: str, when: Callable[[dict], bool] = lambda _query: True) -> Any:
    """The EC2 lookup `token` fails the way a role without `action` sees it (when `when` holds for the query)."""
    answer = mocks._LOOKUPS[token]
    reason = (f"reading EC2 resource: operation error EC2: {action}, https response error StatusCode: 403, "
              "api error UnauthorizedOperation: You are not authorized to perform this operation.")
    return mock.patch.dict(mocks._LOOKUPS, {
        token: lambda query, region: ({}, [("id", reason)]) if when(query) else answer(query, region)})


def test_a_vpc_that_cannot_be_read_is_refused_by_key_with_the_providers_message_not_as_missing():
    with _denied("aws:ec2/getVpc:getVpc", "DescribeVpcs"):
        message = _looked_up({})
    assert f"tca:vpcId = '{EXISTING_VPC}': could not be read (" in message
    assert "DescribeVpcs" in message and "UnauthorizedOperation" in message and "no such VPC" not in message


def test_a_subnet_that_cannot_be_read_is_refused_by_key_with_the_providers_message_not_as_missing():
    with _denied("aws:ec2/getSubnet:getSubnet", "DescribeSubnets", lambda q: q.get("id") == EXISTING_PUBLIC[1]):
        message = _looked_up({})
    assert f"tca:publicSubnetIds = '{EXISTING_PUBLIC[1]}': could not be read (" in message
    assert "DescribeSubnets" in message and "no such subnet" not in message


def test_a_subnets_route_table_that_cannot_be_read_is_refused_naming_the_subnet():
    with _denied("aws:ec2/getRouteTable:getRouteTable", "DescribeRouteTables",
                 lambda q: q.get("subnetId") == EXISTING_PRIVATE[2]):
        message = _looked_up({})
    assert (f"tca:privateSubnetIds = '{EXISTING_PRIVATE[2]}': its route table could not be read (invoke of "
            "aws:ec2/getRouteTable:getRouteTable failed") in message
    assert "DescribeRouteTables" in message


def test_a_vpcs_main_route_table_that_cannot_be_read_is_refused_naming_the_subnet_that_uses_it():
    """The isolated subnet has no route table of its own, so its routes are the main table's."""
    private = json.dumps([EXISTING_ISOLATED, *EXISTING_PRIVATE[1:]])
    with _denied("aws:ec2/getRouteTable:getRouteTable", "DescribeRouteTables", lambda q: not q.get("subnetId")):
        message = _looked_up({"tca:privateSubnetIds": private})
    assert f"tca:privateSubnetIds = '{EXISTING_ISOLATED}': its route table could not be read (" in message
    assert "DescribeRouteTables" in message


def test_a_subnet_listed_twice_is_refused():
    private = json.dumps([EXISTING_PRIVATE[0], EXISTING_PRIVATE[0], EXISTING_PRIVATE[2]])
    assert "a subnet is listed twice" in _static({**EXISTING, "tca:privateSubnetIds": private})


def _in_two_zones(private: list[str]) -> str:
    """dev in the existing VPC with two zones: the first two public subnets and `private`."""
    return _refused("dev", {"tca:vpcId": EXISTING_VPC, "tca:azCount": 2,
                            "tca:publicSubnetIds": json.dumps(list(EXISTING_PUBLIC[:2])),
                            "tca:privateSubnetIds": json.dumps(private)}, base="dev")


def test_two_subnets_in_one_zone_are_refused_through_the_lookup():
    message = _in_two_zones([EXISTING_PRIVATE[0], EXISTING_ISOLATED])
    first_zone = availability_zones(stack_region("dev"))[0]
    assert f"tca:privateSubnetIds = '{EXISTING_ISOLATED}': is in {first_zone} like {EXISTING_PRIVATE[0]}" in message


def test_a_private_subnet_in_a_zone_without_a_public_one_is_refused():
    message = _in_two_zones([EXISTING_PRIVATE[0], EXISTING_PRIVATE[2]])
    third_zone = availability_zones(stack_region("dev"))[2]
    assert (f"tca:privateSubnetIds = '{EXISTING_PRIVATE[2]}': is in {third_zone}, where tca:publicSubnetIds "
            "has no subnet") in message


def test_an_unknown_vpc_is_refused_through_the_lookup():
    assert "tca:vpcId = 'vpc-0123456789abcdef0': no such VPC" in _looked_up({"tca:vpcId": "vpc-0123456789abcdef0"})


def test_a_created_vpc_is_never_looked_up():
    assert not any(token.startswith("aws:ec2/get") for token in stack_run("prod").invoked)


# -- the policy pack, per layer -------------------------------------------------------------------------------------

@pytest.mark.parametrize("layer", LAYERS)
def test_the_policy_pack_passes_on_each_layer_of_prod(layer: str):
    resources = policy_resources(prod_layers()[layer])
    config = policy_config("prod")
    found = {p.name: violations(p, resources, config.get(p.name)) for p in pack.POLICIES}
    assert {name: v for name, v in found.items() if v} == {}


def test_the_policy_pack_passes_on_prod_in_an_existing_vpc():
    resources = policy_resources(existing_vpc_run())
    config = policy_config("prod")
    found = {p.name: violations(p, resources, config.get(p.name)) for p in pack.POLICIES}
    assert {name: v for name, v in found.items() if v} == {}


def _anywhere_https_to(group: PolicyResource) -> PolicyResource:
    return resource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "anywhere-https", {
        "securityGroupId": group.props["id"], "cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 443,
        "toPort": 443, "description": "Internet to ALB (HTTPS)"})


def _group(resources: list[PolicyResource], role: str) -> PolicyResource:
    return next(r for r in resources if r.resource_type == SG and r.name.endswith(f"-{role}-sg"))


def test_a_network_layer_may_open_only_the_load_balancers_tagged_group_to_the_internet_ec2_18():
    resources = policy_resources(prod_layers()["network"])
    policy = next(p for p in pack.POLICIES if p.name == "sg-no-public-ingress")
    assert violations(policy, [*resources, _anywhere_https_to(_group(resources, "svc"))]) != []


def test_in_a_stack_with_a_load_balancer_the_tag_admits_no_other_group_ec2_18():
    resources = policy_resources(stack_run("prod"))
    svc = _group(resources, "svc")
    tagged = resource(SG, svc.name, {**svc.props, "tags": {**svc.props["tags"], "PathHop": "lb"}}, svc.urn)
    policy = next(p for p in pack.POLICIES if p.name == "sg-no-public-ingress")
    assert violations(policy, [*[r for r in resources if r is not svc], tagged, _anywhere_https_to(tagged)]) != []


def test_in_an_existing_vpc_the_nat_setting_has_no_effect_and_is_named_in_a_warning():
    """A stack file that sets the NAT strategy and no other key an existing VPC ignores (no vpcCidr)."""
    values = stack_config("prod", {**EXISTING, "tca:natGateways": "Single"}, remove=("tca:vpcCidr",))
    with mock.patch("pulumi.log.warn") as warn:
        cfg = load_config(stack="prod", values=values, offered=rds_offers_like_aws, vpc_check=lambda *_: [])
    assert cfg.unused_keys == ("tca:natGateways",)
    assert warn.call_args.args[0] == ("stack 'prod' does not use tca:natGateways with its other settings, so setting "
                                      "them has no effect; remove them from Pulumi.prod.yaml")


def test_a_vpc_without_dns_resolution_is_refused_through_the_lookup():
    assert (f"tca:vpcId = '{OTHER_VPC}': has DNS resolution (enableDnsSupport) turned off"
            in _looked_up({"tca:vpcId": OTHER_VPC}))

"""Service: the app's wiring to RDS, the load balancer, the Fargate service and autoscaling."""

from __future__ import annotations

import http.server
import json
import re
import shutil
import subprocess
import threading

import pulumi
import pytest

from infra.release import ECS_SERVICE_TYPE
from infra.service import EXECUTION_POLICY_ARN, ignore_desired_count
from tests.conftest import PROD_CHANGED, run_where, shared_run
from tests.helpers import (
    ALB,
    ECS_SERVICE,
    RDS,
    SECRET,
    VPC,
    container,
    environment,
    group_id,
    int_of,
    plain,
)

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
SCALING_TARGET = "aws:appautoscaling/target:Target"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"
CLUSTER = "aws:ecs/cluster:Cluster"
KMS_KEY = "aws:kms/key:Key"


# -- the app's configuration --------------------------------------------------------------------

def test_app_uses_postgres_not_its_embedded_boltdb_default(run):
    assert environment(run)["VTT_DBTYPE"] == "postgres"


def test_app_listens_on_all_interfaces_not_its_localhost_default(run):
    assert environment(run)["VTT_LISTENHOST"] == "0.0.0.0"


def test_app_reaches_the_database_port_and_name(run):
    env = environment(run)
    rds = run.one(RDS)
    assert env["VTT_DBPORT"] == str(int_of(rds.outputs["port"]))
    assert env["VTT_DBNAME"] == rds.inputs["dbName"]


def test_app_host_is_the_proxy_endpoint_exactly_when_the_proxy_is_on(run, settings):
    host = environment(run)["VTT_DBHOST"]
    proxies = run.of_type("aws:rds/proxy:Proxy")
    if settings["tca:dbProxy"]:
        assert host == proxies[0].outputs["endpoint"]
    else:
        assert proxies == [] and host == run.one(RDS).outputs["address"]
    assert ":" not in host, "the app wants a host name, not host:port"


def test_app_environment_has_exactly_the_documented_variables(run):
    assert set(environment(run)) == {"VTT_DBTYPE", "VTT_LISTENHOST", "VTT_LISTENPORT", "VTT_DBHOST",
                                     "VTT_DBPORT", "VTT_DBNAME"}


def _master_secret_arn(run) -> str:
    """RDS's own secret when it manages the master password, else the stack's master secret."""
    managed = run.one(RDS).outputs["masterUserSecrets"]
    return managed[0]["secretArn"] if managed else run.one(SECRET, f"tca-{run.stack}-credentials").outputs["arn"]


def _app_secret_arn(run) -> str:
    return run.one(SECRET, "-app-credentials").outputs["arn"]


def test_db_login_is_injected_from_the_app_secret_not_the_environment_ecs_8(run):
    secrets = container(run)["secrets"]
    assert secrets == [{"name": "VTT_DBUSER", "valueFrom": f"{_app_secret_arn(run)}:username::"},
                       {"name": "VTT_DBPASSWORD", "valueFrom": f"{_app_secret_arn(run)}:password::"}]
    assert not any("PASSWORD" in name or "USER" in name for name in environment(run))


@pytest.mark.parametrize("managed", [True, False])
def test_the_app_never_logs_in_as_the_master_user(managed):
    run = run_where("prod", {"tca:dbManagedMasterPassword": managed}) if managed else shared_run("prod", PROD_CHANGED)
    assert PROD_CHANGED["tca:dbManagedMasterPassword"] is False
    master = _master_secret_arn(run)
    assert master != _app_secret_arn(run)
    assert not any(s["valueFrom"].startswith(master) for s in container(run)["secrets"])
    assert master not in json.dumps(plain(run.one(ROLE_POLICY, "-exec-secret").inputs))


def test_generated_password_appears_in_no_environment_variable_ecs_8():
    run = shared_run("prod", PROD_CHANGED)
    assert run.generated_secrets, "the mock generated no password to look for"
    values = " ".join(environment(run).values())
    assert not any(secret in values for secret in run.generated_secrets)


def test_one_container_runs_serve_and_nothing_else(run):
    c = container(run)
    assert c["command"] == ["serve"]
    assert c["essential"] is True
    assert "entryPoint" not in c, "the image's ENTRYPOINT is the app binary"
    assert "containers" not in run.one(ECS_SERVICE).inputs["taskDefinitionArgs"]


def test_service_task_definition_never_runs_updatedb(run):
    task = json.dumps(plain(run.one(ECS_SERVICE).inputs["taskDefinitionArgs"]))
    assert "updatedb" not in task


def test_image_comes_from_config(run, settings):
    direct = run_where(run.stack, {"tca:dockerHubCredentialsSecretArn": ""})
    assert container(direct)["image"] == settings["tca:appImage"]


# -- one port everywhere ------------------------------------------------------------------------

def _ports(run):
    c = container(run)
    mapping = c["portMappings"][0]
    return {
        "listen": int(environment(run)["VTT_LISTENPORT"]),
        "container": int_of(mapping["containerPort"]),
        "host": int_of(mapping["hostPort"]),
        "target group": int_of(run.one(ALB).inputs["defaultTargetGroup"]["port"]),
    }


def test_listen_container_host_and_target_group_ports_agree(run, settings):
    assert set(_ports(run).values()) == {settings["tca:appPort"]}


def test_a_changed_app_port_moves_every_port_together():
    run = shared_run("dev", {"tca:appPort": 8080})
    assert set(_ports(run).values()) == {8080}
    assert "127.0.0.1:8080/healthcheck/" in " ".join(container(run)["healthCheck"]["command"])


def test_port_mapping_registers_tasks_in_the_load_balancers_target_group(run):
    mapping = container(run)["portMappings"][0]
    tg = run.referenced(run.one(ALB).outputs["defaultTargetGroup"])
    assert mapping["targetGroup"] == tg["arn"]


# -- health ---------------------------------------------------------------------------------------

def test_container_health_check_requires_the_ok_body(run, settings):
    check = container(run)["healthCheck"]
    assert check["command"][0] == "CMD-SHELL"
    assert f"http://127.0.0.1:{settings['tca:appPort']}/healthcheck/" in check["command"][1]
    assert "grep -qx OK" in check["command"][1]
    assert int_of(check["startPeriod"]) > 0 and int_of(check["retries"]) >= 1


def test_load_balancer_checks_the_healthcheck_path(run):
    check = run.one(ALB).inputs["defaultTargetGroup"]["healthCheck"]
    assert check["path"] == "/healthcheck/"
    assert check["matcher"] == "200"


# -- load balancer --------------------------------------------------------------------------------

def test_alb_uses_the_network_group_not_awsx_open_default(run):
    alb = run.one(ALB).inputs
    assert alb["securityGroups"] == [group_id(run, "lb")]
    assert "defaultSecurityGroup" not in alb


def test_alb_sits_in_the_public_subnets(run):
    assert run.one(ALB).inputs["subnetIds"] == run.one(VPC).outputs["publicSubnetIds"]


def test_alb_drops_invalid_header_fields_elb_4(run):
    assert run.one(ALB).inputs["dropInvalidHeaderFields"] is True


def test_alb_deletion_protection_follows_config_elb_6(run, settings, prod):
    assert run.one(ALB).inputs["enableDeletionProtection"] is settings["tca:deletionProtection"]
    assert prod.one(ALB).inputs["enableDeletionProtection"] is True


def test_alb_closes_idle_connections_before_the_app_does(run):
    # The app (Go, no IdleTimeout) drops keep-alive connections after 60 s; if the ALB waits as
    # long, both close at once and users see sporadic 502s.
    assert int_of(run.one(ALB).inputs["idleTimeout"]) == 50


def test_alb_name_fits_aws_32_character_limit_with_pulumi_suffix(run):
    assert len(run.one(ALB).name) + 8 <= 32


def test_listener_stays_on_80_and_forwards_to_an_ip_target_group(run):
    alb = run_where(run.stack, {"tca:domainName": "", "tca:hostedZoneId": ""}).one(ALB).inputs
    assert alb["listener"] == {"port": 80.0, "protocol": "HTTP"}
    assert "defaultTargetGroupPort" not in alb, "that would move the listener to the app port"
    assert alb["defaultTargetGroup"]["targetType"] == "ip"
    assert alb["defaultTargetGroup"]["protocol"] == "HTTP"


def test_target_group_drains_in_60_seconds_or_less(run):
    assert 0 <= int_of(run.one(ALB).inputs["defaultTargetGroup"]["deregistrationDelay"]) <= 60


def test_debug_endpoint_answers_404_at_the_load_balancer(run):
    run = run_where(run.stack, {"tca:domainName": "", "tca:hostedZoneId": ""})
    rule = run.one(LISTENER_RULE, "-block-debug").inputs
    listener = run.referenced(run.one(ALB).outputs["listeners"][0])
    assert rule["listenerArn"] == listener["arn"]
    assert rule["conditions"] == [{"pathPattern": {"values": ["/debug", "/debug/*"]}}]
    assert rule["actions"] == [{"type": "fixed-response", "fixedResponse": {
        "contentType": "text/plain", "messageBody": "Not Found", "statusCode": "404"}}]


# -- the Fargate service --------------------------------------------------------------------------

def test_tasks_run_in_private_subnets_without_public_ip_ecs_2(run):
    net = run.one(ECS_SERVICE).inputs["networkConfiguration"]
    assert net["assignPublicIp"] is False
    assert net["subnets"] == run.one(VPC).outputs["privateSubnetIds"]
    assert net["securityGroups"] == [group_id(run, "svc")]
    assert "assignPublicIp" not in run.one(ECS_SERVICE).inputs


def test_service_runs_in_the_cluster_with_container_insights_ecs_12(run):
    cluster = run.one(CLUSTER, "-cluster")
    assert cluster.inputs["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert run.one(ECS_SERVICE).inputs["cluster"] == cluster.outputs["arn"]


def test_container_insights_group_is_created_by_the_stack_on_its_key_with_its_retention(run, settings):
    # Left to Container Insights, the group is unencrypted, kept forever and survives `pulumi destroy`.
    group = run.one(LOG_GROUP, "-insights-logs")
    cluster = run.one(CLUSTER, "-cluster").inputs["name"]
    assert group.inputs["name"] == f"/aws/ecs/containerinsights/{cluster}/performance"
    assert group.inputs["kmsKeyId"] == run.one(KMS_KEY).outputs["arn"]
    assert int_of(group.inputs["retentionInDays"]) == settings["tca:logRetentionDays"]
    assert group.inputs["skipDestroy"] is False
    assert group.parent == run.one("tca:infra:Service").urn


def test_cluster_is_created_after_its_container_insights_group_and_deleted_before_it(run):
    assert run.one(LOG_GROUP, "-insights-logs").urn in run.one(CLUSTER, "-cluster").dependencies


def test_cluster_name_is_known_before_the_cluster_stable_and_starts_with_the_stack_prefix(run):
    import re
    cluster = run.one(CLUSTER, "-cluster")
    suffix = run.one("random:index/randomId:RandomId", "-cluster-name").outputs["hex"]
    # The deployer's log-group scope and the key policy rely on the `tca-<stack>-` start.
    assert cluster.inputs["name"] == f"tca-{run.stack}-cluster-{suffix}"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,255}", cluster.inputs["name"]), "ECS cluster name rules"
    # A changed name replaces the cluster and the running service with it; an auto-named cluster keeps its name.
    assert cluster.ignore_changes == ["name"]


def test_task_size_and_platform_come_from_config(run, settings):
    task = run.one(ECS_SERVICE).inputs["taskDefinitionArgs"]
    assert task["cpu"] == str(settings["tca:taskCpu"])
    assert task["memory"] == str(settings["tca:taskMemory"])
    assert task["runtimePlatform"] == {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}


def test_deploys_roll_with_full_capacity_and_roll_back_on_failure(run):
    svc = run.one(ECS_SERVICE).inputs
    assert int_of(svc["deploymentMinimumHealthyPercent"]) == 100
    assert int_of(svc["deploymentMaximumPercent"]) == 200
    assert svc["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert int_of(svc["healthCheckGracePeriodSeconds"]) > 0


def test_service_starts_at_the_minimum_task_count(run, settings):
    assert int_of(run.one(ECS_SERVICE).inputs["desiredCount"]) == settings["tca:minTasks"]


def test_service_waits_for_password_permissions_and_listener(run):
    deps = set(run.one(ECS_SERVICE).dependencies)
    needs = (run.one(ROLE_POLICY, "-exec-secret"), run.one(ATTACHMENT, "-exec-"), run.one(ALB), run.one(RDS))
    for needed in needs:
        assert needed.urn in deps, needed.name


def test_service_carries_the_desired_count_transform(run):
    assert run.one(ECS_SERVICE).transforms[0] == ignore_desired_count


def _transform(type_: str, opts: pulumi.ResourceOptions):
    args = pulumi.ResourceTransformArgs(custom=True, type_=type_, name="svc", props={"desiredCount": 2}, opts=opts)
    return ignore_desired_count(args)


def test_transform_makes_the_ecs_service_ignore_desired_count():
    result = _transform(ECS_SERVICE_TYPE, pulumi.ResourceOptions())
    assert result is not None
    assert result.opts.ignore_changes == ["desiredCount"]
    assert result.props == {"desiredCount": 2}


def test_transform_keeps_ignore_changes_already_set():
    result = _transform(ECS_SERVICE_TYPE, pulumi.ResourceOptions(ignore_changes=["tags"]))
    assert sorted(result.opts.ignore_changes) == ["desiredCount", "tags"]


@pytest.mark.parametrize("type_", ["aws:ecs/taskDefinition:TaskDefinition", "aws:iam/role:Role"])
def test_transform_leaves_other_children_alone(type_):
    assert _transform(type_, pulumi.ResourceOptions()) is None


# -- logs and roles -------------------------------------------------------------------------------

def test_logs_go_to_a_group_with_configured_retention_removed_with_the_stack(run, settings):
    group = run.one(LOG_GROUP, f"tca-{run.stack}-logs")
    assert int_of(group.inputs["retentionInDays"]) == settings["tca:logRetentionDays"]
    assert group.inputs.get("skipDestroy", False) is False
    log = container(run)["logConfiguration"]
    assert log["logDriver"] == "awslogs"
    assert log["options"]["awslogs-group"] == group.outputs["name"]
    assert log["options"]["awslogs-region"] == settings["aws:region"]


def test_awsx_default_log_group_and_task_role_are_skipped(run):
    task = run.one(ECS_SERVICE).inputs["taskDefinitionArgs"]
    assert task["logGroup"] == {"skip": True}
    assert task["taskRole"] == {"skip": True}


def test_execution_role_is_assumable_only_by_ecs_tasks(run):
    role = run.one(ROLE, "-exec")
    policy = json.loads(role.inputs["assumeRolePolicy"])
    assert [s["Principal"] for s in policy["Statement"]] == [{"Service": "ecs-tasks.amazonaws.com"}]
    task = run.one(ECS_SERVICE).inputs["taskDefinitionArgs"]
    assert task["executionRole"] == {"roleArn": role.outputs["arn"]}


def test_execution_role_has_the_ecs_managed_policy(run):
    attachment = run.one(ATTACHMENT, "-exec-").inputs
    assert attachment["policyArn"] == EXECUTION_POLICY_ARN
    assert attachment["role"] == run.one(ROLE, "-exec").outputs["name"]


def test_execution_role_reads_only_the_app_secret_iam_1(run):
    policy = run.one(ROLE_POLICY, "-exec-secret")
    assert policy.inputs["role"] == run.one(ROLE, "-exec").id
    document = json.loads(policy.inputs["policy"])
    assert document["Statement"] == [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": _app_secret_arn(run)},
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": run.one(KMS_KEY).outputs["arn"],
         "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{run.region}.amazonaws.com"}}}]


# -- autoscaling ----------------------------------------------------------------------------------

def test_autoscaling_targets_this_service_between_min_and_max(run, settings):
    target = run.one(SCALING_TARGET).inputs
    service = run.referenced(run.one(ECS_SERVICE).outputs["service"])
    assert target["resourceId"] == f"service/{run.one(CLUSTER, '-cluster').outputs['name']}/{service['name']}"
    assert target["scalableDimension"] == "ecs:service:DesiredCount"
    assert target["serviceNamespace"] == "ecs"
    assert int_of(target["minCapacity"]) == settings["tca:minTasks"]
    assert int_of(target["maxCapacity"]) == settings["tca:maxTasks"]


def _policy(run, suffix):
    policy = run.one(SCALING_POLICY, suffix)
    assert policy.inputs["resourceId"] == run.one(SCALING_TARGET).inputs["resourceId"]
    assert policy.inputs["policyType"] == "TargetTrackingScaling"
    return policy.inputs["targetTrackingScalingPolicyConfiguration"]


def test_autoscaling_tracks_cpu(run, settings):
    config = _policy(run, "-cpu")
    assert config["predefinedMetricSpecification"] == {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}
    assert int_of(config["targetValue"]) == settings["tca:cpuTargetPercent"]


def _queries(run):
    return {q["id"]: q for q in _policy(run, "-requests")["customizedMetricSpecification"]["metrics"]}


def _stat(query):
    stat = query["metricStat"]
    dims = {d["name"]: d["value"] for d in stat["metric"]["dimensions"]}
    return stat["metric"]["namespace"], stat["metric"]["metricName"], stat["stat"], dims


def test_both_strategies_track_requests_per_task_per_minute_on_every_group_the_tasks_serve_from(run, settings):
    config = _policy(run, "-requests")
    assert "predefinedMetricSpecification" not in config
    assert int_of(config["targetValue"]) == settings["tca:requestsPerTarget"]
    alb = run.one(ALB).outputs
    lb = run.referenced(alb["loadBalancer"])["arnSuffix"]
    groups = [run.referenced(alb["defaultTargetGroup"])["arnSuffix"]]
    if settings["tca:deploymentStrategy"] == "CANARY":
        groups.append(run.one("aws:lb/targetGroup:TargetGroup").outputs["arnSuffix"])
    queries = _queries(run)
    # One-minute request sums per group (a missing point is no traffic), summed over the groups.
    assert [_stat(queries[f"m{i}"]) for i in range(len(groups))] == [
        ("AWS/ApplicationELB", "RequestCount", "Sum", {"LoadBalancer": lb, "TargetGroup": tg}) for tg in groups]
    fills = ", ".join(f"FILL(m{i}, 0)" for i in range(len(groups)))
    assert queries["requests"]["expression"] == f"SUM([{fills}])"


def test_requests_are_divided_by_this_services_running_tasks_from_container_insights(run):
    queries = _queries(run)
    service = run.referenced(run.one(ECS_SERVICE).outputs["service"])
    assert _stat(queries["tasks"]) == ("ECS/ContainerInsights", "RunningTaskCount", "Average",
                                       {"ClusterName": run.one(CLUSTER, "-cluster").outputs["name"],
                                        "ServiceName": service["name"]})
    # A late task count repeats the last one; with no running task every request counts against one.
    assert queries["running"]["expression"] == "FILL(tasks, REPEAT)"
    assert queries["per_task"]["expression"] == "IF(running > 0, requests / running, requests)"


def test_requests_metric_math_follows_application_auto_scalings_rules(run):
    metrics = _policy(run, "-requests")["customizedMetricSpecification"]["metrics"]
    # Only the final expression returns data; every other query says false.
    assert [q["returnData"] for q in metrics] == [False] * (len(metrics) - 1) + [True]
    assert "expression" in metrics[-1]
    ids = [q["id"] for q in metrics]
    assert len(set(ids)) == len(ids)
    for query in metrics:
        # Id: letters, digits and underscores, starting with a lowercase letter.
        assert re.fullmatch(r"[a-z][A-Za-z0-9_]*", query["id"]), query["id"]
        assert ("expression" in query) != ("metricStat" in query), query["id"]
        for name in re.findall(r"[a-z][A-Za-z0-9_]*", query.get("expression", "")):
            assert name in ids or name.upper() in {"SUM", "FILL", "IF", "REPEAT"}, name


def test_transform_is_idempotent_when_desired_count_is_already_ignored():
    assert _transform(ECS_SERVICE_TYPE, pulumi.ResourceOptions(ignore_changes=["desiredCount"])) is None


# -- the container health check, run for real against a stand-in for the app ---------------------

def _wget_dir(tmp_path):
    """Prefer busybox's wget, which is what the Alpine image has; GNU wget takes the same flags."""
    busybox = shutil.which("busybox")
    tool = tmp_path / "bin"
    tool.mkdir()
    if busybox:
        (tool / "wget").symlink_to(busybox)
    elif shutil.which("wget"):
        (tool / "wget").symlink_to(shutil.which("wget"))
    else:
        pytest.fail("neither busybox nor wget is installed; .ci/run installs busybox")
    return tool


@pytest.fixture
def fake_app():
    state = {"body": b"OK"}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status = 200 if self.path == "/healthcheck/" else 404
            self.send_response(status)
            self.end_headers()
            self.wfile.write(state["body"])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_address[1], state, server
    server.shutdown()
    server.server_close()


def _probe(port: int, tmp_path) -> int:
    from infra.service import healthcheck_command
    shell, command = healthcheck_command(port)
    assert shell == "CMD-SHELL"
    env = {"PATH": f"{_wget_dir(tmp_path)}:/usr/bin:/bin"}
    return subprocess.run(["/bin/sh", "-c", command], check=False, env=env, timeout=20).returncode


@pytest.mark.parametrize("body", [b"OK", b"OK\n"])
def test_health_check_passes_when_the_app_reports_ok(fake_app, tmp_path, body):
    port, state, _ = fake_app
    state["body"] = body
    assert _probe(port, tmp_path) == 0


def test_health_check_fails_on_the_apps_200_error_body(fake_app, tmp_path):
    port, state, _ = fake_app
    state["body"] = b"Error: db connection down"
    assert _probe(port, tmp_path) == 1


def test_health_check_fails_when_nothing_listens(fake_app, tmp_path):
    port, _, server = fake_app
    server.shutdown()
    server.server_close()
    assert _probe(port, tmp_path) == 1


def test_service_tasks_start_only_after_the_proxy_is_ready(run, settings):
    ready = run.of_type("pulumi-python:dynamic/proxy:ProxyReady")
    assert len(ready) == (1 if settings["tca:dbProxy"] else 0)
    assert all(r.urn in run.one(ECS_SERVICE).dependencies for r in ready)


# -- Fargate Spot -----------------------------------------------------------------------------------

def test_cluster_offers_on_demand_and_spot_capacity(run):
    providers = run.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders").inputs
    assert providers["clusterName"] == run.one(CLUSTER, "-cluster").outputs["name"]
    assert providers["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]


def test_service_tasks_run_on_spot_exactly_when_configured(run, settings):
    svc = run.one(ECS_SERVICE).inputs
    if settings["tca:fargateSpot"]:
        assert svc["capacityProviderStrategies"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1.0}]
    else:
        # No strategy: awsx then sets launch type FARGATE, on-demand, exactly as before.
        assert "capacityProviderStrategies" not in svc


def test_service_waits_for_the_clusters_capacity_providers(run):
    providers = run.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
    assert providers.urn in run.one(ECS_SERVICE).dependencies



def test_service_can_move_on_and_off_spot_because_it_always_forces_the_deployment(run):
    # Switching tca:fargateSpot either way changes the capacity provider strategy, which the provider
    # refuses unless the *new* configuration has force_new_deployment: so it may never be off.
    assert run.one(ECS_SERVICE).inputs["forceNewDeployment"] is True

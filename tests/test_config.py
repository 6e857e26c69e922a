"""Config: the committed stack files, the project declarations, and refusal of bad values."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from pathlib import Path

import pytest

from infra.config import (
    ALARM_KEYS,
    FARGATE_CPU_SIZES,
    AppConfig,
    ConfigError,
    fargate_memory_choices,
    load_config,
    subnet_layout,
)
from tests.conftest import STACKS, stack_file, stack_run
from tests.mocks import (
    RDS_POSTGRES_LATEST,
    ROOT,
    rds_offers_like_aws,
    read_yaml,
    run_program,
    stack_config,
    stack_region,
)

# Stack file key -> (section, field) of the loaded config, for keys that load to the value written.
LOADED_AS: dict[str, tuple[str, str]] = {
    "aws:region": ("stack", "region"),
    "tca:deletionProtection": ("stack", "deletion_protection"),
    "tca:logRetentionDays": ("stack", "log_retention_days"),
    "tca:azCount": ("network", "az_count"),
    "tca:vpcCidr": ("network", "vpc_cidr"),
    "tca:natGateways": ("network", "nat_gateways"),
    "tca:appImage": ("service", "app_image"),
    "tca:appPort": ("service", "app_port"),
    "tca:taskCpu": ("service", "task_cpu"),
    "tca:taskMemory": ("service", "task_memory"),
    "tca:minTasks": ("service", "min_tasks"),
    "tca:maxTasks": ("service", "max_tasks"),
    "tca:cpuTargetPercent": ("service", "cpu_target_percent"),
    "tca:requestsPerTarget": ("service", "requests_per_target"),
    "tca:seedRevision": ("service", "seed_revision"),
    "tca:fargateSpot": ("service", "fargate_spot"),
    "tca:deploymentStrategy": ("release", "strategy"),
    "tca:canaryBakeMinutes": ("release", "canary_bake_minutes"),
    "tca:deploymentBakeMinutes": ("release", "bake_minutes"),
    "tca:rollback5xxCount": ("release", "rollback_5xx_count"),
    "tca:rollbackResponseTimeMs": ("release", "rollback_response_time_ms"),
    "tca:waf": ("edge", "waf"),
    "tca:wafRateLimit": ("edge", "waf_rate_limit"),
    "tca:alarmWafBlockedCount": ("edge", "waf_blocked_alarm_count"),
    "tca:albAccessLogs": ("edge", "alb_access_logs"),
    "tca:albAccessLogDays": ("edge", "alb_access_log_days"),
    "tca:dbEngineVersion": ("database", "engine_version"),
    "tca:dbInstanceClass": ("database", "instance_class"),
    "tca:dbAllocatedStorage": ("database", "allocated_storage"),
    "tca:dbMaxAllocatedStorage": ("database", "max_allocated_storage"),
    "tca:dbMultiAz": ("database", "multi_az"),
    "tca:dbBackupRetentionDays": ("database", "backup_retention_days"),
    "tca:secretRecoveryDays": ("database", "secret_recovery_days"),
    "tca:dbProxy": ("database", "proxy"),
    "tca:dbManagedMasterPassword": ("database", "managed_master_password"),
    "tca:dbProxyClientAuth": ("database", "proxy_client_auth"),
    "tca:dbMaintenanceWindow": ("database", "maintenance_window"),
    "tca:dbBackupWindow": ("database", "backup_window"),
    "tca:dbMonitoringIntervalSeconds": ("database", "monitoring_interval_seconds"),
    "tca:dbSlowStatementMs": ("database", "slow_statement_ms"),
    "tca:keyDeletionWindowDays": ("keys", "deletion_window_days"),
    "tca:keyAdministrator": ("keys", "administrator"),
    "tca:alarmEmail": ("monitoring", "alarm_email"),
    "tca:domainName": ("domain", "domain_name"),
    "tca:hostedZoneId": ("domain", "hosted_zone_id"),
    "tca:dockerHubCredentialsSecretArn": ("images", "docker_hub_credentials_secret_arn"),
    "tca:layer": ("layers", "layer"),
    "tca:networkStack": ("layers", "network_stack"),
    "tca:databaseStack": ("layers", "database_stack"),
    "tca:deploymentName": ("stack", "deployment"),
    "tca:vpcId": ("network", "vpc_id"),
    "tca:rotationDays": ("rotation", "days"),
}
# Subnet lists are JSON lists in the stack file ("" for none) and tuples once loaded.
LOADED_AS_LIST = {
    "tca:publicSubnetIds": ("network", "public_subnet_ids"),
    "tca:privateSubnetIds": ("network", "private_subnet_ids"),
}


def _load(stack: str, **overrides) -> AppConfig:
    return load_config(stack=stack, values=stack_config(stack, overrides), offered=rds_offers_like_aws)


def _project_keys() -> dict:
    return read_yaml(Path(ROOT, "Pulumi.yaml"))["config"]


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_file_loads_to_the_values_it_states(stack):
    written, cfg = stack_file(stack), _load(stack)
    for key, (section, field) in LOADED_AS.items():
        assert getattr(getattr(cfg, section), field) == written[key], key
    for key, (section, field) in LOADED_AS_LIST.items():
        assert getattr(getattr(cfg, section), field) == tuple(json.loads(written[key] or "[]")), key
    for key, field, _, _ in ALARM_KEYS:
        assert getattr(cfg.monitoring.alarms, field) == written[f"tca:{key}"], key
    assert cfg.release.canary_percent == float(written["tca:canaryPercent"])
    assert cfg.release.canary is (written["tca:deploymentStrategy"] == "CANARY")


def test_every_declared_key_is_checked_against_what_it_loads_to():
    checked = {*LOADED_AS, *LOADED_AS_LIST, *(f"tca:{key}" for key, _, _, _ in ALARM_KEYS), "tca:canaryPercent"}
    assert checked == {"aws:region", *(f"tca:{key}" for key in _project_keys())}


@pytest.mark.parametrize("stack", STACKS)
def test_stack_file_states_every_declared_key(stack):
    declared = {"aws:region", *(f"tca:{key}" for key in _project_keys())}
    assert declared <= set(stack_file(stack)), declared - set(stack_file(stack))


def test_project_declares_each_key_with_type_and_description():
    for key, spec in _project_keys().items():
        assert {"type", "description"} <= set(spec), key
        assert spec["type"] in ("string", "integer", "boolean"), key


def test_keys_the_prod_guardrails_constrain_have_no_default():
    """A stack file that omitted one of these would be refused, never quietly given a dev-sized value."""
    guarded = {"dbBackupRetentionDays", "deletionProtection", "dbMultiAz", "dbMonitoringIntervalSeconds",
               "albAccessLogs", "waf", "deploymentStrategy", "logRetentionDays"}
    assert {key for key in guarded if "default" in _project_keys()[key]} == set()


def test_project_defaults_are_themselves_valid():
    defaults = {f"tca:{k}": s["default"] for k, s in _project_keys().items() if "default" in s}
    # The required keys from dev's file, every other key from its declared default.
    required = {k: v for k, v in stack_file("dev").items() if k.startswith("tca:") and k not in defaults}
    values = {k: str(v).lower() if isinstance(v, bool) else str(v)
              for k, v in {**required, **defaults, "aws:region": stack_file("dev")["aws:region"]}.items()}
    loaded = load_config(stack="dev", values=values, offered=rds_offers_like_aws)
    assert loaded.service.app_port == _project_keys()["appPort"]["default"]


def test_project_uses_pip_toolchain_in_a_venv():
    project = read_yaml(Path(ROOT, "Pulumi.yaml"))
    assert project["name"] == "tca"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}


def test_config_is_frozen():
    cfg = _load("dev")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.service.app_port = 80  # type: ignore[misc]


DEV_REGION = stack_region("dev")
OTHER_REGION = "us-east-1" if DEV_REGION != "us-east-1" else "eu-north-1"

# key, bad value, a fragment of the "allowed" explanation the message must carry
BAD_VALUES = [
    ("azCount", 1, "from 2 to 6"),
    ("azCount", "two", "from 2 to 6"),
    ("vpcCidr", "10.0.0.0/33", "private IPv4 network"),
    ("vpcCidr", "8.8.0.0/16", "private IPv4 network"),
    ("vpcCidr", "10.0.0.1/16", "no host bits"),
    ("vpcCidr", "10.0.0.0/26", "needs a prefix from /16"),
    ("natGateways", "None", "None is refused"),
    ("natGateways", "single", "Single or OnePerAz"),
    ("appImage", "servian/tech challenge", "container image reference"),
    ("appImage", "Servian/TechChallengeApp", "container image reference"),
    ("appPort", 0, "from 1024 to 65535"),
    ("appPort", 80, "non-root user, which cannot bind ports below 1024"),
    ("appPort", 70000, "from 1024 to 65535"),
    ("taskCpu", 300, "256, 512, 1024"),
    ("taskMemory", 1536, "is not a valid Fargate size with tca:taskCpu"),
    ("minTasks", 0, "from 1 to 100"),
    ("maxTasks", 0, "from 1 to 100"),
    ("cpuTargetPercent", 0, "from 1 to 100"),
    ("cpuTargetPercent", 101, "from 1 to 100"),
    ("requestsPerTarget", -5, "from 1 to"),
    ("dbEngineVersion", 13, "14, 15, 16, 17 or 18"),
    ("dbEngineVersion", "16.4", "14, 15, 16, 17 or 18"),
    ("dbInstanceClass", "t4g.micro", "db.t4g.micro"),
    ("dbAllocatedStorage", 10, "from 20 to 65536"),
    ("dbMaxAllocatedStorage", 20, "at least 10% above tca:dbAllocatedStorage"),
    ("dbMaxAllocatedStorage", 21, "at least 10% above tca:dbAllocatedStorage"),
    ("dbMultiAz", "yes", "true or false"),
    ("dbBackupRetentionDays", 36, "from 0 to 35"),
    ("deletionProtection", "on", "true or false"),
    ("logRetentionDays", 10, "one of 1, 3, 5, 7, 14"),
    ("secretRecoveryDays", 3, "0 (delete at once) or from 7 to 30"),
    ("secretRecoveryDays", 31, "0 (delete at once) or from 7 to 30"),
    ("seedRevision", -1, "from 1 to"),
    ("dbProxy", "maybe", "true or false"),
    ("dbManagedMasterPassword", "rds", "true or false"),
    ("dbProxyClientAuth", "MD5", "POSTGRES_MD5 or POSTGRES_SCRAM_SHA_256"),
    ("dbMaintenanceWindow", "Sun:17:00-Sun:18:00", "lowercase days"),
    ("dbMaintenanceWindow", "sun:17:00-sun:17:29", "at least 30 minutes"),
    ("dbMaintenanceWindow", "sun:24:00-mon:01:00", "ddd:hh24:mi-ddd:hh24:mi"),
    ("dbMaintenanceWindow", "17:00-18:00", "ddd:hh24:mi-ddd:hh24:mi"),
    ("dbMaintenanceWindow", "sun:17:00-sun:17:00", "at least 30 minutes"),
    ("dbBackupWindow", "15:00-15:20", "at least 30 minutes"),
    ("dbBackupWindow", "3:00-4:00", "hh24:mi-hh24:mi"),
    ("dbBackupWindow", "sun:15:00-sun:16:00", "hh24:mi-hh24:mi"),
    ("dockerHubCredentialsSecretArn", "docker-hub-creds", "Secrets Manager secret ARN"),
    ("dockerHubCredentialsSecretArn", f"arn:aws:secretsmanager:{DEV_REGION}:123456789012:secret:docker-hub-AbC123",
     "the secret's name must start with ecr-pullthroughcache/"),
    ("dockerHubCredentialsSecretArn",
     f"arn:aws:secretsmanager:{OTHER_REGION}:123456789012:secret:ecr-pullthroughcache/hub-AbC123",
     f"must be in the stack's region (aws:region = {DEV_REGION})"),
    ("dockerHubCredentialsSecretArn", f"arn:aws:ssm:{DEV_REGION}:123456789012:parameter/ecr-pullthroughcache/hub",
     "Secrets Manager secret ARN"),
    ("dbMonitoringIntervalSeconds", 2, "must be one of 0, 1, 5, 10, 15, 30, 60"),
    ("dbMonitoringIntervalSeconds", 120, "must be one of 0, 1, 5, 10, 15, 30, 60"),
    ("dbSlowStatementMs", 0, "0 would log every statement"),
    ("dbSlowStatementMs", -2, "-1 (off) or a whole number of milliseconds from 1 to 60000"),
    ("dbSlowStatementMs", 60001, "-1 (off) or a whole number of milliseconds from 1 to 60000"),
    ("keyDeletionWindowDays", 6, "from 7 to 30"),
    ("keyAdministrator", "arn:aws:iam::123456789012:role/deployer", "must be role/NAME or user/NAME"),
    ("keyDeletionWindowDays", 31, "from 7 to 30"),
    ("fargateSpot", "sometimes", "true or false"),
    ("deploymentStrategy", "BLUE_GREEN", "ROLLING or CANARY"),
    ("deploymentStrategy", "canary", "ROLLING or CANARY"),
    ("canaryPercent", 0, "multiple of 0.1 from 0.1 to 100"),
    ("canaryPercent", 100.1, "multiple of 0.1 from 0.1 to 100"),
    ("canaryPercent", 10.05, "multiple of 0.1 from 0.1 to 100"),
    ("canaryPercent", "ten", "multiple of 0.1 from 0.1 to 100"),
    ("canaryBakeMinutes", -1, "from 0 to 1440"),
    ("canaryBakeMinutes", 1441, "from 0 to 1440"),
    ("deploymentBakeMinutes", 1441, "from 0 to 1440"),
    ("deploymentBakeMinutes", -1, "from 0 to 1440"),
    ("rollback5xxCount", 0, "from 1 to"),
    ("rollbackResponseTimeMs", 5, "from 10 to 60000"),
    ("waf", "yes", "true or false"),
    ("wafRateLimit", 9, "from 10 (AWS WAF's minimum rate limit)"),
    ("wafRateLimit", 2_000_000_001, "from 10 (AWS WAF's minimum rate limit)"),
    ("alarmWafBlockedCount", 0, "from 1 to"),
    ("albAccessLogs", "on", "true or false"),
    ("albAccessLogDays", 0, "from 1 to 3650"),
    ("albAccessLogDays", 3651, "from 1 to 3650"),
]


@pytest.mark.parametrize("key,value,allowed", BAD_VALUES, ids=[f"{k}={v}" for k, v, _ in BAD_VALUES])
def test_bad_value_stops_the_program_naming_key_value_and_allowed(key, value, allowed):
    run = run_program("dev", overrides={f"tca:{key}": value})
    assert isinstance(run.error, ConfigError), run.error
    message = str(run.error)
    assert f"tca:{key} = {str(value)!r}" in message
    assert allowed in message
    assert run.registrations == [], "a resource was registered despite bad configuration"


def test_every_bad_key_is_reported_in_one_run():
    run = run_program("prod", overrides={"tca:appPort": 0, "tca:minTasks": 0, "tca:logRetentionDays": 2})
    assert isinstance(run.error, ConfigError)
    for key in ("tca:appPort", "tca:minTasks", "tca:logRetentionDays"):
        assert key in str(run.error)
    assert run.registrations == []


def test_missing_key_is_named():
    run = run_program("dev", remove=("tca:appImage",))
    assert isinstance(run.error, ConfigError)
    assert "tca:appImage is not set" in str(run.error)
    assert run.registrations == []


def test_max_tasks_below_min_tasks_is_refused():
    with pytest.raises(ConfigError, match=r"tca:maxTasks = '2': must be at least tca:minTasks \(3\)"):
        _load("dev", **{"tca:minTasks": 3, "tca:maxTasks": 2})


def test_missing_region_is_refused():
    run = run_program("dev", remove=("aws:region",))
    assert isinstance(run.error, ConfigError)
    assert "aws:region" in str(run.error)
    assert run.registrations == []


@pytest.mark.parametrize("stack", ["Dev_Stack", "a-very-long-stack-name-x"])
def test_stack_name_that_cannot_name_a_load_balancer_is_refused(stack):
    values = stack_config("dev")
    with pytest.raises(ConfigError, match="stack name"):
        load_config(stack=stack, values=values, offered=rds_offers_like_aws)


# From AWS's Fargate task-size table, written out independently of infra/config/:
# CPU -> (how many memory sizes, smallest, largest).
AWS_FARGATE_SIZES = {256: (3, 512, 2048), 512: (4, 1024, 4096), 1024: (7, 2048, 8192),
                     2048: (13, 4096, 16384), 4096: (23, 8192, 30720), 8192: (12, 16384, 61440),
                     16384: (12, 32768, 122880)}


def test_fargate_table_matches_aws():
    assert set(FARGATE_CPU_SIZES) == set(AWS_FARGATE_SIZES)
    for cpu, (count, low, high) in AWS_FARGATE_SIZES.items():
        choices = fargate_memory_choices(cpu)
        assert (len(choices), min(choices), max(choices)) == (count, low, high), cpu


@pytest.mark.parametrize("cpu,memory", [(256, 512), (256, 2048), (512, 4096), (1024, 8192), (2048, 16384),
                                        (4096, 30720), (8192, 61440), (16384, 122880)])
def test_fargate_pairs_aws_accepts_are_accepted(cpu, memory):
    cfg = _load("dev", **{"tca:taskCpu": cpu, "tca:taskMemory": memory})
    assert (cfg.service.task_cpu, cfg.service.task_memory) == (cpu, memory)


@pytest.mark.parametrize("cpu,memory", [(256, 4096), (512, 512), (1024, 1024), (4096, 31744), (2048, 17408)])
def test_fargate_pairs_aws_rejects_are_refused(cpu, memory):
    with pytest.raises(ConfigError, match="tca:taskMemory"):
        _load("dev", **{"tca:taskCpu": cpu, "tca:taskMemory": memory})


@pytest.mark.parametrize("cidr,azs", [("10.0.0.0/16", 2), ("10.0.0.0/16", 3), ("10.0.0.0/16", 6),
                                      ("172.16.0.0/24", 2), ("192.168.0.0/23", 4)])
def test_subnet_layout_fits_the_vpc_without_overlap(cidr, azs):
    private, public = subnet_layout(cidr, azs)
    vpc = ipaddress.IPv4Network(cidr)
    nets = [ipaddress.IPv4Network(n) for n in private + public]
    assert len(private) == len(public) == azs
    assert all(n.subnet_of(vpc) and n.prefixlen <= 28 for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])


# -- keys the project does not declare, and keys a stack must set ------------------------------------

@pytest.mark.parametrize("typo,suggestion", [
    ("tca:deletionprotection", "tca:deletionProtection"),
    ("tca:taskCPU", "tca:taskCpu"),
    ("tca:dbMultiAZ", "tca:dbMultiAz"),
])
def test_a_misspelt_key_stops_the_program_and_suggests_the_declared_one(typo, suggestion):
    run = run_program("prod", overrides={typo: "true"})
    assert isinstance(run.error, ConfigError), run.error
    assert (f"{typo} is not a setting this project declares in Pulumi.yaml; did you mean `{suggestion}`?"
            in str(run.error))
    assert run.registrations == []


def test_an_unknown_key_with_no_close_match_is_refused_without_a_suggestion():
    with pytest.raises(ConfigError, match=r"tca:flux is not a setting this project declares in Pulumi.yaml\n"):
        load_config(stack="dev", values={**stack_config("dev"), "tca:flux": "1", "tca:appPort": "0"},
                    offered=rds_offers_like_aws)


def test_keys_of_other_namespaces_are_not_ours_to_refuse():
    cfg = load_config(stack="dev", values={**stack_config("dev"), "aws:profile": "x", "other:thing": "1"},
                      offered=rds_offers_like_aws)
    assert cfg.stack.aws_profile == "x"


@pytest.mark.parametrize("key", ["dbMultiAz", "deletionProtection", "natGateways", "taskCpu", "logRetentionDays",
                                 "dbMonitoringIntervalSeconds", "dbSlowStatementMs", "keyDeletionWindowDays"])
def test_a_per_stack_key_missing_from_the_stack_file_is_named_not_defaulted(key):
    run = run_program("prod", remove=(f"tca:{key}",))
    assert isinstance(run.error, ConfigError), run.error
    assert f"tca:{key} is not set (Pulumi.prod.yaml must set it" in str(run.error)
    assert run.registrations == []


def test_a_typo_and_a_missing_key_are_reported_together():
    run = run_program("prod", overrides={"tca:deletionprotection": "true"}, remove=("tca:deletionProtection",))
    message = str(run.error)
    assert "did you mean `tca:deletionProtection`?" in message
    assert "tca:deletionProtection is not set" in message


@pytest.mark.parametrize("allocated,ceiling,ok", [(20, 21, False), (20, 22, True), (100, 109, False),
                                                  (100, 110, True), (1000, 1099, False)])
def test_storage_ceiling_must_be_at_least_ten_percent_above_allocated(allocated, ceiling, ok):
    overrides = {"tca:dbAllocatedStorage": allocated, "tca:dbMaxAllocatedStorage": ceiling}
    if ok:
        assert _load("dev", **overrides).database.max_allocated_storage == ceiling
        return
    with pytest.raises(ConfigError) as refused:
        _load("dev", **overrides)
    assert f"tca:dbMaxAllocatedStorage = '{ceiling}'" in str(refused.value)
    assert "tca:dbAllocatedStorage" in str(refused.value)


# -- the database class, asked of AWS before anything exists -----------------------------------------

@pytest.mark.parametrize("instance_class", ["db.t9.huge", "db.t4g.mega", "db.m7g.medium"])
def test_an_instance_class_rds_does_not_offer_stops_the_program_naming_the_key(instance_class):
    run = run_program("dev", overrides={"tca:dbInstanceClass": instance_class})
    assert isinstance(run.error, ConfigError), run.error
    engine = RDS_POSTGRES_LATEST[int(stack_file("dev")["tca:dbEngineVersion"])]
    assert f"tca:dbInstanceClass = '{instance_class}': RDS does not offer {instance_class} for PostgreSQL {engine}" \
        in str(run.error)
    assert run.registrations == []


@pytest.mark.parametrize("stack", STACKS)
def test_committed_instance_classes_are_offered_for_the_committed_engine(stack):
    run = stack_run(stack)
    assert run.one("aws:rds/instance:Instance").inputs["instanceClass"] == stack_file(stack)["tca:dbInstanceClass"]


def test_the_class_is_asked_for_the_configured_major_not_a_fixed_one():
    asked = []
    _ = load_config(stack="dev", values=stack_config("dev", {"tca:dbEngineVersion": 17}),
                    offered=lambda cls, major: asked.append((cls, major)))
    assert asked == [(stack_file("dev")["tca:dbInstanceClass"], 17)]


def test_the_class_is_not_asked_about_in_an_invalid_region():
    asked = []
    with pytest.raises(ConfigError, match="aws:region"):
        load_config(stack="dev", values=stack_config("dev", {"aws:region": "mars"}),
                    offered=lambda cls, major: asked.append((cls, major)))
    assert asked == []


# maintenance, backup, accepted: windows in UTC; the backup window recurs daily, maintenance weekly
WINDOWS = [
    ("sun:17:00-sun:18:00", "15:00-16:00", True),
    ("sun:17:00-sun:18:00", "16:00-17:00", True),    # touching is not overlapping
    ("sun:17:00-sun:18:00", "17:30-18:30", False),
    ("wed:02:00-wed:03:00", "02:30-03:00", False),   # a daily backup meets any weekday's maintenance
    ("sun:23:30-mon:00:30", "00:00-00:30", False),   # maintenance wraps across the week
    ("sun:23:30-mon:00:30", "00:30-01:00", True),
    ("tue:10:00-tue:11:00", "23:30-00:30", True),    # backup wraps past midnight
    ("tue:00:00-tue:01:00", "23:30-00:30", False),
    ("sat:23:45-sun:00:15", "23:00-23:50", False),
]


@pytest.mark.parametrize("maintenance,backup,ok", WINDOWS)
def test_maintenance_and_backup_windows_must_not_overlap(maintenance, backup, ok):
    overrides = {"tca:dbMaintenanceWindow": maintenance, "tca:dbBackupWindow": backup}
    if ok:
        cfg = _load("dev", **overrides).database
        assert (cfg.maintenance_window, cfg.backup_window) == (maintenance, backup)
        return
    with pytest.raises(ConfigError) as refused:
        _load("dev", **overrides)
    assert f"tca:dbBackupWindow = '{backup}'" in str(refused.value)
    assert f"tca:dbMaintenanceWindow ({maintenance})" in str(refused.value)


def test_overlapping_windows_stop_the_program_before_any_resource():
    run = run_program("prod", overrides={"tca:dbMaintenanceWindow": "sun:17:00-sun:18:00",
                                         "tca:dbBackupWindow": "17:00-17:30"})
    assert isinstance(run.error, ConfigError) and "must not overlap" in str(run.error)
    assert run.registrations == []


def test_docker_hub_credentials_are_optional_and_a_valid_arn_is_kept():
    unset = _load("dev", **{"tca:dockerHubCredentialsSecretArn": ""}).images
    assert unset.docker_hub_credentials_secret_arn == "" and unset.pull_through_cache is False
    arn = f"arn:aws:secretsmanager:{stack_region('prod')}:123456789012:secret:ecr-pullthroughcache/docker-hub-AbC123"
    images = _load("prod", **{"tca:dockerHubCredentialsSecretArn": arn}).images
    assert images.docker_hub_credentials_secret_arn == arn and images.pull_through_cache is True


@pytest.mark.parametrize("value", [0, 1, 5, 10, 15, 30, 60])
def test_every_monitoring_interval_rds_accepts_is_accepted(value):
    assert _load("dev", **{"tca:dbMonitoringIntervalSeconds": value}).database.monitoring_interval_seconds == value


@pytest.mark.parametrize("value", [-1, 1, 60000])
def test_slow_statement_logging_can_be_off_or_any_threshold_up_to_a_minute(value):
    assert _load("dev", **{"tca:dbSlowStatementMs": value}).database.slow_statement_ms == value


def test_key_must_outlive_the_secret_it_encrypts():
    with pytest.raises(ConfigError) as refused:
        _load("prod", **{"tca:secretRecoveryDays": 30, "tca:keyDeletionWindowDays": 20})
    assert ("tca:keyDeletionWindowDays = '20': must be at least tca:secretRecoveryDays (30)"
            in str(refused.value))
    assert _load("dev", **{"tca:secretRecoveryDays": 7, "tca:keyDeletionWindowDays": 7}).keys.deletion_window_days == 7


@pytest.mark.parametrize("value,expected", [("0.1", 0.1), ("5", 5.0), ("12.5", 12.5), ("100", 100.0)])
def test_canary_percents_ecs_accepts_are_accepted(value, expected):
    assert _load("prod", **{"tca:canaryPercent": value}).release.canary_percent == expected


@pytest.mark.parametrize("key,value", [("canaryBakeMinutes", 0), ("canaryBakeMinutes", 1440),
                                       ("deploymentBakeMinutes", 0), ("deploymentBakeMinutes", 1440),
                                       ("wafRateLimit", 10)])
def test_range_edges_ecs_and_waf_accept_are_accepted(key, value):
    _load("prod", **{f"tca:{key}": value})


# -- AWS's own limits, written out here from AWS's documentation, independently of infra/config/ -----------
# (The property tests draw their ranges from config.py's constants; these pin the constants themselves.)

def test_log_retention_values_are_exactly_the_ones_cloudwatch_logs_accepts():
    from infra.config import LOG_RETENTION_DAYS
    # CloudWatch Logs API, PutRetentionPolicy: retentionInDays.
    assert LOG_RETENTION_DAYS == (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                                  2192, 2557, 2922, 3288, 3653)


def test_the_other_aws_limits_config_enforces_are_awss():
    from infra import config
    assert config.DB_MONITORING_INTERVALS == (0, 1, 5, 10, 15, 30, 60)     # RDS MonitoringInterval
    assert config.KEY_DELETION_WINDOW_DAYS == (7, 30)                      # KMS PendingWindowInDays
    assert config.MAX_BAKE_MINUTES == 1440                                 # ECS bake times, 0-1440
    assert config.WAF_RATE_LIMIT_RANGE == (10, 2_000_000_000)              # WAF RateBasedStatement.Limit
    assert config.MIN_WINDOW_MINUTES == 30                                 # RDS backup/maintenance windows
    assert config.SUPPORTED_PG_MAJORS == (14, 15, 16, 17, 18)              # RDS standard support, 2026
    assert config.MAX_NAME_PREFIX == 32 - 8                                # ALB/target group names, Pulumi suffix


def test_waf_rate_limit_range_matches_awss_api_model():
    from infra.config import WAF_RATE_LIMIT_RANGE
    from tests.helpers import aws_service_model
    shape = aws_service_model("wafv2").shape_for("RateLimit").metadata
    assert (shape["min"], shape["max"]) == WAF_RATE_LIMIT_RANGE

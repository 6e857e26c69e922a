"""Property tests of the configuration: any valid settings render, any single bad value stops the program.

Hypothesis draws settings within the ranges README's configuration table documents. Rendering the program
under mocks costs a few tenths of a second, so the render test runs few examples (plus the awkward corners
as explicit examples); the checks that need only `load_config` run the profile's count.

Reproducing a failure: the suite loads the `ci` profile (tests/conftest.py), which derives the examples from
each test's name, so a failing example fails again on every run and machine; Hypothesis also prints a
`@reproduce_failure(...)` line to paste above the test. `HYPOTHESIS_PROFILE=dev` explores new examples on
each run, `HYPOTHESIS_PROFILE=thorough` runs 500 per test.
"""

from __future__ import annotations

import fnmatch
import functools
import ipaddress
import math
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from infra.config import (
    ALARM_KEYS,
    DB_MONITORING_INTERVALS,
    DEPLOYMENT_STRATEGIES,
    FARGATE_CPU_SIZES,
    KEY_DELETION_WINDOW_DAYS,
    LOG_RETENTION_DAYS,
    MAX_BAKE_MINUTES,
    MAX_NAME_PREFIX,
    MAX_ROTATION_DAYS,
    MIN_ROTATION_DAYS,
    MIN_WINDOW_MINUTES,
    MINUTES_PER_DAY,
    MINUTES_PER_WEEK,
    NAMESPACE,
    NAT_STRATEGIES,
    PROXY_CLIENT_AUTH,
    PULL_THROUGH_CACHE_SECRET_PREFIX,
    ROTATION_WINDOW_HOURS,
    SLOW_STATEMENT_MAX_MS,
    SUPPORTED_PG_MAJORS,
    WAF_RATE_LIMIT_RANGE,
    WEEKDAYS,
    AppConfig,
    ConfigError,
    declared_keys,
    deployment_minutes,
    fargate_memory_choices,
    load_config,
    maintenance_window_minutes,
    rotation_period_allowed,
)
from infra.config.rotation import DEPLOYMENT_ALLOWANCE_MINUTES
from infra.keys import log_group_name_patterns
from tests.mocks import ACCOUNT, Run, _as_config_string, rds_offers_like_aws, run_program, stack_config, stack_region

FARGATE_PAIRS = [(cpu, memory) for cpu in FARGATE_CPU_SIZES for memory in fargate_memory_choices(cpu)]
PRIVATE_BLOCKS = (ipaddress.IPv4Network("10.0.0.0/8"), ipaddress.IPv4Network("172.16.0.0/12"),
                  ipaddress.IPv4Network("192.168.0.0/16"))
MAX_STACK_NAME = MAX_NAME_PREFIX - len(NAMESPACE) - 1
IMAGES = ("servian/techchallengeapp:latest", "servian/techchallengeapp:0.11.0",
          "public.ecr.aws/example/todo:v2", "registry.example.com:5000/team/app@sha256:" + "a" * 64)
INSTANCE_CLASSES = ("db.t4g.micro", "db.t4g.small", "db.t4g.medium", "db.m7g.large", "db.r6g.xlarge")


def cache_secret_arn(region: str) -> str:
    """A pull-through cache secret in `region` (Secrets Manager appends "-" and six characters to its name)."""
    return f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{PULL_THROUGH_CACHE_SECRET_PREFIX}docker-hub-AbC123"


# A region neither stack file uses: a secret there is in another region than the stack's.
OTHER_REGION = next(r for r in ("us-east-1", "eu-north-1") if r not in {stack_region("dev"), stack_region("prod")})

# Resource type -> (input that holds an explicit physical name, AWS's length limit). Without an explicit
# name Pulumi auto-names: the logical name plus "-" and 7 random characters.
NAME_LIMITS: dict[str, tuple[str | None, int]] = {
    # awsx names the load balancer and its default target group after the component.
    "awsx:lb:ApplicationLoadBalancer": (None, 32),
    "aws:lb/loadBalancer:LoadBalancer": ("name", 32),
    # Includes the canary's alternate target group (auto-named).
    "aws:lb/targetGroup:TargetGroup": ("name", 32),
    "aws:lb/listenerRule:ListenerRule": (None, 255),
    "awsx:ecs:FargateService": (None, 255),
    "awsx:ecs:FargateTaskDefinition": (None, 255),
    "aws:ecs/cluster:Cluster": ("name", 255),
    "aws:rds/instance:Instance": ("identifier", 63),
    "aws:rds/proxy:Proxy": ("name", 63),
    "aws:rds/subnetGroup:SubnetGroup": ("name", 255),
    "aws:rds/parameterGroup:ParameterGroup": ("name", 255),
    "aws:iam/role:Role": ("name", 64),
    "aws:iam/rolePolicy:RolePolicy": ("name", 128),
    "aws:iam/policy:Policy": ("name", 128),
    "aws:ec2/securityGroup:SecurityGroup": ("name", 255),
    "aws:cloudwatch/logGroup:LogGroup": ("name", 512),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", 255),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName", 255),
    "aws:sns/topic:Topic": ("name", 256),
    "aws:secretsmanager/secret:Secret": ("name", 512),
    # S3 bucket names: 3 to 63 characters.
    "aws:s3/bucketV2:BucketV2": ("bucket", 63),
    "aws:s3/bucket:Bucket": ("bucket", 63),
    "aws:wafv2/webAcl:WebAcl": ("name", 128),
    # "alias/" plus at most 250 characters.
    "aws:kms/alias:Alias": ("name", 256),
    # ECR: a repository prefix is 2 to 30 characters.
    "aws:ecr/pullThroughCacheRule:PullThroughCacheRule": ("ecrRepositoryPrefix", 30),
}
AUTONAME_SUFFIX = 8


@pytest.fixture(autouse=True, scope="module")
def _project_file_parsed_once() -> Iterator[None]:
    """load_config re-reads Pulumi.yaml on every call; these tests call it hundreds of times."""
    declared = declared_keys()
    with mock.patch("infra.config.load.declared_keys", lambda *_: declared):
        yield


@functools.cache
def _stack_file(base: str) -> dict[str, str]:
    return stack_config(base)


def values(base: str, overrides: dict[str, Any] | None = None) -> dict[str, str]:
    """What the CLI hands the program for `base`'s stack file with `overrides` (as config strings)."""
    return {**_stack_file(base), **{key: _as_config_string(value) for key, value in (overrides or {}).items()}}


def load(stack: str, base: str, overrides: dict[str, Any] | None = None) -> AppConfig:
    """load_config without an engine: RDS's class lookup answered as AWS would (tests/mocks.py)."""
    return load_config(stack, values(base, overrides), offered=rds_offers_like_aws)


# -- strategies ---------------------------------------------------------------------------------

stack_names = st.from_regex(rf"[a-z0-9](?:[a-z0-9-]{{0,{MAX_STACK_NAME - 2}}}[a-z0-9])?", fullmatch=True).filter(
    lambda name: "--" not in name)


@st.composite
def vpc_cidrs(draw: st.DrawFn, az_count: int) -> str:
    """Any private network from /16 down to the smallest that holds a private and a public subnet per AZ."""
    block = draw(st.sampled_from(PRIVATE_BLOCKS))
    prefix = draw(st.integers(max(16, block.prefixlen), 26 - math.ceil(math.log2(az_count))))
    index = draw(st.integers(0, 2 ** (prefix - block.prefixlen) - 1))
    return f"{ipaddress.IPv4Address(int(block.network_address) + index * 2 ** (32 - prefix))}/{prefix}"


def _clock(minute: int) -> str:
    return f"{minute // 60 % 24:02d}:{minute % 60:02d}"


def _weekly(minute: int) -> str:
    minute %= MINUTES_PER_WEEK
    return f"{WEEKDAYS[minute // MINUTES_PER_DAY]}:{_clock(minute)}"


@st.composite
def db_windows(draw: st.DrawFn) -> tuple[str, str]:
    """(maintenance, backup): RDS windows of at least 30 minutes that never overlap.

    Built, not filtered: the daily backup window leaves one gap a day, and the weekly maintenance window
    lies inside one of them (either may wrap past midnight, the maintenance window past Sunday).
    """
    backup_start = draw(st.integers(0, MINUTES_PER_DAY - 1))
    backup_length = draw(st.integers(MIN_WINDOW_MINUTES, MINUTES_PER_DAY - MIN_WINDOW_MINUTES))
    gap = MINUTES_PER_DAY - backup_length
    length = draw(st.integers(MIN_WINDOW_MINUTES, gap))
    start = (draw(st.integers(0, 6)) * MINUTES_PER_DAY + backup_start + backup_length
             + draw(st.integers(0, gap - length)))
    return (f"{_weekly(start)}-{_weekly(start + length)}",
            f"{_clock(backup_start)}-{_clock(backup_start + backup_length)}")


def canary_percents() -> st.SearchStrategy[str]:
    """ECS's canary percent, a multiple of 0.1 from 0.1 to 100, written as a stack file holds it ("12.5", "10")."""
    return st.integers(1, 1000).map(lambda tenths: f"{tenths // 10}.{tenths % 10}" if tenths % 10
                                    else str(tenths // 10))


@st.composite
def valid_settings(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    """(stack name, stack file it starts from, overrides): a valid combination of every documented key."""
    az_count = draw(st.integers(2, 6))
    cpu, memory = draw(st.sampled_from(FARGATE_PAIRS))
    min_tasks = draw(st.integers(1, 100))
    storage = draw(st.integers(20, 65536 * 10 // 11))
    domain = draw(st.booleans())
    recovery = draw(st.one_of(st.just(0), st.integers(7, 30)))
    maintenance, backup = draw(db_windows())
    base = draw(st.sampled_from(("dev", "prod")))
    overrides: dict[str, Any] = {
        "tca:azCount": az_count,
        "tca:vpcCidr": draw(vpc_cidrs(az_count)),
        "tca:natGateways": draw(st.sampled_from(NAT_STRATEGIES)),
        "tca:appImage": draw(st.sampled_from(IMAGES)),
        # The app runs as a non-root user, which cannot bind a port below 1024.
        "tca:appPort": draw(st.integers(1024, 65535)),
        "tca:taskCpu": cpu,
        "tca:taskMemory": memory,
        "tca:minTasks": min_tasks,
        "tca:maxTasks": draw(st.integers(min_tasks, 100)),
        "tca:cpuTargetPercent": draw(st.integers(1, 100)),
        "tca:requestsPerTarget": draw(st.integers(1, 1_000_000)),
        "tca:dbEngineVersion": draw(st.sampled_from(SUPPORTED_PG_MAJORS)),
        "tca:dbInstanceClass": draw(st.sampled_from(INSTANCE_CLASSES)),
        "tca:dbAllocatedStorage": storage,
        # RDS: the autoscaling ceiling must be at least 10 % above allocated storage.
        "tca:dbMaxAllocatedStorage": draw(st.integers(-(-storage * 11 // 10), 65536)),
        "tca:dbMultiAz": draw(st.booleans()),
        "tca:dbBackupRetentionDays": draw(st.integers(0, 35)),
        "tca:deletionProtection": draw(st.booleans()),
        "tca:logRetentionDays": draw(st.sampled_from(LOG_RETENTION_DAYS)),
        "tca:secretRecoveryDays": recovery,
        "tca:seedRevision": draw(st.integers(1, 1_000_000)),
        "tca:dbProxy": draw(st.booleans()),
        "tca:dbManagedMasterPassword": draw(st.booleans()),
        "tca:dbProxyClientAuth": draw(st.sampled_from(PROXY_CLIENT_AUTH)),
        "tca:alarmEmail": draw(st.sampled_from(("", "ops@example.com"))),
        "tca:domainName": "todo.example.com" if domain else "",
        "tca:hostedZoneId": "Z0123456789ABC" if domain else "",
        **{f"tca:{key}": draw(st.integers(low, high)) for key, _, low, high in ALARM_KEYS},
        "tca:dbMaintenanceWindow": maintenance,
        "tca:dbBackupWindow": backup,
        "tca:dockerHubCredentialsSecretArn": draw(st.sampled_from(("", cache_secret_arn(stack_region(base))))),
        "tca:dbMonitoringIntervalSeconds": draw(st.sampled_from(DB_MONITORING_INTERVALS)),
        "tca:dbSlowStatementMs": draw(st.one_of(st.just(-1), st.integers(1, SLOW_STATEMENT_MAX_MS))),
        # The key must outlive the secret's recovery window.
        "tca:keyDeletionWindowDays": draw(st.integers(max(KEY_DELETION_WINDOW_DAYS[0], recovery),
                                                      KEY_DELETION_WINDOW_DAYS[1])),
        "tca:keyAdministrator": draw(st.sampled_from(("", "role/github-tca-x-deployer", "user/ops/alice",
                                                      "role/service-role/deploy+bot=1,a.b@c_d-e"))),
        "tca:fargateSpot": draw(st.booleans()),
        "tca:deploymentStrategy": draw(st.sampled_from(DEPLOYMENT_STRATEGIES)),
        "tca:canaryPercent": draw(canary_percents()),
        "tca:canaryBakeMinutes": draw(st.integers(0, MAX_BAKE_MINUTES)),
        "tca:deploymentBakeMinutes": draw(st.integers(0, MAX_BAKE_MINUTES)),
        "tca:rollback5xxCount": draw(st.integers(1, 100_000)),
        "tca:rollbackResponseTimeMs": draw(st.integers(10, 60_000)),
        "tca:waf": draw(st.booleans()),
        "tca:wafRateLimit": draw(st.integers(*WAF_RATE_LIMIT_RANGE)),
        "tca:alarmWafBlockedCount": draw(st.integers(1, 10_000_000)),
        "tca:albAccessLogs": draw(st.booleans()),
        "tca:albAccessLogDays": draw(st.integers(1, 3650)),
    }
    # Long enough that the daily redeployment, bakes included, replaces every task between two rotations.
    deployment = deployment_minutes(overrides["tca:deploymentStrategy"], overrides["tca:canaryBakeMinutes"],
                                    overrides["tca:deploymentBakeMinutes"])
    overrides["tca:rotationDays"] = draw(st.integers(MIN_ROTATION_DAYS, MAX_ROTATION_DAYS).filter(
        lambda days: rotation_period_allowed(days, deployment)))
    return draw(stack_names), base, overrides


def _corner(stack: str, base: str, **changes: Any) -> tuple[str, str, dict[str, Any]]:
    return stack, base, {f"tca:{key}": value for key, value in changes.items()}


# The awkward corners, always run: the longest stack name with 6 AZs in the smallest VPC that fits them, the
# largest Fargate size and every optional resource (canary target group and rule, WAF, access-log bucket,
# proxy, pull-through cache, HTTPS); the shortest name with 2 AZs in the largest VPC, the smallest size and
# none of them.
LARGEST = _corner("a" * (MAX_STACK_NAME - 1) + "9", "prod", azCount=6, vpcCidr="172.31.254.0/23", taskCpu=16384,
                  taskMemory=122880, maxTasks=100, dbProxy=True, domainName="todo.example.com",
                  hostedZoneId="Z0123456789ABC", dbAllocatedStorage=59578, dbMaxAllocatedStorage=65536,
                  deploymentStrategy="CANARY", waf=True, albAccessLogs=True,
                  dockerHubCredentialsSecretArn=cache_secret_arn(stack_region("prod")), dbMonitoringIntervalSeconds=1,
                  alarmEmail="ops@example.com")
SMALLEST = _corner("a", "dev", azCount=2, vpcCidr="192.168.0.0/16", taskCpu=256, taskMemory=512, minTasks=1,
                   maxTasks=1, dbProxy=False, deploymentStrategy="ROLLING", waf=False, albAccessLogs=False,
                   dbMonitoringIntervalSeconds=0)


# -- what every rendering must satisfy -----------------------------------------------------------

def _physical_name(reg: Any, key: str | None) -> str:
    explicit = reg.inputs.get(key) if key else None
    return explicit if isinstance(explicit, str) and explicit else f"{reg.name}-{'x' * (AUTONAME_SUFFIX - 1)}"


def name_problems(run: Run) -> list[str]:
    """Every AWS name the run would create that exceeds its limit, or that the stack's KMS key would refuse."""
    problems = []
    for reg in run.registrations:
        if reg.type not in NAME_LIMITS:
            continue
        key, limit = NAME_LIMITS[reg.type]
        name = _physical_name(reg, key)
        if len(name) > limit:
            problems.append(f"{reg.type} {name!r}: {len(name)} > {limit}")
    for reg in run.of_type("aws:rds/instance:Instance"):
        snapshot = reg.inputs.get("finalSnapshotIdentifier")
        if isinstance(snapshot, str) and len(snapshot) > 255:
            problems.append(f"final snapshot {snapshot!r} longer than 255")
    # The key serves CloudWatch Logs only for log groups named like the stack's (infra/keys.py): a group
    # named otherwise could not be created under it.
    patterns = log_group_name_patterns(f"{NAMESPACE}-{run.stack}")
    for reg in run.of_type("aws:cloudwatch/logGroup:LogGroup"):
        name = _physical_name(reg, "name")
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
            problems.append(f"log group {name!r} is outside the key's scope {patterns}")
    return problems


def overlapping(cidrs: list[str]) -> list[tuple[str, str]]:
    networks = [ipaddress.IPv4Network(c) for c in cidrs]
    return [(str(a), str(b)) for i, a in enumerate(networks) for b in networks[i + 1:] if a.overlaps(b)]


@settings(max_examples=2)
@example(LARGEST)
@example(SMALLEST)
@given(valid_settings())
def test_any_valid_configuration_renders_with_aws_names_in_their_limits_and_disjoint_subnets(case):
    stack, base, overrides = case
    run = run_program(stack, overrides=overrides, stack_file=base)
    assert run.error is None, f"{stack} from {base}: {run.error!r}"
    assert name_problems(run) == []
    specs = run.one("awsx:ec2:Vpc").inputs["subnetSpecs"]
    subnets = [cidr for spec in specs for cidr in spec["cidrBlocks"]]
    assert len(subnets) == 2 * overrides["tca:azCount"]
    assert overlapping(subnets) == []
    vpc = ipaddress.IPv4Network(overrides["tca:vpcCidr"])
    assert all(ipaddress.IPv4Network(s).subnet_of(vpc) and ipaddress.IPv4Network(s).prefixlen <= 28 for s in subnets)


@given(valid_settings())
def test_any_valid_configuration_loads_and_its_subnets_fit_the_vpc_and_never_overlap(case):
    stack, base, overrides = case
    network = load(stack, base, overrides).network
    subnets = [*network.private_subnet_cidrs, *network.public_subnet_cidrs]
    assert len(network.private_subnet_cidrs) == len(network.public_subnet_cidrs) == network.az_count
    assert overlapping(subnets) == []
    vpc = ipaddress.IPv4Network(network.vpc_cidr)
    # AWS: a subnet is at least a /28 and lies inside its VPC.
    assert all(ipaddress.IPv4Network(s).subnet_of(vpc) and ipaddress.IPv4Network(s).prefixlen <= 28 for s in subnets)


def test_the_corners_are_valid_configurations():
    """The explicit examples bypass the strategy, so they are checked against it once here."""
    for stack, base, overrides in (LARGEST, SMALLEST):
        assert load(stack, base, overrides)


@pytest.mark.parametrize(("cpu", "memory"), FARGATE_PAIRS)
def test_every_fargate_size_pair_is_accepted(cpu: int, memory: int):
    service = load("dev", "dev", {"tca:taskCpu": cpu, "tca:taskMemory": memory}).service
    assert (service.task_cpu, service.task_memory) == (cpu, memory)


def test_the_largest_corner_is_the_smallest_vpc_that_fits_six_azs():
    with pytest.raises(ConfigError):
        load("dev", "dev", {"tca:azCount": 6, "tca:vpcCidr": "172.31.255.0/24"})
    assert load("dev", "dev", {"tca:azCount": 6, "tca:vpcCidr": "172.31.254.0/23"})


# -- any single bad value is refused by name -------------------------------------------------------

_NOT_WHOLE = st.sampled_from(("two", "1.5", "0x10", "1e3", "--1"))
# Whole-number keys and the range Pulumi.yaml documents for each (constants where config.py names them).
INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "azCount": (2, 6),
    "appPort": (1024, 65535),
    "minTasks": (1, 100),
    "maxTasks": (1, 100),
    "cpuTargetPercent": (1, 100),
    "requestsPerTarget": (1, 1_000_000),
    "dbEngineVersion": (SUPPORTED_PG_MAJORS[0], SUPPORTED_PG_MAJORS[-1]),
    "dbAllocatedStorage": (20, 65536),
    "dbMaxAllocatedStorage": (22, 65536),
    "dbBackupRetentionDays": (0, 35),
    "secretRecoveryDays": (0, 30),
    "seedRevision": (1, 1_000_000),
    **{key: (low, high) for key, _, low, high in ALARM_KEYS},
    "dbSlowStatementMs": (-1, SLOW_STATEMENT_MAX_MS),
    "keyDeletionWindowDays": KEY_DELETION_WINDOW_DAYS,
    "canaryBakeMinutes": (0, MAX_BAKE_MINUTES),
    "deploymentBakeMinutes": (0, MAX_BAKE_MINUTES),
    "rollback5xxCount": (1, 100_000),
    "rollbackResponseTimeMs": (10, 60_000),
    "wafRateLimit": WAF_RATE_LIMIT_RANGE,
    "alarmWafBlockedCount": (1, 10_000_000),
    "albAccessLogDays": (1, 3650),
    "rotationDays": (MIN_ROTATION_DAYS, MAX_ROTATION_DAYS),
}


def _integer(low: int, high: int) -> st.SearchStrategy[Any]:
    return st.one_of(st.integers(max_value=low - 1), st.integers(min_value=high + 1), _NOT_WHOLE)


def _backup_windows_overlapping_both_stacks() -> tuple[str, ...]:
    """Daily windows that cover the first minute of dev's and of prod's maintenance window, whatever they are.

    Going from one start to the other one way round or the other, one of the two ways is at most half a day.
    """
    starts = [maintenance_window_minutes(_stack_file(stack)["tca:dbMaintenanceWindow"])[0] % MINUTES_PER_DAY
              for stack in ("dev", "prod")]
    windows = []
    for first, second in (starts, starts[::-1]):
        length = (second - first) % MINUTES_PER_DAY + MIN_WINDOW_MINUTES
        if length <= MINUTES_PER_DAY // 2 + MIN_WINDOW_MINUTES:
            windows.append(f"{_clock(first)}-{_clock(first + length)}")
    return tuple(windows)


_BOOLEAN = st.sampled_from(("yes", "no", "1", "0", "enabled"))
BAD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    **{key: _integer(low, high) for key, (low, high) in INTEGER_RANGES.items()},
    "vpcCidr": st.sampled_from(("8.8.8.0/24", "10.0.0.1/16", "10.0.0.0/8", "10.0.0.0/26", "10.0.0.0", "abc",
                                "100.64.0.0/16", "172.32.0.0/16")),
    "natGateways": st.sampled_from(("None", "single", "PerAz", "2")),
    # An ARN instead of role/NAME, another kind of principal, a space, a name over IAM's 64 characters.
    "keyAdministrator": st.sampled_from(("arn:aws:iam::123456789012:role/deployer", "group/admins", "role/",
                                         "role/has space", "Role/deployer", "role/" + "r" * 65, "*")),
    "appImage": st.sampled_from(("Servian/App", "has space:1", "app:", "app@sha256:short")),
    "taskCpu": st.one_of(st.integers().filter(lambda n: n not in FARGATE_CPU_SIZES), _NOT_WHOLE),
    # No CPU size takes these (0.25 vCPU takes 512, 1024 or 2048 MiB; larger sizes whole GiB up to 120 GiB).
    "taskMemory": st.one_of(st.sampled_from((513, 1536, 2560, 0, 122881)), _NOT_WHOLE),
    "dbInstanceClass": st.sampled_from(("t4g.micro", "db.t4g", "db.T4G.micro", "micro", "db.t9.huge")),
    "dbMultiAz": _BOOLEAN,
    "deletionProtection": _BOOLEAN,
    "logRetentionDays": st.one_of(st.integers().filter(lambda n: n not in LOG_RETENTION_DAYS), _NOT_WHOLE),
    "dbProxy": _BOOLEAN,
    "dbManagedMasterPassword": _BOOLEAN,
    "dbProxyClientAuth": st.sampled_from(("MD5", "SCRAM", "postgres_md5")),
    "alarmEmail": st.sampled_from(("ops", "ops@", "@example.com", "ops@example")),
    "domainName": st.sampled_from(("-bad-.example.com", "no_underscores.example.com", "localhost")),
    "hostedZoneId": st.sampled_from(("z0123", "0123ABC", "Zlower")),
    # Malformed, uppercase days, too short; wrapping windows are valid. None of these is refused for an
    # overlap instead (the overlap check needs a well-formed window of 30 minutes or more).
    "dbMaintenanceWindow": st.sampled_from(("Sun:17:00-Sun:18:00", "sun:17:00-sun:17:29", "sun:24:00-mon:01:00",
                                            "17:00-18:00", "sunday:17:00-sunday:18:00", "sun:17:00")),
    # Malformed, too short, and overlapping both stack files' maintenance windows, which RDS refuses.
    "dbBackupWindow": st.sampled_from(("15:00-15:29", "25:00-26:00", "sun:15:00-sun:16:00", "1500-1600",
                                       *_backup_windows_overlapping_both_stacks())),
    "dockerHubCredentialsSecretArn": st.sampled_from((
        "ecr-pullthroughcache/docker-hub",
        cache_secret_arn(OTHER_REGION).replace(PULL_THROUGH_CACHE_SECRET_PREFIX, "other/"),
        cache_secret_arn(OTHER_REGION))),
    "dbMonitoringIntervalSeconds": st.one_of(
        st.integers().filter(lambda n: n not in DB_MONITORING_INTERVALS), _NOT_WHOLE),
    "fargateSpot": _BOOLEAN,
    "deploymentStrategy": st.sampled_from(("rolling", "canary", "BLUE_GREEN", "LINEAR", "")),
    # Outside 0.1 to 100, or not a multiple of 0.1.
    "canaryPercent": st.one_of(st.sampled_from(("0", "0.05", "100.1", "10.25", "ten", "1e1", "-10")),
                               st.integers(1001, 10_000).map(lambda tenths: f"{tenths / 10:.1f}")),
    "waf": _BOOLEAN,
    "albAccessLogs": _BOOLEAN,
    # Layers: an unknown layer, stack references not fully qualified (checked wherever they are set).
    "layer": st.sampled_from(("kitchen", "All", "db", "networks")),
    "networkStack": st.sampled_from(("prod-network", "acme/prod-network", "acme/tca/prod/network", "acme//x")),
    "databaseStack": st.sampled_from(("prod-db", "acme/prod-db", "acme/tca/prod/db", "/tca/prod-db")),
    "deploymentName": st.sampled_from(("Prod", "a--b", "-prod", "p" * 21)),
    # Malformed IDs; a well-formed list without tca:vpcId is refused naming the list.
    "vpcId": st.sampled_from(("vpc-123", "vpc-0123456789ABCDEF0", "subnet-0123456789abcdef0", "vpc")),
    **{key: st.sampled_from(("subnet-0123456789abcdef0", '["subnet-1"]', '{"a": "subnet-0123456789abcdef0"}',
                             '["subnet-0123456789abcdef0", "subnet-0123456789abcdef0"]',
                             '["subnet-0123456789abcdef0", "subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]'))
       for key in ("publicSubnetIds", "privateSubnetIds")},
}
# 1 to 6 days are inside 0-30 but refused: Secrets Manager takes 0 (at once) or 7 to 30.
BAD_VALUES["secretRecoveryDays"] = st.one_of(st.integers(1, 6), BAD_VALUES["secretRecoveryDays"])
# 0 is inside -1 to 60000 but refused: it would log every statement with what users typed.
BAD_VALUES["dbSlowStatementMs"] = st.one_of(st.just(0), BAD_VALUES["dbSlowStatementMs"])


def problems(error: ConfigError) -> list[str]:
    """The listed settings of a ConfigError, one per bad key."""
    return str(error).split("Fix these settings:\n  - ", 1)[1].split("\n  - ")


def refused_keys(base: str, key: str, value: Any) -> list[str]:
    """The keys a ConfigError names when `key` alone is set to `value` in `base`'s stack file."""
    with pytest.raises(ConfigError) as refused:
        load(base, base, {f"tca:{key}": value})
    return [problem.split(" ", 1)[0] for problem in problems(refused.value)]


def test_every_declared_key_has_bad_values_to_try():
    """A key added to Pulumi.yaml needs its bad values here, so the property below covers it."""
    assert set(BAD_VALUES) == set(declared_keys())


@pytest.mark.parametrize("key", sorted(BAD_VALUES))
@settings(max_examples=8)
@given(data=st.data())
def test_any_single_bad_value_is_refused_naming_that_key(key: str, data: st.DataObject):
    base = data.draw(st.sampled_from(("dev", "prod")), label="stack file")
    value = data.draw(BAD_VALUES[key], label=f"tca:{key}")
    assert refused_keys(base, key, value) == [f"tca:{key}"]


@pytest.mark.parametrize(("key", "value"), [
    (key, bound) for key, (low, high) in INTEGER_RANGES.items() for bound in (low - 1, high + 1)])
def test_a_value_just_outside_its_documented_range_is_refused(key: str, value: int):
    assert refused_keys("dev", key, value) == [f"tca:{key}"]


@settings(max_examples=3)
@given(st.sampled_from(("dev", "prod")), st.sampled_from(sorted(BAD_VALUES)).flatmap(
    lambda key: st.tuples(st.just(key), BAD_VALUES[key])))
def test_a_bad_value_stops_the_program_before_any_resource(base: str, bad: tuple[str, Any]):
    key, value = bad
    run = run_program(base, overrides={f"tca:{key}": value})
    assert isinstance(run.error, ConfigError), run.error
    assert run.registrations == []
    assert [p.split(" ", 1)[0] for p in problems(run.error)] == [f"tca:{key}"]


bad_stack_names = st.one_of(
    st.from_regex(rf"[a-z0-9-]{{{MAX_STACK_NAME + 1},40}}", fullmatch=True),
    st.from_regex(r"[a-z0-9]{0,5}[A-Z_. ][a-z0-9]{0,5}", fullmatch=True),
    st.from_regex(r"-[a-z0-9]{0,5}|[a-z0-9]{0,5}-|[a-z0-9]{1,5}--[a-z0-9]{1,5}", fullmatch=True),
)


@given(bad_stack_names, st.sampled_from(("dev", "prod")))
def test_any_bad_stack_name_is_refused_because_it_names_the_load_balancer(stack, base):
    with pytest.raises(ConfigError) as refused:
        load(stack, base)
    assert [p.split(":", 1)[0] for p in problems(refused.value)] == [f"stack name {stack!r}"]


# -- the rotation period rule ------------------------------------------------------------------------

@settings(max_examples=60)
@given(days=st.integers(MIN_ROTATION_DAYS, MAX_ROTATION_DAYS), strategy=st.sampled_from(DEPLOYMENT_STRATEGIES),
       canary_bake=st.integers(0, MAX_BAKE_MINUTES), bake=st.integers(0, MAX_BAKE_MINUTES))
@example(days=4, strategy="CANARY", canary_bake=MAX_BAKE_MINUTES, bake=MAX_BAKE_MINUTES)
@example(days=3, strategy="CANARY", canary_bake=MAX_BAKE_MINUTES, bake=MAX_BAKE_MINUTES)
@example(days=2, strategy="ROLLING", canary_bake=MAX_BAKE_MINUTES, bake=MAX_BAKE_MINUTES)
def test_a_rotation_period_is_refused_exactly_when_a_task_could_outlive_the_next_rotation_of_its_user(
        days: int, strategy: str, canary_bake: int, bake: int):
    """Alternating users: a task that read the credential just before one rotation works until the next rotation
    changes its user's password, so it must be replaced (a day old at most, plus one whole deployment) within the
    shortest gap between two rotations: one at the end of its window, the next at the start of the following one."""
    overrides = {"tca:rotationDays": days, "tca:deploymentStrategy": strategy,
                 "tca:canaryBakeMinutes": canary_bake, "tca:deploymentBakeMinutes": bake}
    # ECS bakes only a canary; every deployment also needs the allowance to start, check and drain tasks.
    deployment_hours = ((canary_bake + bake if strategy == "CANARY" else 0) + DEPLOYMENT_ALLOWANCE_MINUTES) / 60
    shortest_gap_hours = 24 * days - ROTATION_WINDOW_HOURS
    if shortest_gap_hours > 24 + deployment_hours:
        assert load("dev", "dev", overrides).rotation.days == days
        return
    with pytest.raises(ConfigError) as refused:
        load("dev", "dev", overrides)
    (problem,) = problems(refused.value)
    fastest = next(n for n in range(MIN_ROTATION_DAYS, MAX_ROTATION_DAYS + 1)
                   if 24 * n - ROTATION_WINDOW_HOURS > 24 + deployment_hours)
    assert problem.startswith(f"tca:rotationDays = '{days}': must be from {fastest} to {MAX_ROTATION_DAYS} with "
                              f"these bake times: every task is replaced once a day, and a deployment may take "
                              f"{round(deployment_hours * 60)} min")


def test_the_rotation_window_is_the_duration_the_secret_rotation_gets():
    cfg = load("dev", "dev")
    assert cfg.rotation.duration == f"{ROTATION_WINDOW_HOURS}h"
    assert cfg.rotation.schedule_expression == f"rate({cfg.rotation.days} days)"


def test_a_refused_bake_time_is_reported_once_not_again_as_a_rotation_period():
    with pytest.raises(ConfigError) as refused:
        load("dev", "dev", {"tca:deploymentStrategy": "CANARY", "tca:canaryBakeMinutes": MAX_BAKE_MINUTES + 1,
                            "tca:rotationDays": MIN_ROTATION_DAYS})
    assert [p.split(" ", 1)[0] for p in problems(refused.value)] == ["tca:canaryBakeMinutes"]


def test_a_database_layer_checks_the_rotation_bounds_without_the_app_layers_releases():
    layer = {"tca:layer": "database", "tca:deploymentName": "dev", "tca:networkStack": "acme/tca/dev-network"}
    assert load("dev-db", "dev", {**layer, "tca:rotationDays": MIN_ROTATION_DAYS}).rotation.days == MIN_ROTATION_DAYS
    with pytest.raises(ConfigError) as refused:
        load("dev-db", "dev", {**layer, "tca:rotationDays": MIN_ROTATION_DAYS - 1})
    assert [p.split(" ", 1)[0] for p in problems(refused.value)] == ["tca:rotationDays"]

"""Every stack setting, read once and validated before any resource exists.

`load_config()` collects every problem before it fails, so a user fixes a stack file in one pass.
Components receive the frozen `AppConfig` and never read Pulumi config themselves.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pulumi

NAMESPACE = "tca"

NAT_STRATEGIES = ("Single", "OnePerAz")

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)

SUPPORTED_PG_MAJORS = (14, 15, 16, 17, 18)

# Client password authentication to RDS Proxy that lib/pq speaks (README: the throughput trade-off).
PROXY_CLIENT_AUTH = ("POSTGRES_MD5", "POSTGRES_SCRAM_SHA_256")

# The load balancer's name is this prefix plus Pulumi's 8-character suffix, and AWS caps
# load balancer and target group names at 32 characters, so the prefix may use 24.
MAX_NAME_PREFIX = 24

_T = TypeVar("_T")


_GIB = 1024
# Task CPU units -> (lowest, highest, step) memory in MiB, from the Fargate task-size table.
# 8 and 16 vCPU need platform 1.4.0, which LATEST resolves to.
_FARGATE_MEMORY = {
    256: (512, 2 * _GIB, None),
    512: (1 * _GIB, 4 * _GIB, _GIB),
    1024: (2 * _GIB, 8 * _GIB, _GIB),
    2048: (4 * _GIB, 16 * _GIB, _GIB),
    4096: (8 * _GIB, 30 * _GIB, _GIB),
    8192: (16 * _GIB, 60 * _GIB, 4 * _GIB),
    16384: (32 * _GIB, 120 * _GIB, 8 * _GIB),
}


def fargate_memory_choices(cpu: int) -> tuple[int, ...]:
    """Memory sizes (MiB) that Fargate accepts for a task CPU size; empty for an unknown size."""
    if cpu not in _FARGATE_MEMORY:
        return ()
    low, high, step = _FARGATE_MEMORY[cpu]
    if step is None:  # 0.25 vCPU takes exactly 512 MiB, 1 GiB or 2 GiB
        return (512, 1 * _GIB, 2 * _GIB)
    return tuple(range(low, high + 1, step))


FARGATE_CPU_SIZES = tuple(_FARGATE_MEMORY)


def subnet_layout(vpc_cidr: str, az_count: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Private and public subnet CIDRs, one of each per AZ.

    The VPC is cut into one block per AZ (rounded up to a power of two); each AZ block holds a
    private subnet of half its size and a public subnet of a quarter, the same shape awsx uses by
    default, but computed here so validation knows exactly whether it fits.
    """
    vpc = ipaddress.IPv4Network(vpc_cidr, strict=True)
    az_prefix = vpc.prefixlen + math.ceil(math.log2(az_count))
    az_blocks = list(vpc.subnets(new_prefix=az_prefix))[:az_count]
    private: list[str] = []
    public: list[str] = []
    for block in az_blocks:
        halves = list(block.subnets(prefixlen_diff=1))
        private.append(str(halves[0]))
        public.append(str(next(halves[1].subnets(prefixlen_diff=1))))
    return tuple(private), tuple(public)


@dataclass(frozen=True)
class AlarmThresholds:
    """Each alarm fires when its metric crosses this value (see infra/monitoring.py)."""
    target_5xx_count: int
    alb_5xx_count: int
    response_time_ms: int
    service_cpu_percent: int
    service_memory_percent: int
    db_cpu_percent: int
    db_free_storage_gib: int
    db_connections: int
    db_free_memory_mib: int
    proxy_borrow_latency_ms: int
    proxy_client_connections: int


# config key, field, lowest, highest: bounds are sanity limits that catch unit mistakes.
ALARM_KEYS = (
    ("alarmTarget5xxCount", "target_5xx_count", 1, 100_000),
    ("alarmAlb5xxCount", "alb_5xx_count", 1, 100_000),
    ("alarmResponseTimeMs", "response_time_ms", 10, 60_000),
    ("alarmServiceCpuPercent", "service_cpu_percent", 1, 100),
    ("alarmServiceMemoryPercent", "service_memory_percent", 1, 100),
    ("alarmDbCpuPercent", "db_cpu_percent", 1, 100),
    ("alarmDbFreeStorageGib", "db_free_storage_gib", 1, 65536),
    ("alarmDbConnections", "db_connections", 1, 100_000),
    ("alarmDbFreeMemoryMib", "db_free_memory_mib", 1, 1_048_576),
    ("alarmProxyBorrowLatencyMs", "proxy_borrow_latency_ms", 1, 120_000),
    ("alarmProxyClientConnections", "proxy_client_connections", 1, 1_000_000),
)

_EMAIL = r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"
# A DNS name: labels of letters, digits and inner hyphens, at most 253 characters.
_DOMAIN = r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
_ZONE_ID = r"Z[A-Z0-9]{1,31}"


@dataclass(frozen=True)
class AppConfig:
    stack: str
    region: str
    aws_profile: str
    az_count: int
    vpc_cidr: str
    nat_gateways: str
    app_image: str
    app_port: int
    task_cpu: int
    task_memory: int
    min_tasks: int
    max_tasks: int
    cpu_target_percent: int
    requests_per_target: int
    db_engine_version: int
    db_instance_class: str
    db_allocated_storage: int
    db_max_allocated_storage: int
    db_multi_az: bool
    db_backup_retention_days: int
    deletion_protection: bool
    log_retention_days: int
    secret_recovery_days: int
    seed_revision: int
    db_proxy: bool
    db_proxy_client_auth: str
    alarm_email: str
    domain_name: str
    hosted_zone_id: str
    alarms: AlarmThresholds
    private_subnet_cidrs: tuple[str, ...]
    public_subnet_cidrs: tuple[str, ...]

    @property
    def name_prefix(self) -> str:
        return f"{NAMESPACE}-{self.stack}"

    @property
    def https(self) -> bool:
        return bool(self.domain_name)


class ConfigError(pulumi.RunError):
    """Raised with every invalid setting listed; RunError prints without a traceback."""


class _Reader:
    """Parses raw config strings, recording one message per bad key instead of stopping."""

    def __init__(self, raw: Callable[[str], str | None], namespace: str):
        self._raw = raw
        self._namespace = namespace
        self.errors: list[str] = []

    def key(self, name: str) -> str:
        return f"{self._namespace}:{name}"

    def fail(self, name: str, value: object, allowed: str) -> None:
        self.errors.append(f"{self.key(name)} = {str(value)!r}: {allowed}")

    def _parse(self, name: str, allowed: str, parse: Callable[[str], _T]) -> _T | None:
        value = self._raw(name)
        if value is None or value.strip() == "":
            self.errors.append(f"{self.key(name)} is not set: {allowed}")
            return None
        try:
            return parse(value.strip())
        except ValueError:
            self.fail(name, value, allowed)
            return None

    def integer(self, name: str, low: int, high: int, allowed: str | None = None) -> int | None:
        allowed = allowed or f"must be a whole number from {low} to {high}"
        number = self._parse(name, allowed, _strict_int)
        if number is not None and not low <= number <= high:
            self.fail(name, number, allowed)
            return None
        return number

    def boolean(self, name: str) -> bool | None:
        return self._parse(name, "must be true or false", _strict_bool)

    def text(self, name: str, pattern: str, allowed: str) -> str | None:
        value = self._parse(name, allowed, str)
        if value is not None and not re.fullmatch(pattern, value):
            self.fail(name, value, allowed)
            return None
        return value

    def optional_text(self, name: str, pattern: str, allowed: str) -> str | None:
        """An optional key: unset or empty reads as "" (off); anything else must match."""
        value = (self._raw(name) or "").strip()
        if value and not re.fullmatch(pattern, value):
            self.fail(name, value, allowed)
            return None
        return value


def _strict_int(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(text)
    return int(text)


def _strict_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise ValueError(text)
    return lowered == "true"


# A Docker reference: [registry/]repository[:tag][@sha256:digest], lowercase repository path.
_IMAGE_PATTERN = (
    r"(?:[a-zA-Z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?"
)


def _validate_network(r: _Reader, az_count: int | None) -> tuple[str | None, tuple, tuple]:
    allowed = "must be a private IPv4 network (10/8, 172.16/12 or 192.168/16) in CIDR form, such as 10.0.0.0/16"
    cidr = r.text("vpcCidr", r"\d+\.\d+\.\d+\.\d+/\d+", allowed)
    if cidr is None:
        return None, (), ()
    try:
        network = ipaddress.IPv4Network(cidr, strict=True)
    except ValueError:
        r.fail("vpcCidr", cidr, allowed + " with no host bits set")
        return None, (), ()
    if not any(network.subnet_of(ipaddress.IPv4Network(block)) for block in
               ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")):
        r.fail("vpcCidr", cidr, allowed)
        return None, (), ()
    if az_count is None:
        return cidr, (), ()
    # AWS allows VPCs from /16 to /28 and subnets no smaller than /28; the public subnet is a
    # quarter of each AZ's block, so the AZ block must be /26 or larger.
    longest = 26 - math.ceil(math.log2(az_count))
    if not 16 <= network.prefixlen <= longest:
        r.fail("vpcCidr", cidr,
               f"needs a prefix from /16 to /{longest} to hold a private and a public subnet "
               f"in each of {az_count} availability zones (tca:azCount)")
        return None, (), ()
    private, public = subnet_layout(cidr, az_count)
    return cidr, private, public


def load_config(  # noqa: PLR0915 - one flat pass over every key reads best
    stack: str | None = None,
    raw: Callable[[str], str | None] | None = None,
    region: str | None = None,
    profile: str | None = None,
) -> AppConfig:
    """Read and validate every `tca:` key; raise ConfigError naming each bad one."""
    stack = stack if stack is not None else pulumi.get_stack()
    raw = raw if raw is not None else pulumi.Config(NAMESPACE).get
    region = region if region is not None else pulumi.Config("aws").get("region")
    # The seed provider calls ECS with the deployer's credentials; empty means the default chain.
    aws_profile = (pulumi.Config("aws").get("profile") or "") if profile is None else profile
    r = _Reader(raw, NAMESPACE)

    if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?", stack) or "--" in stack \
            or len(f"{NAMESPACE}-{stack}") > MAX_NAME_PREFIX:
        r.errors.append(
            f"stack name {stack!r}: must be lowercase letters, digits and single hyphens, at most "
            f"{MAX_NAME_PREFIX - len(NAMESPACE) - 1} characters, because it names the load balancer")
    if not region or not re.fullmatch(r"[a-z]{2}(?:-[a-z]+)+-\d", region):
        r.errors.append(f"aws:region = {region!r}: must be an AWS region such as ap-southeast-2")

    az_count = r.integer("azCount", 2, 6)
    vpc_cidr, private_cidrs, public_cidrs = _validate_network(r, az_count)

    nat = r.text("natGateways", r".*",
                 "must be Single or OnePerAz")
    if nat is not None and nat not in NAT_STRATEGIES:
        hint = " (None is refused: tasks in private subnets need a NAT gateway to pull the image)" \
            if nat.lower() == "none" else ""
        r.fail("natGateways", nat, "must be Single or OnePerAz" + hint)
        nat = None

    image = r.text("appImage", _IMAGE_PATTERN,
                   "must be a container image reference such as servian/techchallengeapp:0.11.0")
    port = r.integer("appPort", 1, 65535)

    cpu = r.integer("taskCpu", 256, 16384, f"must be one of {', '.join(map(str, FARGATE_CPU_SIZES))}")
    if cpu is not None and cpu not in FARGATE_CPU_SIZES:
        r.fail("taskCpu", cpu, f"must be one of {', '.join(map(str, FARGATE_CPU_SIZES))}")
        cpu = None
    memory = r.integer("taskMemory", 512, 122880, "must be a Fargate memory size in MiB")
    if cpu is not None and memory is not None and memory not in fargate_memory_choices(cpu):
        choices = fargate_memory_choices(cpu)
        r.fail("taskMemory", memory,
               f"is not a valid Fargate size with tca:taskCpu = {cpu}; allowed: "
               f"{', '.join(map(str, choices))}")
        memory = None

    # 100 is a sanity bound, far below ECS's per-service limit, that catches typos.
    min_tasks = r.integer("minTasks", 1, 100)
    max_tasks = r.integer("maxTasks", 1, 100)
    if min_tasks is not None and max_tasks is not None and max_tasks < min_tasks:
        r.fail("maxTasks", max_tasks, f"must be at least tca:minTasks ({min_tasks})")
        max_tasks = None
    cpu_target = r.integer("cpuTargetPercent", 1, 100)
    requests = r.integer("requestsPerTarget", 1, 1_000_000)

    pg_major = r.integer("dbEngineVersion", SUPPORTED_PG_MAJORS[0], SUPPORTED_PG_MAJORS[-1],
                         "must be a PostgreSQL major version in RDS standard support: "
                         + ", ".join(map(str, SUPPORTED_PG_MAJORS[:-1])) + f" or {SUPPORTED_PG_MAJORS[-1]}")
    instance_class = r.text("dbInstanceClass", r"db\.[a-z0-9-]+\.[a-z0-9]+",
                            "must be an RDS instance class such as db.t4g.micro")
    # gp3 storage on RDS for PostgreSQL: 20 GiB to 64 TiB.
    storage = r.integer("dbAllocatedStorage", 20, 65536)
    max_storage = r.integer("dbMaxAllocatedStorage", 21, 65536,
                            "must be a whole number of GiB above tca:dbAllocatedStorage, at most 65536")
    if storage is not None and max_storage is not None and max_storage <= storage:
        r.fail("dbMaxAllocatedStorage", max_storage,
               f"must be greater than tca:dbAllocatedStorage ({storage}) for storage autoscaling")
        max_storage = None
    multi_az = r.boolean("dbMultiAz")
    backups = r.integer("dbBackupRetentionDays", 0, 35)
    protection = r.boolean("deletionProtection")

    retention_allowed = f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}"
    log_days = r.integer("logRetentionDays", 1, 3653, retention_allowed)
    if log_days is not None and log_days not in LOG_RETENTION_DAYS:
        r.fail("logRetentionDays", log_days, retention_allowed)
        log_days = None
    recovery_allowed = "must be 0 (delete at once) or from 7 to 30 days"
    recovery = r.integer("secretRecoveryDays", 0, 30, recovery_allowed)
    if recovery is not None and 0 < recovery < 7:
        r.fail("secretRecoveryDays", recovery, recovery_allowed)
        recovery = None

    # Raising it re-runs `updatedb -s`, which erases every task; a bound keeps typos visible.
    seed_revision = r.integer("seedRevision", 1, 1_000_000)

    db_proxy = r.boolean("dbProxy")
    proxy_auth = r.text("dbProxyClientAuth", "|".join(PROXY_CLIENT_AUTH),
                        f"must be {' or '.join(PROXY_CLIENT_AUTH)}")

    alarm_email = r.optional_text("alarmEmail", _EMAIL, "must be an email address, or empty for no subscription")
    domain = r.optional_text("domainName", _DOMAIN, "must be a DNS name such as todo.example.com, or empty")
    zone = r.optional_text("hostedZoneId", _ZONE_ID, "must be a Route 53 hosted zone ID such as Z0123456789ABC")
    if domain is not None and zone is not None and bool(domain) != bool(zone):
        missing = "tca:hostedZoneId" if domain else "tca:domainName"
        r.errors.append(f"tca:domainName and tca:hostedZoneId go together for HTTPS: {missing} is not set "
                        "(set both, or neither for HTTP only)")
    thresholds: dict[str, Any] = {field: r.integer(key, low, high) for key, field, low, high in ALARM_KEYS}

    if r.errors:
        raise ConfigError(
            f"Invalid configuration for stack {stack!r}; nothing was created. Fix these settings:\n  - "
            + "\n  - ".join(r.errors))

    values: dict[str, Any] = dict(
        stack=stack,
        region=region,
        aws_profile=aws_profile,
        az_count=az_count,
        vpc_cidr=vpc_cidr,
        nat_gateways=nat,
        app_image=image,
        app_port=port,
        task_cpu=cpu,
        task_memory=memory,
        min_tasks=min_tasks,
        max_tasks=max_tasks,
        cpu_target_percent=cpu_target,
        requests_per_target=requests,
        db_engine_version=pg_major,
        db_instance_class=instance_class,
        db_allocated_storage=storage,
        db_max_allocated_storage=max_storage,
        db_multi_az=multi_az,
        db_backup_retention_days=backups,
        deletion_protection=protection,
        log_retention_days=log_days,
        secret_recovery_days=recovery,
        seed_revision=seed_revision,
        db_proxy=db_proxy,
        db_proxy_client_auth=proxy_auth,
        alarm_email=alarm_email,
        domain_name=domain,
        hosted_zone_id=zone,
        private_subnet_cidrs=private_cidrs,
        public_subnet_cidrs=public_cidrs,
    )
    # Every parser either returned a value or recorded an error, so nothing here is None.
    unset = [k for k, v in {**values, **thresholds}.items() if v is None]
    assert not unset, f"config parsed to None without an error: {unset}"
    return AppConfig(**values, alarms=AlarmThresholds(**thresholds))

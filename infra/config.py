"""Every stack setting, read once and validated before any resource exists.

`load_config()` collects every problem before it fails, so a user fixes a stack file in one pass.
The result is one frozen section per concern (network, database, service, ...); each component
receives the shared `StackSettings` and its own section, and never reads Pulumi config itself.

`Pulumi.yaml` is the list of keys: a `tca:` key it does not declare is a typo and is refused, and
a declared key without a default must be set by every stack file (no silent fallback to dev).
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pulumi
import pulumi_aws as aws
import yaml
from pulumi.runtime import config as runtime_config_store

NAMESPACE = "tca"
PROJECT_FILE = Path(__file__).resolve().parent.parent / "Pulumi.yaml"

NAT_STRATEGIES = ("Single", "OnePerAz")

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)

SUPPORTED_PG_MAJORS = (14, 15, 16, 17, 18)

# RDS Enhanced Monitoring: "Valid Values: 0 | 1 | 5 | 10 | 15 | 30 | 60" seconds (0 turns it off).
DB_MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)

# log_min_duration_statement: -1 turns slow-statement logging off. 0 (log every statement) is
# refused: every request's statement, with the titles users typed, would land in the logs. Above
# 60 s nothing is learnt, because the app's HTTP server gives up on a request after 60 s.
SLOW_STATEMENT_MAX_MS = 60_000

# KMS waits 7 to 30 days before it deletes a key scheduled for deletion (ScheduleKeyDeletion).
KEY_DELETION_WINDOW_DAYS = (7, 30)
# An IAM role or user ARN's resource part: "role/" or "user/", an optional path, a name of at most 64 characters.
KEY_ADMINISTRATOR_PATTERN = r"(role|user)/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}"

# Client password authentication to RDS Proxy that lib/pq speaks (docs/database.md: the throughput trade-off).
PROXY_CLIENT_AUTH = ("POSTGRES_MD5", "POSTGRES_SCRAM_SHA_256")

# The load balancer's name is this prefix plus Pulumi's 8-character suffix, and AWS caps
# load balancer and target group names at 32 characters, so the prefix may use 24.
MAX_NAME_PREFIX = 24

# ECS deployment strategies this program wires up (ECS also has BLUE_GREEN and LINEAR).
DEPLOYMENT_STRATEGIES = ("ROLLING", "CANARY")
# ECS API_CanaryConfiguration / DeploymentConfiguration: canaryPercent is a multiple of 0.1 from
# 0.1 to 100.0; canaryBakeTimeInMinutes and bakeTimeInMinutes are 0 to 1440 minutes.
MAX_BAKE_MINUTES = 1440
# AWS WAF rate-based rules: "The lowest limit setting allowed is 10" (2,000,000,000 at most).
WAF_RATE_LIMIT_RANGE = (10, 2_000_000_000)

# What a stack holds: the whole deployment, or one layer of it in its own stack (infra/layers.py).
LAYERS = ("all", "network", "database", "app")
# The settings each layer reads. A key only other layers read has no effect in this layer's stack file and is
# named in a warning; a key a layer does not read is not required in its stack file.
LAYER_SECTIONS = {
    "all": ("network", "database", "service", "domain", "monitoring", "images", "keys", "release", "edge"),
    "network": ("network", "keys"),
    "database": ("database", "keys"),
    "app": ("service", "domain", "monitoring", "images", "keys", "release", "edge"),
}
# The keys naming the stacks each layer reads through stack references.
LAYER_REFERENCES = {
    "all": (),
    "network": (),
    "database": ("networkStack",),
    "app": ("networkStack", "databaseStack"),
}
# Pulumi's fully qualified stack name: organization (or "organization" on a self-managed backend)/project/stack.
_STACK_REFERENCE = r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+"
# EC2 resource IDs: a prefix and 8 (older) or 17 hexadecimal digits.
_VPC_ID = r"vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})"
_SUBNET_ID = r"subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})"

_T = TypeVar("_T")

# RDS windows (CreateDBInstance): PreferredMaintenanceWindow "ddd:hh24:mi-ddd:hh24:mi", days
# mon..sun; PreferredBackupWindow "hh24:mi-hh24:mi"; both in UTC, each "at least 30 minutes", and
# they "must not conflict". A maintenance window may wrap into the next week, a backup window past
# midnight. Lowercase days only: RDS stores them lowercase, so "Sun" would show a diff on every up.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
MIN_WINDOW_MINUTES = 30
_CLOCK = r"([01]\d|2[0-3]):([0-5]\d)"


def maintenance_window_minutes(text: str) -> tuple[int, int]:
    """(start minute of the week from Monday 00:00 UTC, length in minutes); ValueError if malformed."""
    days = "|".join(WEEKDAYS)
    match = re.fullmatch(rf"({days}):{_CLOCK}-({days}):{_CLOCK}", text)
    if not match:
        raise ValueError(text)
    d1, h1, m1, d2, h2, m2 = match.groups()
    start = WEEKDAYS.index(d1) * MINUTES_PER_DAY + int(h1) * 60 + int(m1)
    end = WEEKDAYS.index(d2) * MINUTES_PER_DAY + int(h2) * 60 + int(m2)
    return start, (end - start) % MINUTES_PER_WEEK


def backup_window_minutes(text: str) -> tuple[int, int]:
    """(start minute of the day UTC, length in minutes); ValueError if malformed."""
    match = re.fullmatch(rf"{_CLOCK}-{_CLOCK}", text)
    if not match:
        raise ValueError(text)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start = h1 * 60 + m1
    return start, (h2 * 60 + m2 - start) % MINUTES_PER_DAY


def _overlap_on_circle(a: tuple[int, int], b: tuple[int, int], period: int) -> bool:
    """Half-open intervals (start, length) on a circle of `period` minutes: do they share a minute?"""
    return (b[0] - a[0]) % period < a[1] or (a[0] - b[0]) % period < b[1]


def windows_conflict(maintenance: tuple[int, int], backup: tuple[int, int]) -> bool:
    """The backup window recurs every day; the maintenance window once a week."""
    return any(_overlap_on_circle(maintenance, (day * MINUTES_PER_DAY + backup[0], backup[1]), MINUTES_PER_WEEK)
               for day in range(7))


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


# -- the sections -------------------------------------------------------------------------------

@dataclass(frozen=True)
class StackSettings:
    """What every component needs: where it runs, how it is named, how long logs live, protection."""
    stack: str
    region: str
    aws_profile: str
    deletion_protection: bool
    log_retention_days: int
    # What names the resources: the stack's name, or (tca:deploymentName) the deployment this stack is a
    # layer of, so a layer keeps the names its resources had in a one-stack deployment.
    deployment: str = ""

    @property
    def name_prefix(self) -> str:
        return f"{NAMESPACE}-{self.deployment or self.stack}"

    @property
    def stack_prefix(self) -> str:
        """Unique per stack even where layers share a deployment name (the KMS alias)."""
        return f"{NAMESPACE}-{self.stack}"


@dataclass(frozen=True)
class LayerConfig:
    """What this stack holds and which stacks it reads the rest from (infra/layers.py)."""
    layer: str
    network_stack: str
    database_stack: str


@dataclass(frozen=True)
class NetworkConfig:
    az_count: int
    # Empty with an existing VPC: nothing of the VPC is created.
    vpc_cidr: str
    nat_gateways: str
    private_subnet_cidrs: tuple[str, ...]
    public_subnet_cidrs: tuple[str, ...]
    # The path's shape: the app's port (load balancer to tasks) and whether RDS Proxy sits before the database.
    app_port: int
    proxy: bool
    # An existing VPC (tca:vpcId) and its subnets, one per AZ; empty when the stack creates its VPC.
    vpc_id: str = ""
    public_subnet_ids: tuple[str, ...] = ()
    private_subnet_ids: tuple[str, ...] = ()

    @property
    def existing_vpc(self) -> bool:
        return bool(self.vpc_id)


@dataclass(frozen=True)
class DatabaseConfig:
    engine_version: int
    instance_class: str
    allocated_storage: int
    max_allocated_storage: int
    multi_az: bool
    backup_retention_days: int
    secret_recovery_days: int
    proxy: bool
    proxy_client_auth: str
    maintenance_window: str
    backup_window: str
    monitoring_interval_seconds: int
    slow_statement_ms: int


@dataclass(frozen=True)
class KeysConfig:
    """The stack's customer-managed KMS key (infra/keys.py)."""
    deletion_window_days: int
    # "role/NAME" or "user/NAME" (with an optional path) of the one principal that administers the key
    # besides the account's IAM administrators; "" leaves administration to IAM policies alone.
    administrator: str


@dataclass(frozen=True)
class ServiceConfig:
    app_image: str
    app_port: int
    task_cpu: int
    task_memory: int
    min_tasks: int
    max_tasks: int
    cpu_target_percent: int
    requests_per_target: int
    seed_revision: int
    fargate_spot: bool


@dataclass(frozen=True)
class DomainConfig:
    domain_name: str
    hosted_zone_id: str

    @property
    def https(self) -> bool:
        return bool(self.domain_name)


@dataclass(frozen=True)
class MonitoringConfig:
    alarm_email: str
    alarms: AlarmThresholds


@dataclass(frozen=True)
class ImagesConfig:
    """Where tasks pull the app image from: Docker Hub directly, or through an ECR pull-through cache."""
    docker_hub_credentials_secret_arn: str

    @property
    def pull_through_cache(self) -> bool:
        return bool(self.docker_hub_credentials_secret_arn)


@dataclass(frozen=True)
class ReleaseConfig:
    """How a new revision reaches users, and the alarms that roll it back (infra/release.py)."""
    strategy: str
    canary_percent: float
    canary_bake_minutes: int
    bake_minutes: int
    rollback_5xx_count: int
    rollback_response_time_ms: int

    @property
    def canary(self) -> bool:
        return self.strategy == "CANARY"


@dataclass(frozen=True)
class EdgeConfig:
    """What guards the load balancer: WAF and its access logs (infra/edge.py)."""
    waf: bool
    waf_rate_limit: int
    waf_blocked_alarm_count: int
    alb_access_logs: bool
    alb_access_log_days: int


@dataclass(frozen=True)
class AppConfig:
    """One frozen section per concern; each component receives only its own.

    A layer reads only its own sections (LAYER_SECTIONS); asking for another raises.
    """
    stack: StackSettings
    layers: LayerConfig
    sections: Mapping[str, Any]
    # Keys set for this stack that its layer does not read (they have no effect here).
    unused_keys: tuple[str, ...] = ()

    def _section(self, name: str) -> Any:
        if name not in self.sections:
            raise KeyError(f"the {self.layers.layer} layer reads no {name} settings")
        return self.sections[name]

    @property
    def network(self) -> NetworkConfig:
        return self._section("network")

    @property
    def database(self) -> DatabaseConfig:
        return self._section("database")

    @property
    def service(self) -> ServiceConfig:
        return self._section("service")

    @property
    def domain(self) -> DomainConfig:
        return self._section("domain")

    @property
    def monitoring(self) -> MonitoringConfig:
        return self._section("monitoring")

    @property
    def images(self) -> ImagesConfig:
        return self._section("images")

    @property
    def keys(self) -> KeysConfig:
        return self._section("keys")

    @property
    def release(self) -> ReleaseConfig:
        return self._section("release")

    @property
    def edge(self) -> EdgeConfig:
        return self._section("edge")


class ConfigError(pulumi.RunError):
    """Raised with every invalid setting listed; RunError prints without a traceback."""


# -- the project's declared keys ----------------------------------------------------------------

def declared_keys(project_file: Path = PROJECT_FILE) -> dict[str, dict[str, Any]]:
    """The `config:` block of Pulumi.yaml: every key this project reads, with type and default."""
    # libyaml's loader when PyYAML has it (its wheels do): the pure-Python one is ten times slower.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    declared = yaml.load(project_file.read_text(), Loader=loader).get("config") or {}  # noqa: S506 - a safe loader
    return {key: spec if isinstance(spec, dict) else {"default": spec} for key, spec in declared.items()}


def _undeclared_key_errors(values: Mapping[str, str], declared: Mapping[str, Any]) -> list[str]:
    """The CLI passes undeclared keys of the project's own namespace straight through: refuse them."""
    errors = []
    lowered = {name.lower(): name for name in declared}
    for full in sorted(values):
        namespace, _, name = full.partition(":")
        if namespace != NAMESPACE or name in declared:
            continue
        close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
        hint = f"; did you mean `{NAMESPACE}:{lowered[close[0]]}`?" if close else ""
        errors.append(f"{full} is not a setting this project declares in Pulumi.yaml{hint}")
    return errors


def runtime_config() -> dict[str, str]:
    """Every config value the engine handed this program (declared defaults already filled in).

    `pulumi.Config` can only read a key it is asked for; finding undeclared keys needs the whole
    map, which the language host passes in `PULUMI_CONFIG` (or `set_all_config` under mocks).
    """
    merged = {**runtime_config_store.get_config_env(), **runtime_config_store.CONFIG.get()}
    # Older CLIs spell keys `tca:config:azCount`.
    return {key.replace(":config:", ":", 1): str(value) for key, value in merged.items()}


# -- parsing ------------------------------------------------------------------------------------

class _Reader:
    """Parses raw config strings, recording one message per bad key instead of stopping."""

    def __init__(self, values: Mapping[str, str], declared: Mapping[str, Any], stack: str):
        self._values = values
        self._declared = declared
        self._stack = stack
        self.errors: list[str] = []
        # Every key a parser looked at: the rest are another layer's (or unset).
        self.read: set[str] = set()

    @staticmethod
    def key(name: str) -> str:
        return f"{NAMESPACE}:{name}"

    def raw(self, name: str) -> str | None:
        self.read.add(name)
        return self._values.get(self.key(name))

    def peek(self, name: str) -> str | None:
        """The value, without counting the key as used by this stack's layer."""
        return self._values.get(self.key(name))

    def fail(self, name: str, value: object, allowed: str) -> None:
        self.errors.append(f"{self.key(name)} = {str(value)!r}: {allowed}")

    def _missing(self, name: str, allowed: str) -> None:
        why = ""
        if name in self._declared and "default" not in self._declared[name]:
            why = (f" (Pulumi.{self._stack}.yaml must set it: it has no default because the right value "
                   "differs between stacks)")
        self.errors.append(f"{self.key(name)} is not set{why}: {allowed}")

    def _parse(self, name: str, allowed: str, parse: Callable[[str], _T]) -> _T | None:
        value = self.raw(name)
        if value is None or value.strip() == "":
            self._missing(name, allowed)
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

    def one_of(self, name: str, choices: tuple[Any, ...], allowed: str | None = None) -> Any:
        """A whole number or word from a fixed list (retention days, strategies, intervals)."""
        allowed = allowed or f"must be one of {', '.join(map(str, choices))}"
        parse: Callable[[str], Any] = _strict_int if isinstance(choices[0], int) else str
        value = self._parse(name, allowed, parse)
        if value is not None and value not in choices:
            self.fail(name, value, allowed)
            return None
        return value

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
        value = (self.raw(name) or "").strip()
        if value and not re.fullmatch(pattern, value):
            self.fail(name, value, allowed)
            return None
        return value

    def decimal(self, name: str, low: float, high: float, step: float, allowed: str) -> float | None:
        """A number from low to high in multiples of step (ECS's canary percent)."""
        number = self._parse(name, allowed, _strict_float)
        if number is None:
            return None
        steps = round(number / step)
        if not low <= number <= high or not math.isclose(steps * step, number, abs_tol=1e-9):
            self.fail(name, self.raw(name), allowed)
            return None
        return round(steps * step, 10)


def _strict_float(text: str) -> float:
    if not re.fullmatch(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", text):
        raise ValueError(text)
    return float(text)


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


def _validate_vpc_cidr(r: _Reader, az_count: int | None) -> tuple[str | None, tuple, tuple]:
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


_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d")


def _names_resources(name: str) -> bool:
    return bool(re.fullmatch(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?", name)) and "--" not in name \
        and len(f"{NAMESPACE}-{name}") <= MAX_NAME_PREFIX


def _stack_settings(r: _Reader, stack: str, region: str | None, profile: str, layer: str | None) -> dict[str, Any]:
    rule = (f"must be lowercase letters, digits and single hyphens, at most {MAX_NAME_PREFIX - len(NAMESPACE) - 1} "
            "characters, because it names the load balancer")
    if not _names_resources(stack):
        r.errors.append(f"stack name {stack!r}: {rule}")
    deployment = (r.raw("deploymentName") or "").strip()
    one_layer = layer is not None and layer != "all"
    if deployment and not _names_resources(deployment):
        r.fail("deploymentName", deployment, rule + ("" if one_layer else " (or empty: the stack's name)"))
        deployment = ""
    elif one_layer and not deployment:
        # Named after its own stack, a layer's roles would carry a boundary that admits only that stack's
        # secrets and keys, so the app could not read the database stack's secret.
        r.errors.append(
            f"tca:deploymentName is not set: the {layer} layer is one layer of a deployment, and the layers of one "
            "deployment share its name prefix (tca-<deploymentName>), its roles' permissions boundary and its "
            "deployer; set it to the same name in the network, database and app stacks")
    if not region or not _REGION.fullmatch(region):
        r.errors.append(f"aws:region = {region!r}: must be an AWS region such as ap-southeast-2")
    return dict(
        stack=stack,
        deployment=deployment,
        region=region,
        # The seed provider calls ECS with the deployer's credentials; empty means the default chain.
        aws_profile=profile,
        deletion_protection=r.boolean("deletionProtection"),
        log_retention_days=r.one_of("logRetentionDays", LOG_RETENTION_DAYS),
    )


def _layers(r: _Reader) -> dict[str, Any]:
    layer = (r.raw("layer") or "all").strip()
    if layer not in LAYERS:
        r.fail("layer", layer, f"must be one of {', '.join(LAYERS)} (all: one stack holds everything)")
        return dict(layer=None, network_stack="", database_stack="")
    names: dict[str, str] = {}
    for key, needed in (("networkStack", "the network layer's stack"), ("databaseStack", "the database layer's stack")):
        used = key in LAYER_REFERENCES[layer]
        # Checked wherever it is set; only the layers that reference the stack count it as read (else a warning).
        value = ((r.raw(key) if used else r.peek(key)) or "").strip()
        if value and not re.fullmatch(_STACK_REFERENCE, value):
            r.fail(key, value, "must name a stack as organization/project/stack")
        elif used and not value:
            r.errors.append(f"tca:{key} is not set: the {layer} layer reads {needed} through a stack reference; "
                            "set it to that stack's name, organization/project/stack")
        elif used:
            names[key] = value
    return dict(layer=layer, network_stack=names.get("networkStack", ""),
                database_stack=names.get("databaseStack", ""))


def _subnet_list(r: _Reader, key: str, az_count: int | None) -> tuple[str, ...] | None:
    """A JSON list of subnet IDs, one per AZ; () when unset."""
    raw = (r.raw(key) or "").strip()
    allowed = (f"must be a JSON list of {az_count or 'tca:azCount'} subnet IDs (subnet-0123456789abcdef0), "
               "one per availability zone")
    try:
        ids = json.loads(raw) if raw else []
    except ValueError:
        ids = None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        r.fail(key, raw, allowed)
        return None
    bad = [i for i in ids if not re.fullmatch(_SUBNET_ID, i)]
    if bad:
        r.fail(key, raw, f"{allowed}; not a subnet ID: {', '.join(bad)}")
        return None
    if len(set(ids)) != len(ids):
        r.fail(key, raw, f"{allowed}; a subnet is listed twice")
        return None
    if ids and az_count is not None and len(ids) != az_count:
        r.fail(key, raw, f"{allowed}; it lists {len(ids)}, and tca:azCount is {az_count}")
        return None
    return tuple(ids)


# Answers "can this stack put its load balancer, tasks and database in these subnets of this VPC?":
# (key, value, reason) for each problem found.
VpcCheck = Callable[[str, tuple[str, ...], tuple[str, ...]], list[tuple[str, str, str]]]


def _existing_vpc(r: _Reader, az_count: int | None, check: VpcCheck | None) -> dict[str, Any] | None:
    """tca:vpcId and its subnets, validated; None when the stack creates its own VPC."""
    vpc_id = r.optional_text("vpcId", _VPC_ID, "must be a VPC ID such as vpc-0123456789abcdef0, or empty "
                                               "to create the VPC")
    public = _subnet_list(r, "publicSubnetIds", az_count)
    private = _subnet_list(r, "privateSubnetIds", az_count)
    if vpc_id == "":
        listed = [f"tca:{k}" for k, v in (("publicSubnetIds", public), ("privateSubnetIds", private)) if v]
        if listed:
            r.errors.append(f"{' and '.join(listed)} name subnets of an existing VPC: set tca:vpcId too "
                            "(or remove them to create the VPC)")
        return None if public is not None and private is not None and not listed else dict(vpc_id=None)
    if vpc_id is None:
        return dict(vpc_id=None)
    for key, ids in (("publicSubnetIds", public), ("privateSubnetIds", private)):
        if ids == ():
            r.errors.append(f"tca:{key} is not set: with tca:vpcId the stack creates no subnets, so it needs "
                            f"{az_count or 'tca:azCount'} existing ones, one per availability zone, as a JSON list")
    if not public or not private:
        return dict(vpc_id=None)
    if set(public) & set(private):
        r.fail("privateSubnetIds", json.dumps(list(private)), "must not list a subnet of tca:publicSubnetIds")
        return dict(vpc_id=None)
    for key, value, reason in (check(vpc_id, public, private) if check is not None else []):
        r.fail(key, value, reason)
    return dict(vpc_id=vpc_id, public_subnet_ids=public, private_subnet_ids=private)


def _network(r: _Reader, check: VpcCheck | None) -> dict[str, Any]:
    az_count = r.integer("azCount", 2, 6)
    shape = dict(
        # The hops of the only open path (infra/network.py); the service and database read the same keys.
        app_port=_app_port(r),
        proxy=r.boolean("dbProxy"),
    )
    existing = _existing_vpc(r, az_count, check)
    if existing is not None:
        # Nothing of the VPC is created, so its CIDR and NAT settings are not read (a warning names them).
        return dict(az_count=az_count, vpc_cidr="", nat_gateways="", private_subnet_cidrs=(), public_subnet_cidrs=(),
                    **shape, **existing)
    vpc_cidr, private_cidrs, public_cidrs = _validate_vpc_cidr(r, az_count)
    nat = r.text("natGateways", r".*", "must be Single or OnePerAz")
    if nat is not None and nat not in NAT_STRATEGIES:
        hint = " (None is refused: tasks in private subnets need a NAT gateway to pull the image)" \
            if nat.lower() == "none" else ""
        r.fail("natGateways", nat, "must be Single or OnePerAz" + hint)
        nat = None
    return dict(az_count=az_count, vpc_cidr=vpc_cidr, nat_gateways=nat,
                private_subnet_cidrs=private_cidrs, public_subnet_cidrs=public_cidrs, **shape)


def _app_port(r: _Reader) -> int | None:
    # The app runs as a non-root user with every capability dropped (ECS.5), so it cannot
    # bind a privileged port below 1024.
    return r.integer("appPort", 1024, 65535,
                     "must be a whole number from 1024 to 65535 (the app runs as a non-root user, "
                     "which cannot bind ports below 1024)")


_NO_ROUTE_TABLE = "query returned no results"  # the provider's error when no route table matches
# The provider's words when a lookup found nothing ("no matching EC2 VPC found"); any other failure, such as
# AccessDenied, is reported with the provider's message.
_NOT_FOUND = "no matching EC2"


class _LookupFailed(Exception):
    """An EC2 lookup failed for another reason than "not found"; the text is the provider's message."""


def _route_table(vpc_id: str, subnet_id: str) -> Any:
    """The subnet's route table: its explicit association, else the VPC's main route table.

    The lookup by subnet filters on `association.subnet-id`, which only explicit associations carry.
    """
    try:
        return aws.ec2.get_route_table(subnet_id=subnet_id)
    except Exception as exc:
        if _NO_ROUTE_TABLE not in str(exc):
            raise _LookupFailed(str(exc)) from exc
    try:
        return aws.ec2.get_route_table(vpc_id=vpc_id, filters=[
            aws.ec2.GetRouteTableFilterArgs(name="association.main", values=["true"])])
    except Exception as exc:
        raise _LookupFailed(str(exc)) from exc


def _default_route(table: Any) -> Any:
    return next((route for route in table.routes if route.cidr_block == "0.0.0.0/0"), None)


# Default-route targets as the route-table lookup reports them, to name them in messages (a
# Gateway Load Balancer or firewall endpoint, gateway ID vpce-..., arrives as vpc_endpoint_id).
_TARGETS = (("nat_gateway_id", "NAT gateway"), ("transit_gateway_id", "transit gateway"),
                  ("core_network_arn", "core network"), ("instance_id", "instance"),
                  ("network_interface_id", "network interface"),
                  ("vpc_endpoint_id", "VPC endpoint"), ("vpc_peering_connection_id", "peering connection"),
                  ("local_gateway_id", "local gateway"), ("carrier_gateway_id", "carrier gateway"),
                  ("gateway_id", "gateway"))
_UNVERIFIED = ("reaching Docker Hub, Secrets Manager and CloudWatch Logs through it is not verified; tasks pull "
               "the image, read the database secret and write logs that way")


def _route_target(route: Any) -> str:
    """The default route's target, described, for a route not to an internet gateway."""
    return next((f"{kind} {getattr(route, field)}" for field, kind in _TARGETS if getattr(route, field, "")),
                "an unknown target")


def _egress_problem(key: str, subnet_id: str, route: Any) -> str | None:
    """Why the subnet's default route cannot carry its traffic, or None; warns about a target not verified."""
    if route is None:
        return ("has no default route (0.0.0.0/0); " + (
            "the internet-facing load balancer goes in these subnets" if key == "publicSubnetIds"
            else "tasks pull the image and read the database secret through it"))
    to_internet_gateway = (route.gateway_id or "").startswith("igw-")
    if key == "publicSubnetIds":
        if to_internet_gateway:
            return None
        if route.vpc_endpoint_id:
            # An inspection endpoint in front of the internet gateway (AWS Network Firewall, Gateway Load Balancer).
            pulumi.log.warn(f"tca:{key}: {subnet_id} routes 0.0.0.0/0 to VPC endpoint {route.vpc_endpoint_id}, "
                            "not to an internet gateway; that the internet-facing load balancer is reached through "
                            "it is not verified")
            return None
        return (f"routes 0.0.0.0/0 to {_route_target(route)}, not to an internet gateway (or a firewall endpoint "
                "in front of one); the internet-facing load balancer goes in these subnets")
    if to_internet_gateway:
        return (f"routes 0.0.0.0/0 to internet gateway {route.gateway_id}, so it is a public subnet; tasks and the "
                "database go in private subnets, with a default route to a NAT gateway, transit gateway or "
                "firewall endpoint")
    if not route.nat_gateway_id:
        pulumi.log.warn(f"tca:{key}: {subnet_id} routes 0.0.0.0/0 to {_route_target(route)}, not to a NAT gateway; "
                        + _UNVERIFIED)
    return None


def vpc_subnets_usable(vpc_id: str, public: tuple[str, ...], private: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """Ask EC2 (during preview, before anything exists) whether the given subnets can carry this stack.

    Each subnet must be in the VPC, in an AZ of its own. Public ones route 0.0.0.0/0 to an internet gateway
    (the load balancer is internet-facing), or to a firewall endpoint in front of one. Private ones need a
    default route that is not to an internet gateway: tasks pull the image and read the database secret
    through it, and RDS Proxy reaches Secrets Manager the same way. A NAT gateway is known to work; central
    egress (transit gateway, Cloud WAN, NAT instance, firewall endpoint) passes with a warning. Every private
    subnet's AZ needs a public one: the load balancer only sends traffic to targets in its own AZs. A lookup
    that fails is reported under the key it was asked for, with the provider's message.
    """
    try:
        vpc = aws.ec2.get_vpc(id=vpc_id)
    except Exception as exc:  # noqa: BLE001 - invokes raise plain Exception; the text says why
        reason = "no such VPC in the stack's region" if _NOT_FOUND in str(exc) else "could not be read"
        return [("vpcId", vpc_id, f"{reason} ({exc})")]
    problems: list[tuple[str, str, str]] = []
    if not vpc.enable_dns_support:
        # Without the Amazon-provided resolver, tasks cannot look up the registry, Secrets Manager or the database.
        problems.append(("vpcId", vpc_id, "has DNS resolution (enableDnsSupport) turned off; tasks find the image "
                                          "registry, Secrets Manager and the database by name through it"))
    zones: dict[str, dict[str, str]] = {"publicSubnetIds": {}, "privateSubnetIds": {}}
    for key, ids in (("publicSubnetIds", public), ("privateSubnetIds", private)):
        for subnet_id in ids:
            try:
                subnet = aws.ec2.get_subnet(id=subnet_id)
            except Exception as exc:  # noqa: BLE001
                reason = "no such subnet in the stack's region" if _NOT_FOUND in str(exc) else "could not be read"
                problems.append((key, subnet_id, f"{reason} ({exc})"))
                continue
            if subnet.vpc_id != vpc_id:
                problems.append((key, subnet_id, f"is in {subnet.vpc_id}, not in tca:vpcId ({vpc_id})"))
                continue
            zone = subnet.availability_zone
            if zone in zones[key]:
                problems.append((key, subnet_id, f"is in {zone} like {zones[key][zone]}: list one subnet per "
                                                 "availability zone"))
            zones[key][zone] = subnet_id
            try:
                table = _route_table(vpc_id, subnet_id)
            except _LookupFailed as exc:
                problems.append((key, subnet_id, f"its route table could not be read ({exc})"))
                continue
            problem = _egress_problem(key, subnet_id, _default_route(table))
            if problem is not None:
                problems.append((key, subnet_id, problem))
    for zone, subnet_id in zones["privateSubnetIds"].items():
        if zones["publicSubnetIds"] and zone not in zones["publicSubnetIds"]:
            problems.append(("privateSubnetIds", subnet_id, f"is in {zone}, where tca:publicSubnetIds has no subnet; "
                                                            "the load balancer reaches tasks only in its own zones"))
    return problems


# Answers "does RDS offer this class for this PostgreSQL major here?": None if yes, else the reason.
OfferedCheck = Callable[[str, int], str | None]

_NOT_ORDERABLE = "no RDS Orderable DB Instance"  # the provider's error when nothing matches


def rds_offers_instance_class(instance_class: str, major: int) -> str | None:
    """Ask RDS (during preview, before anything exists) whether the class can run this major here.

    Otherwise a typo such as db.t9.huge fails at CreateDBInstance, after the VPC and NAT gateways exist.
    """
    # The orderable lookup matches exact versions only; the engine-version lookup resolves a major.
    try:
        version = aws.rds.get_engine_version(engine="postgres", version=str(major), latest=True).version_actual
    except Exception as exc:  # noqa: BLE001 - invokes raise plain Exception; the text says why
        return f"RDS offers no PostgreSQL {major} in this region ({exc})"
    try:
        aws.rds.get_orderable_db_instance(engine="postgres", engine_version=version, instance_class=instance_class)
    except Exception as exc:
        if _NOT_ORDERABLE not in str(exc):
            raise
        return (f"RDS does not offer {instance_class} for PostgreSQL {version} in this region; list the classes "
                f"it does with: aws rds describe-orderable-db-instance-options --engine postgres "
                f"--engine-version {version} --query 'OrderableDBInstanceOptions[].DBInstanceClass'")
    return None


def _database(r: _Reader, offered: OfferedCheck | None) -> dict[str, Any]:
    pg_major = r.integer("dbEngineVersion", SUPPORTED_PG_MAJORS[0], SUPPORTED_PG_MAJORS[-1],
                         "must be a PostgreSQL major version in RDS standard support: "
                         + ", ".join(map(str, SUPPORTED_PG_MAJORS[:-1])) + f" or {SUPPORTED_PG_MAJORS[-1]}")
    instance_class = r.text("dbInstanceClass", r"db\.[a-z0-9-]+\.[a-z0-9]+",
                            "must be an RDS instance class such as db.t4g.micro")
    # gp3 storage on RDS for PostgreSQL: 20 GiB to 64 TiB.
    storage = r.integer("dbAllocatedStorage", 20, 65536)
    max_storage = r.integer("dbMaxAllocatedStorage", 22, 65536,
                            "must be a whole number of GiB at least 10% above tca:dbAllocatedStorage, at most 65536")
    # RDS: "You must set the maximum storage threshold to at least 10% more than the current
    # allocated storage"; a smaller ceiling passes here and fails at deploy otherwise.
    if storage is not None and max_storage is not None and max_storage * 10 < storage * 11:
        r.fail("dbMaxAllocatedStorage", max_storage,
               f"must be at least 10% above tca:dbAllocatedStorage ({storage}), so at least "
               f"{math.ceil(storage * 1.1)}, for RDS storage autoscaling")
        max_storage = None
    if offered is not None and pg_major is not None and instance_class is not None:
        problem = offered(instance_class, pg_major)
        if problem is not None:
            r.fail("dbInstanceClass", instance_class, problem)
            instance_class = None
    recovery_allowed = "must be 0 (delete at once) or from 7 to 30 days"
    recovery = r.integer("secretRecoveryDays", 0, 30, recovery_allowed)
    if recovery is not None and 0 < recovery < 7:
        r.fail("secretRecoveryDays", recovery, recovery_allowed)
        recovery = None
    maintenance, backup = _db_windows(r)
    return dict(
        maintenance_window=maintenance,
        backup_window=backup,
        engine_version=pg_major,
        instance_class=instance_class,
        allocated_storage=storage,
        max_allocated_storage=max_storage,
        multi_az=r.boolean("dbMultiAz"),
        backup_retention_days=r.integer("dbBackupRetentionDays", 0, 35),
        secret_recovery_days=recovery,
        proxy=r.boolean("dbProxy"),
        proxy_client_auth=r.one_of("dbProxyClientAuth", PROXY_CLIENT_AUTH,
                                   f"must be {' or '.join(PROXY_CLIENT_AUTH)}"),
        monitoring_interval_seconds=r.one_of(
            "dbMonitoringIntervalSeconds", DB_MONITORING_INTERVALS,
            "must be one of " + ", ".join(map(str, DB_MONITORING_INTERVALS))
            + " (seconds between RDS Enhanced Monitoring samples; 0 turns it off)"),
        slow_statement_ms=_slow_statement_ms(r),
    )


def _db_windows(r: _Reader) -> tuple[str | None, str | None]:
    allowed_maintenance = ("must be ddd:hh24:mi-ddd:hh24:mi in UTC with lowercase days (mon..sun), "
                           f"at least {MIN_WINDOW_MINUTES} minutes long, such as sun:17:00-sun:18:00")
    allowed_backup = (f"must be hh24:mi-hh24:mi in UTC, at least {MIN_WINDOW_MINUTES} minutes long, "
                      "such as 15:00-16:00")
    maintenance = r.text("dbMaintenanceWindow", r".+", allowed_maintenance)
    backup = r.text("dbBackupWindow", r".+", allowed_backup)
    spans: dict[str, tuple[int, int]] = {}
    for key, value, parse, allowed in (("dbMaintenanceWindow", maintenance, maintenance_window_minutes,
                                        allowed_maintenance),
                                       ("dbBackupWindow", backup, backup_window_minutes, allowed_backup)):
        if value is None:
            continue
        try:
            spans[key] = parse(value)
        except ValueError:
            r.fail(key, value, allowed)
            continue
        if spans[key][1] < MIN_WINDOW_MINUTES:
            r.fail(key, value, allowed)
            del spans[key]
    if "dbMaintenanceWindow" not in spans or "dbBackupWindow" not in spans:
        return (maintenance if "dbMaintenanceWindow" in spans else None,
                backup if "dbBackupWindow" in spans else None)
    if windows_conflict(spans["dbMaintenanceWindow"], spans["dbBackupWindow"]):
        r.fail("dbBackupWindow", backup,
               f"must not overlap tca:dbMaintenanceWindow ({maintenance}) on any day; RDS refuses "
               "conflicting windows")
        return maintenance, None
    return maintenance, backup
def _slow_statement_ms(r: _Reader) -> int | None:
    allowed = (f"must be -1 (off) or a whole number of milliseconds from 1 to {SLOW_STATEMENT_MAX_MS} "
               "(0 would log every statement with the data users typed)")
    value = r.integer("dbSlowStatementMs", -1, SLOW_STATEMENT_MAX_MS, allowed)
    if value == 0:
        r.fail("dbSlowStatementMs", value, allowed)
        return None
    return value


def _keys(r: _Reader, recovery: int | None) -> dict[str, Any]:
    """`recovery` is the validated tca:secretRecoveryDays (None when it was refused: one bad key, one error)."""
    low, high = KEY_DELETION_WINDOW_DAYS
    window = r.integer("keyDeletionWindowDays", low, high,
                       f"must be a whole number of days from {low} to {high} (the window KMS allows)")
    # A secret restored inside its recovery window is useless if its key is already gone.
    if window is not None and recovery is not None and window < recovery:
        r.fail("keyDeletionWindowDays", window,
               f"must be at least tca:secretRecoveryDays ({recovery}): a secret restored after its "
               "key is deleted cannot be decrypted")
        window = None
    # KMS refuses a key policy that names a principal which does not exist (MalformedPolicyDocumentException),
    # so the administrator is the stack file's choice, not derived from the stack name: a try-out stack with
    # no deployer role of its own leaves it empty. IAM names: letters, digits and +=,.@_- (paths add "/").
    administrator = r.optional_text(
        "keyAdministrator", KEY_ADMINISTRATOR_PATTERN,
        "must be role/NAME or user/NAME (an IAM role or user of the stack's account, optionally with a path, "
        "such as role/github-tca-dev-deployer), or empty to leave key administration to IAM administrators")
    return dict(deletion_window_days=window, administrator=administrator)


def _service(r: _Reader) -> dict[str, Any]:
    cpu = r.one_of("taskCpu", FARGATE_CPU_SIZES)
    memory = r.integer("taskMemory", 512, 122880, "must be a Fargate memory size in MiB")
    if cpu is not None and memory is not None and memory not in fargate_memory_choices(cpu):
        r.fail("taskMemory", memory,
               f"is not a valid Fargate size with tca:taskCpu = {cpu}; allowed: "
               f"{', '.join(map(str, fargate_memory_choices(cpu)))}")
        memory = None
    # 100 is a sanity bound, far below ECS's per-service limit, that catches typos.
    min_tasks = r.integer("minTasks", 1, 100)
    max_tasks = r.integer("maxTasks", 1, 100)
    if min_tasks is not None and max_tasks is not None and max_tasks < min_tasks:
        r.fail("maxTasks", max_tasks, f"must be at least tca:minTasks ({min_tasks})")
        max_tasks = None
    return dict(
        app_image=r.text("appImage", _IMAGE_PATTERN,
                         "must be a container image reference such as servian/techchallengeapp:0.11.0"),
        app_port=_app_port(r),
        task_cpu=cpu,
        task_memory=memory,
        min_tasks=min_tasks,
        max_tasks=max_tasks,
        cpu_target_percent=r.integer("cpuTargetPercent", 1, 100),
        requests_per_target=r.integer("requestsPerTarget", 1, 1_000_000),
        # Raising it re-runs `updatedb -s`, which erases every task; a bound keeps typos visible.
        seed_revision=r.integer("seedRevision", 1, 1_000_000),
        fargate_spot=r.boolean("fargateSpot"),
    )


def _release(r: _Reader) -> dict[str, Any]:
    bake = f"must be a whole number of minutes from 0 to {MAX_BAKE_MINUTES} (ECS's bake time range)"
    return dict(
        strategy=r.one_of("deploymentStrategy", DEPLOYMENT_STRATEGIES,
                          f"must be {' or '.join(DEPLOYMENT_STRATEGIES)} (the ECS deployment strategy)"),
        canary_percent=r.decimal("canaryPercent", 0.1, 100.0, 0.1,
                                 "must be a multiple of 0.1 from 0.1 to 100 (ECS canaryPercent)"),
        canary_bake_minutes=r.integer("canaryBakeMinutes", 0, MAX_BAKE_MINUTES, bake),
        bake_minutes=r.integer("deploymentBakeMinutes", 0, MAX_BAKE_MINUTES, bake),
        rollback_5xx_count=r.integer("rollback5xxCount", 1, 100_000),
        rollback_response_time_ms=r.integer("rollbackResponseTimeMs", 10, 60_000),
    )


def _edge(r: _Reader) -> dict[str, Any]:
    low, high = WAF_RATE_LIMIT_RANGE
    return dict(
        waf=r.boolean("waf"),
        waf_rate_limit=r.integer("wafRateLimit", low, high,
                                 f"must be a whole number of requests per 5 minutes from {low} "
                                 f"(AWS WAF's minimum rate limit) to {high:,}"),
        waf_blocked_alarm_count=r.integer("alarmWafBlockedCount", 1, 10_000_000),
        alb_access_logs=r.boolean("albAccessLogs"),
        # S3 lifecycle expiration takes a positive number of days; 10 years is a sanity bound.
        alb_access_log_days=r.integer("albAccessLogDays", 1, 3650),
    )


def _domain(r: _Reader) -> dict[str, Any]:
    domain = r.optional_text("domainName", _DOMAIN, "must be a DNS name such as todo.example.com, or empty")
    zone = r.optional_text("hostedZoneId", _ZONE_ID, "must be a Route 53 hosted zone ID such as Z0123456789ABC")
    if domain is not None and zone is not None and bool(domain) != bool(zone):
        missing = "tca:hostedZoneId" if domain else "tca:domainName"
        r.errors.append(f"tca:domainName and tca:hostedZoneId go together for HTTPS: {missing} is not set "
                        "(set both, or neither for HTTP only)")
    return dict(domain_name=domain, hosted_zone_id=zone)


def _monitoring(r: _Reader) -> dict[str, Any]:
    return dict(
        alarm_email=r.optional_text("alarmEmail", _EMAIL, "must be an email address, or empty for no subscription"),
        alarms={field: r.integer(key, low, high) for key, field, low, high in ALARM_KEYS},
    )


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


def _unset(section: str, values: Mapping[str, Any]) -> list[str]:
    found = []
    for key, value in values.items():
        if isinstance(value, dict):
            found += _unset(f"{section}.{key}", value)
        elif value is None:
            found.append(f"{section}.{key}")
    return found


def _same_as_default(value: str, spec: Mapping[str, Any]) -> bool:
    if "default" not in spec:
        return False
    default = spec["default"]
    # The engine passes booleans as "true"/"false".
    return value.strip() == (str(default).lower() if isinstance(default, bool) else str(default))


def _unused_keys(values: Mapping[str, str], declared: Mapping[str, Any], read: set[str]) -> tuple[str, ...]:
    """Declared keys this stack sets (other than to their default) that its layer never read."""
    return tuple(sorted(
        full for full, value in values.items()
        if full.partition(":")[0] == NAMESPACE and (name := full.partition(":")[2]) in declared
        and name not in read and not _same_as_default(value, declared[name])))


_SECTION_TYPES: dict[str, type] = {
    "network": NetworkConfig, "database": DatabaseConfig, "service": ServiceConfig, "domain": DomainConfig,
    "monitoring": MonitoringConfig, "images": ImagesConfig, "keys": KeysConfig, "release": ReleaseConfig,
    "edge": EdgeConfig,
}


def load_config(stack: str | None = None, values: Mapping[str, str] | None = None,
                project_file: Path = PROJECT_FILE, offered: OfferedCheck = rds_offers_instance_class,
                vpc_check: VpcCheck = vpc_subnets_usable) -> AppConfig:
    """Read and validate the `tca:` keys this stack's layer uses; raise ConfigError naming each bad, unknown or
    missing one, and warn about keys set here that only other layers use.

    `values` is the whole config map as the engine passes it (`tca:azCount` -> "2", declared
    defaults filled in); by default it is read from the running program. `offered` asks AWS whether
    the database class exists for the engine, `vpc_check` whether an existing VPC's subnets can carry the
    stack; each is asked only when every static check before it passed.
    """
    stack = stack if stack is not None else pulumi.get_stack()
    values = dict(values) if values is not None else runtime_config()
    declared = declared_keys(project_file)
    r = _Reader(values, declared, stack)
    r.errors += _undeclared_key_errors(values, declared)
    # The lookups run in the stack's region, so they are only worth asking in a valid one.
    in_region = bool(_REGION.fullmatch(values.get("aws:region") or ""))

    layers = _layers(r)
    uses = LAYER_SECTIONS.get(layers["layer"], ())
    sections: dict[str, dict[str, Any]] = {
        "stack": _stack_settings(r, stack, values.get("aws:region"), values.get("aws:profile") or "",
                                 layers["layer"]),
    }
    if "network" in uses:
        sections["network"] = _network(r, vpc_check if in_region else None)
    if "database" in uses:
        sections["database"] = _database(r, offered if in_region else None)
    parsers: dict[str, Callable[[], dict[str, Any]]] = {
        "service": lambda: _service(r),
        "domain": lambda: _domain(r),
        "monitoring": lambda: _monitoring(r),
        "images": lambda: _images(r, values.get("aws:region")),
        "keys": lambda: _keys(r, sections["database"]["secret_recovery_days"] if "database" in sections else None),
        "release": lambda: _release(r),
        "edge": lambda: _edge(r),
    }
    # A network layer in an existing VPC creates no log group, so it has no key to configure.
    skip_keys = layers["layer"] == "network" and bool(sections["network"].get("vpc_id"))
    for name, parse in parsers.items():
        if name in uses and not (name == "keys" and skip_keys):
            sections[name] = parse()

    # Keys read by two sections (the path's port and proxy) report a bad value once.
    errors = list(dict.fromkeys(r.errors))
    if errors:
        raise ConfigError(
            f"Invalid configuration for stack {stack!r}; nothing was created. Fix these settings:\n  - "
            + "\n  - ".join(errors))
    # Every parser either returned a value or recorded an error, so nothing here is None.
    unset = [name for section, fields in sections.items() for name in _unset(section, fields)]
    assert not unset, f"config parsed to None without an error: {unset}"
    unused = _unused_keys(values, declared, r.read)
    if unused and layers["layer"] != "all":
        pulumi.log.warn(f"the {layers['layer']} layer does not use {', '.join(unused)} (other layers read them), "
                        f"so setting them in stack {stack!r} has no effect; remove them from Pulumi.{stack}.yaml")
    elif unused:
        pulumi.log.warn(f"stack {stack!r} does not use {', '.join(unused)} with its other settings, so setting them "
                        f"has no effect; remove them from Pulumi.{stack}.yaml")
    built: dict[str, Any] = {}
    for name, fields in sections.items():
        if name == "stack":
            continue
        extra = {"alarms": AlarmThresholds(**fields["alarms"])} if name == "monitoring" else {}
        built[name] = _SECTION_TYPES[name](**{**fields, **extra})
    return AppConfig(stack=StackSettings(**sections["stack"]), layers=LayerConfig(**layers), sections=built,
                     unused_keys=unused)

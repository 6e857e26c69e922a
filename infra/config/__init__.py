"""Every stack setting, read once and validated before any resource exists.

`load_config()` collects every problem before it fails, so a user fixes a stack file in one pass.
The result is one frozen section per concern (network, database, service, ...); each component
receives the shared `StackSettings` and its own section, and never reads Pulumi config itself.

`Pulumi.yaml` is the list of keys: a `tca:` key it does not declare is a typo and is refused, and
a declared key without a default must be set by every stack file (no silent fallback to dev).

Each concern's section and its parser live in a module of their own; this package exposes them as one API.
"""

from infra.config.app import AppConfig
from infra.config.database import (
    DB_MONITORING_INTERVALS,
    MIN_WINDOW_MINUTES,
    MINUTES_PER_DAY,
    MINUTES_PER_WEEK,
    PROXY_CLIENT_AUTH,
    SLOW_STATEMENT_MAX_MS,
    SUPPORTED_PG_MAJORS,
    WEEKDAYS,
    DatabaseConfig,
    OfferedCheck,
    backup_window_minutes,
    maintenance_window_minutes,
    rds_offers_instance_class,
    windows_conflict,
)
from infra.config.declared import PROJECT_FILE, declared_keys, runtime_config
from infra.config.domain import DomainConfig
from infra.config.edge import WAF_RATE_LIMIT_RANGE, EdgeConfig
from infra.config.images import PULL_THROUGH_CACHE_SECRET_PREFIX, ImagesConfig
from infra.config.keys import KEY_ADMINISTRATOR_PATTERN, KEY_DELETION_WINDOW_DAYS, KeysConfig
from infra.config.layers import LAYER_REFERENCES, LAYER_SECTIONS, LAYERS, LayerConfig
from infra.config.load import load_config
from infra.config.monitoring import ALARM_KEYS, AlarmThresholds, MonitoringConfig
from infra.config.network import NAT_STRATEGIES, NetworkConfig, VpcCheck, subnet_layout
from infra.config.reader import NAMESPACE, ConfigError
from infra.config.release import DEPLOYMENT_STRATEGIES, MAX_BAKE_MINUTES, ReleaseConfig
from infra.config.rotation import (
    MAX_ROTATION_DAYS,
    MIN_ROTATION_DAYS,
    ROTATION_WINDOW_HOURS,
    RotationConfig,
    deployment_minutes,
    rotation_period_allowed,
)
from infra.config.service import FARGATE_CPU_SIZES, ServiceConfig, fargate_memory_choices
from infra.config.stack import LOG_RETENTION_DAYS, MAX_NAME_PREFIX, StackSettings
from infra.config.vpc_lookup import _egress_problem, vpc_subnets_usable

__all__ = [
    "ALARM_KEYS",
    "DB_MONITORING_INTERVALS",
    "DEPLOYMENT_STRATEGIES",
    "FARGATE_CPU_SIZES",
    "KEY_ADMINISTRATOR_PATTERN",
    "KEY_DELETION_WINDOW_DAYS",
    "LAYERS",
    "LAYER_REFERENCES",
    "LAYER_SECTIONS",
    "LOG_RETENTION_DAYS",
    "MAX_BAKE_MINUTES",
    "MAX_NAME_PREFIX",
    "MAX_ROTATION_DAYS",
    "MINUTES_PER_DAY",
    "MINUTES_PER_WEEK",
    "MIN_ROTATION_DAYS",
    "MIN_WINDOW_MINUTES",
    "NAMESPACE",
    "NAT_STRATEGIES",
    "PROJECT_FILE",
    "PROXY_CLIENT_AUTH",
    "PULL_THROUGH_CACHE_SECRET_PREFIX",
    "ROTATION_WINDOW_HOURS",
    "SLOW_STATEMENT_MAX_MS",
    "SUPPORTED_PG_MAJORS",
    "WAF_RATE_LIMIT_RANGE",
    "WEEKDAYS",
    "AlarmThresholds",
    "AppConfig",
    "ConfigError",
    "DatabaseConfig",
    "DomainConfig",
    "EdgeConfig",
    "ImagesConfig",
    "KeysConfig",
    "LayerConfig",
    "MonitoringConfig",
    "NetworkConfig",
    "OfferedCheck",
    "ReleaseConfig",
    "RotationConfig",
    "ServiceConfig",
    "StackSettings",
    "VpcCheck",
    "_egress_problem",
    "backup_window_minutes",
    "declared_keys",
    "deployment_minutes",
    "fargate_memory_choices",
    "load_config",
    "maintenance_window_minutes",
    "rds_offers_instance_class",
    "rotation_period_allowed",
    "runtime_config",
    "subnet_layout",
    "vpc_subnets_usable",
    "windows_conflict",
]

"""Alarm thresholds and the address alarms are sent to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.config.reader import _Reader


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


@dataclass(frozen=True)
class MonitoringConfig:
    alarm_email: str
    alarms: AlarmThresholds


def _monitoring(r: _Reader) -> dict[str, Any]:
    return dict(
        alarm_email=r.optional_text("alarmEmail", _EMAIL, "must be an email address, or empty for no subscription"),
        alarms={field: r.integer(key, low, high) for key, field, low, high in ALARM_KEYS},
    )

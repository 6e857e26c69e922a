"""The database settings: engine, class (checked with RDS), storage, proxy, maintenance and backup windows."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi_aws as aws

from infra.config.reader import _Reader

SUPPORTED_PG_MAJORS = (14, 15, 16, 17, 18)
# RDS Enhanced Monitoring: "Valid Values: 0 | 1 | 5 | 10 | 15 | 30 | 60" seconds (0 turns it off).
DB_MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
# log_min_duration_statement: -1 turns slow-statement logging off. 0 (log every statement) is
# refused: every request's statement, with the titles users typed, would land in the logs. Above
# 60 s nothing is learnt, because the app's HTTP server gives up on a request after 60 s.
SLOW_STATEMENT_MAX_MS = 60_000
# Client password authentication to RDS Proxy that lib/pq speaks (docs/database.md: the throughput trade-off).
PROXY_CLIENT_AUTH = ("POSTGRES_MD5", "POSTGRES_SCRAM_SHA_256")
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


@dataclass(frozen=True)
class DatabaseConfig:
    engine_version: int
    instance_class: str
    allocated_storage: int
    max_allocated_storage: int
    multi_az: bool
    backup_retention_days: int
    secret_recovery_days: int
    # RDS keeps the master password in its own secret and rotates it; false keeps the stack's generated one
    # (the first of the two deploys that move an existing stack off the master login).
    managed_master_password: bool
    proxy: bool
    proxy_client_auth: str
    maintenance_window: str
    backup_window: str
    monitoring_interval_seconds: int
    slow_statement_ms: int


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
        managed_master_password=r.boolean("dbManagedMasterPassword"),
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

"""How often the app's database credential is rotated, checked against how fast a release replaces every task."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.config.reader import _Reader

HOURS_PER_DAY = 24
# Secrets Manager rotates "at any time during this window"; a rate() schedule in days opens it at midnight UTC and
# "The window must not extend into the next rotation window or the next UTC day" (RotationRulesType, Duration).
ROTATION_WINDOW_HOURS = 4
# Besides both bake times: starting the new tasks, passing health checks, draining the old ones, and the
# scheduler's own delay before the daily forced deployment begins.
DEPLOYMENT_ALLOWANCE_MINUTES = 60
# Security Hub SecretsManager.4: a secret not rotated within 90 days (the control's default) fails.
MAX_ROTATION_DAYS = 90
# Alternating users: the first rotation only sets the clone's password, so one gap between rotations must pass
# before a task's user changes; a day is never enough with a daily redeployment.
MIN_ROTATION_DAYS = 2
# Every task is replaced once a day (infra/redeploy.py).
REDEPLOY_HOURS = 24


@dataclass(frozen=True)
class RotationConfig:
    """How often the app credential rotates (infra/rotation.py) and the window each rotation runs in."""
    days: int

    @property
    def schedule_expression(self) -> str:
        # Secrets Manager rate() takes "days" after any value of 2 or more.
        return f"rate({self.days} days)"

    @property
    def duration(self) -> str:
        return f"{ROTATION_WINDOW_HOURS}h"


def deployment_minutes(strategy: str, canary_bake_minutes: int, bake_minutes: int) -> int:
    """How long a forced deployment may take to replace every task: ECS bakes only a canary's two phases."""
    bakes = canary_bake_minutes + bake_minutes if strategy == "CANARY" else 0
    return bakes + DEPLOYMENT_ALLOWANCE_MINUTES


def shortest_rotation_gap_hours(days: int) -> int:
    """Two rotations `days` apart, the first at its window's end and the next at its window's start."""
    return HOURS_PER_DAY * days - ROTATION_WINDOW_HOURS


def rotation_period_allowed(days: int, deployment: int) -> bool:
    """A task that read the credential just before one rotation works until the next one changes its user:
    it must be replaced (at most a day old, plus a deployment of `deployment` minutes) before then."""
    return (MIN_ROTATION_DAYS <= days <= MAX_ROTATION_DAYS
            and shortest_rotation_gap_hours(days) * 60 > REDEPLOY_HOURS * 60 + deployment)


def _rotation(r: _Reader, release: Mapping[str, Any] | None) -> dict[str, Any]:
    """`release` is the parsed release section, or None in a stack that does not deploy the app (the database
    layer: its app layer's releases are not known here, so only the bounds apply)."""
    allowed = (f"must be a whole number of days from {MIN_ROTATION_DAYS} to {MAX_ROTATION_DAYS} (Security Hub "
               "SecretsManager.4 fails a secret not rotated within 90 days)")
    days = r.integer("rotationDays", MIN_ROTATION_DAYS, MAX_ROTATION_DAYS, allowed)
    if days is None or release is None:
        return dict(days=days)
    strategy, canary_bake, bake = release["strategy"], release["canary_bake_minutes"], release["bake_minutes"]
    if strategy is None or canary_bake is None or bake is None:
        # A refused release setting is reported once, under its own key.
        return dict(days=days)
    minutes = deployment_minutes(strategy, canary_bake, bake)
    if not rotation_period_allowed(days, minutes):
        # There is one: the longest bakes ECS allows (two days) need 4 days.
        fastest = next(n for n in range(MIN_ROTATION_DAYS, MAX_ROTATION_DAYS + 1)
                       if rotation_period_allowed(n, minutes))
        r.fail("rotationDays", days,
               f"must be from {fastest} to {MAX_ROTATION_DAYS} with these bake times: every task is replaced once "
               f"a day, and a deployment may take {minutes} min "
               f"(tca:canaryBakeMinutes and tca:deploymentBakeMinutes with {strategy}, plus "
               f"{DEPLOYMENT_ALLOWANCE_MINUTES} min to start and drain tasks); a task still logged in as the user a "
               "rotation just replaced must be gone before the next rotation changes that user's password, and two "
               f"rotations can be as little as {HOURS_PER_DAY} h x rotationDays - {ROTATION_WINDOW_HOURS} h (the "
               "rotation window) apart. Raise tca:rotationDays or shorten the bake times")
        days = None
    return dict(days=days)

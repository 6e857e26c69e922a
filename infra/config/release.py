"""How a new revision reaches users: the ECS deployment strategy, bake times and rollback alarms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.config.reader import _Reader

# ECS deployment strategies this program wires up (ECS also has BLUE_GREEN and LINEAR).
DEPLOYMENT_STRATEGIES = ("ROLLING", "CANARY")
# ECS API_CanaryConfiguration / DeploymentConfiguration: canaryPercent is a multiple of 0.1 from
# 0.1 to 100.0; canaryBakeTimeInMinutes and bakeTimeInMinutes are 0 to 1440 minutes.
MAX_BAKE_MINUTES = 1440


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

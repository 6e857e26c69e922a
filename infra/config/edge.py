"""What guards the load balancer: WAF and its access logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.config.reader import _Reader

# AWS WAF rate-based rules: "The lowest limit setting allowed is 10" (2,000,000,000 at most).
WAF_RATE_LIMIT_RANGE = (10, 2_000_000_000)


@dataclass(frozen=True)
class EdgeConfig:
    """What guards the load balancer: WAF and its access logs (infra/edge.py)."""
    waf: bool
    waf_rate_limit: int
    waf_blocked_alarm_count: int
    alb_access_logs: bool
    alb_access_log_days: int


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

"""The optional domain name and hosted zone that turn on HTTPS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.config.reader import _Reader

# A DNS name: labels of letters, digits and inner hyphens, at most 253 characters.
_DOMAIN = r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
_ZONE_ID = r"Z[A-Z0-9]{1,31}"


@dataclass(frozen=True)
class DomainConfig:
    domain_name: str
    hosted_zone_id: str

    @property
    def https(self) -> bool:
        return bool(self.domain_name)


def _domain(r: _Reader) -> dict[str, Any]:
    domain = r.optional_text("domainName", _DOMAIN, "must be a DNS name such as todo.example.com, or empty")
    zone = r.optional_text("hostedZoneId", _ZONE_ID, "must be a Route 53 hosted zone ID such as Z0123456789ABC")
    if domain is not None and zone is not None and bool(domain) != bool(zone):
        missing = "tca:hostedZoneId" if domain else "tca:domainName"
        r.errors.append(f"tca:domainName and tca:hostedZoneId go together for HTTPS: {missing} is not set "
                        "(set both, or neither for HTTP only)")
    return dict(domain_name=domain, hosted_zone_id=zone)

"""Load balancer and listeners (ELB.4, ELB.5, ELB.6, ELB.3, ELB.17), WAF and the /debug block."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource

from .engine import (
    UNKNOWN,
    _actions,
    _link_unknown,
    _must_be_true,
    _of_type,
    _points_to,
    at,
    elements,
    number,
    refs,
    text,
)
from .registry import REQUIRED_SWITCH, Config, Resources, Violations, resource_policy, stack_policy
from .resource_types import LISTENER_RULES, LISTENERS, LOAD_BALANCERS, WAF_ASSOCIATION

# Load balancer security policies that refuse TLS 1.0 and 1.1 (ELB "Security policies for your
# Application Load Balancer": the TLS13-1-2/1-3, TLS-1-2 and FS-1-2 families, FIPS and PQ variants).
TLS12_POLICY = re.compile(r"ELBSecurityPolicy-(?:TLS13-1-[23]|TLS-1-2|FS-1-2)(?:-.*)?")
# The app's HTTP server closes idle keep-alive connections after 60 s; the ALB must give up first.
APP_IDLE_SECONDS = 60
DEBUG_PATHS = ("/debug", "/debug/*")


def _application(props: Any) -> bool:
    return at(props, "loadBalancerType") in (None, "application", UNKNOWN)


@resource_policy("alb-drop-invalid-headers", "The load balancer drops invalid HTTP headers (ELB.4).", LOAD_BALANCERS)
def _alb_headers(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if _application(props):
        yield from _must_be_true(props, "dropInvalidHeaderFields",
                                 message="the load balancer must drop invalid header fields")


@resource_policy("alb-idle-timeout", f"The load balancer's idle timeout is below the app's {APP_IDLE_SECONDS} s, "
                 "so the app never closes a connection the load balancer still uses.", LOAD_BALANCERS)
def _alb_idle(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    timeout = at(props, "idleTimeout")
    if _application(props) and timeout is not UNKNOWN:
        seconds = APP_IDLE_SECONDS if timeout is None else number(timeout)
        if seconds is None or seconds >= APP_IDLE_SECONDS:
            yield f"idleTimeout must be below {APP_IDLE_SECONDS} s (is {timeout!r}; AWS's default is 60)"


@resource_policy("alb-access-logs", "The load balancer writes access logs to S3, where configured (ELB.5).",
                 LOAD_BALANCERS, REQUIRED_SWITCH)
def _alb_access_logs(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if config["required"] is not True or not _application(props):
        return
    yield from _must_be_true(props, "accessLogs", "enabled", message="this stack's load balancer must log access")
    bucket = at(props, "accessLogs", "bucket")
    if bucket is not UNKNOWN and not text(bucket):
        yield "access logs need a bucket"


@resource_policy("alb-deletion-protection", "The load balancer is deletion-protected, where configured (ELB.6).",
                 LOAD_BALANCERS, REQUIRED_SWITCH)
def _alb_deletion_protection(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if config["required"] is True:
        yield from _must_be_true(props, "enableDeletionProtection",
                                 message="this stack's load balancer must be deletion-protected")


@stack_policy("alb-waf", "A WAF web ACL is associated with the load balancer, where configured.", REQUIRED_SWITCH)
def _alb_waf(resources: Resources, config: Config) -> Violations:
    if config["required"] is not True:
        return
    associations = _of_type(resources, WAF_ASSOCIATION)
    for lb in _of_type(resources, *LOAD_BALANCERS):
        if _application(lb.props) and not any(
                _points_to(a, lb, "resourceArn", via_component=True) or _link_unknown(a, "resourceArn")
                for a in associations):
            yield f"load balancer {lb.name} has no WAF web ACL association", lb.urn


@resource_policy("listener-tls-policy", "HTTPS listeners use a TLS 1.2+ security policy (ELB.17).", LISTENERS)
def _listener_tls(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if at(props, "protocol") != "HTTPS":
        return
    policy = at(props, "sslPolicy")
    if policy is not UNKNOWN and not (text(policy) and TLS12_POLICY.fullmatch(policy)):
        yield f"an HTTPS listener needs a TLS 1.2+ security policy (sslPolicy is {policy!r})"


def _forwards(actions: list[Any]) -> bool:
    return any(at(a, "type") == "forward" or at(a, "forward") not in (None, UNKNOWN) for a in actions)


def _same_lb(listeners: Sequence[PolicyResource]) -> dict[frozenset[str], list[PolicyResource]]:
    by_lb: dict[frozenset[str], list[PolicyResource]] = {}
    for listener in listeners:
        by_lb.setdefault(frozenset(refs(listener, "loadBalancerArn")), []).append(listener)
    return by_lb


@stack_policy("http-redirects-to-https", "Where a load balancer has an HTTPS listener, its HTTP listeners only "
              "redirect to HTTPS (ELB.1).")
def _http_redirects(resources: Resources, config: Config) -> Violations:
    for listeners in _same_lb(_of_type(resources, *LISTENERS)).values():
        if not any(at(ls.props, "protocol") == "HTTPS" for ls in listeners):
            continue
        for listener in listeners:
            if at(listener.props, "protocol") != "HTTP":
                continue
            actions = _actions(listener, "defaultActions")
            if UNKNOWN in actions:
                continue
            if not actions or not all(at(a, "type") == "redirect" and at(a, "redirect", "protocol") == "HTTPS"
                                      for a in actions):
                yield f"HTTP listener {listener.name} must redirect to HTTPS when HTTPS is served", listener.urn


def _blocks_debug(rule: PolicyResource) -> bool:
    paths: set[str] = set()
    for condition in _actions(rule, "conditions"):
        paths |= {text(v) for v in elements(at(condition, "pathPattern", "values"))}
    actions = _actions(rule, "actions")
    return set(DEBUG_PATHS) <= paths and bool(actions) and not _forwards(actions)


@stack_policy("alb-debug-blocked", "Every listener that serves the app blocks /debug and /debug/* with a rule "
              "that outranks every forwarding rule.")
def _debug_blocked(resources: Resources, config: Config) -> Violations:
    rules = _of_type(resources, *LISTENER_RULES)
    for listener in _of_type(resources, *LISTENERS):
        own = [r for r in rules if _points_to(r, listener, "listenerArn", via_component=True)]
        forwarding = [r for r in own if _forwards(_actions(r, "actions"))]
        if not _forwards(_actions(listener, "defaultActions")) and not forwarding:
            continue  # redirects only: it serves nothing
        blockers = [r for r in own if _blocks_debug(r)]
        if not blockers:
            if not any(_link_unknown(r, "listenerArn") for r in rules):
                yield (f"listener {listener.name} serves the app but has no rule blocking "
                       f"{', '.join(DEBUG_PATHS)}", listener.urn)
            continue
        first = min((number(at(r.props, "priority")) or float("inf")) for r in blockers)
        if any((number(at(r.props, "priority")) or float("inf")) <= first for r in forwarding):
            yield f"listener {listener.name}: a forwarding rule outranks the /debug block", listener.urn

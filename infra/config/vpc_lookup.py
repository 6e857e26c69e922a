"""Asking EC2, during preview, whether an existing VPC's subnets can carry the stack."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

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

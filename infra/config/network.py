"""The VPC: a CIDR cut into one private and one public subnet per AZ, or an existing VPC's subnets."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.config.reader import _Reader
from infra.config.service import _app_port

NAT_STRATEGIES = ("Single", "OnePerAz")
# EC2 resource IDs: a prefix and 8 (older) or 17 hexadecimal digits.
_VPC_ID = r"vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})"
_SUBNET_ID = r"subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})"


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

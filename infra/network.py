"""VPC and the security groups that form the only open path: internet -> ALB -> tasks -> (proxy ->) RDS."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from infra.config import NetworkConfig

POSTGRES_PORT = 5432
ANYWHERE_V4 = "0.0.0.0/0"
INGRESS = aws.vpc.SecurityGroupIngressRule
EGRESS = aws.vpc.SecurityGroupEgressRule


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[Sequence[str]]
    private_subnet_ids: pulumi.Output[Sequence[str]]
    lb_security_group: aws.ec2.SecurityGroup
    service_security_group: aws.ec2.SecurityGroup
    db_security_group: aws.ec2.SecurityGroup

    def __init__(self, name: str, cfg: NetworkConfig, *, app_port: int, with_proxy: bool,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Explicit CIDRs (validated in config) rather than awsx's computed layout, so the
        # layout is known before deploy and cannot drift between awsx versions.
        vpc = awsx.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=cfg.vpc_cidr,
            number_of_availability_zones=cfg.az_count,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            subnet_strategy=awsx.ec2.SubnetAllocationStrategy.AUTO,
            subnet_specs=[
                awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PRIVATE,
                                        cidr_blocks=list(cfg.private_subnet_cidrs)),
                awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PUBLIC,
                                        cidr_blocks=list(cfg.public_subnet_cidrs)),
            ],
            # Tasks in private subnets pull from Docker Hub through NAT; "None" is refused in config.
            nat_gateways=awsx.ec2.NatGatewayConfigurationArgs(
                strategy=awsx.ec2.NatGatewayStrategy(cfg.nat_gateways)),
            opts=child,
        )
        self.vpc_id = vpc.vpc_id
        self.public_subnet_ids = vpc.public_subnet_ids
        self.private_subnet_ids = vpc.private_subnet_ids

        # Groups carry no inline rules: every rule is its own resource so the groups can refer
        # to each other without a cycle, and the provider strips AWS's default allow-all egress.
        self.lb_security_group = self._group(name, "lb", "Load balancer: HTTP/HTTPS from the internet")
        self.service_security_group = self._group(name, "svc", "App tasks: app port from the load balancer")
        self.db_security_group = self._group(name, "db", "PostgreSQL: from its one client group only")
        self.proxy_security_group: aws.ec2.SecurityGroup | None = (
            self._group(name, "proxy", "RDS Proxy: PostgreSQL from the app tasks only") if with_proxy else None)

        for port in (80, 443):
            self._rule(INGRESS, f"{name}-lb-in-{port}", self.lb_security_group, port, cidr=ANYWHERE_V4)
        # Image pulls (Docker Hub), Secrets Manager and CloudWatch Logs are all HTTPS endpoints
        # without fixed addresses; DNS to the VPC resolver is not subject to security groups.
        self._rule(EGRESS, f"{name}-svc-out-https", self.service_security_group, 443, cidr=ANYWHERE_V4)

        # The only internal path: ALB -> tasks -> (proxy ->) database, each hop one port.
        chain = [("lb", self.lb_security_group, app_port), ("svc", self.service_security_group, POSTGRES_PORT)]
        if self.proxy_security_group is not None:
            chain.append(("proxy", self.proxy_security_group, POSTGRES_PORT))
        chain.append(("db", self.db_security_group, 0))
        for (src_role, src, port), (dst_role, dst, _) in itertools.pairwise(chain):
            self._rule(EGRESS, f"{name}-{src_role}-to-{dst_role}-out", src, port, peer=dst)
            self._rule(INGRESS, f"{name}-{src_role}-to-{dst_role}-in", dst, port, peer=src)

        self.register_outputs({
            "vpcId": self.vpc_id,
            "publicSubnetIds": self.public_subnet_ids,
            "privateSubnetIds": self.private_subnet_ids,
        })

    def _group(self, name: str, role: str, description: str) -> aws.ec2.SecurityGroup:
        return aws.ec2.SecurityGroup(
            f"{name}-{role}-sg",
            vpc_id=self.vpc_id,
            description=description,
            tags={"Name": f"{name}-{role}"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _rule(self, direction: type, rule: str, group: aws.ec2.SecurityGroup, port: int, *,
              cidr: str | None = None, peer: aws.ec2.SecurityGroup | None = None) -> None:
        direction(
            rule,
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            cidr_ipv4=cidr,
            referenced_security_group_id=peer.id if peer is not None else None,
            opts=pulumi.ResourceOptions(parent=self),
        )

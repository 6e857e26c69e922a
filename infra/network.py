"""VPC and the security groups that form the only open path: internet -> ALB -> tasks -> (proxy ->) RDS."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from infra.config import NetworkConfig, StackSettings
from infra.iam import service_trust_policy
from infra.keys import Keys
from infra.logs import stack_log_group
from infra.refs import NetworkRefs

POSTGRES_PORT = 5432
ANYWHERE_V4 = "0.0.0.0/0"
INGRESS = aws.vpc.SecurityGroupIngressRule
EGRESS = aws.vpc.SecurityGroupEgressRule
SUBNET_TYPE = "aws:ec2/subnet:Subnet"
PATH_HOP_TAG = "PathHop"

# What each hop of the chain is, for the rule descriptions (EC2 allows letters, digits, spaces
# and ._-:/()#,@[]+=;{}!$* in them, so no arrows).
HOP_NAMES = {"lb": "ALB", "svc": "app tasks", "proxy": "RDS Proxy", "db": "database", "admin": "database admin tasks"}


def no_public_ip_on_launch(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Public subnets stop handing out public IPs to whatever starts in them (EC2.15).

    awsx's Vpc sets `mapPublicIpOnLaunch: true` on its public subnets and has no input to turn it
    off; a transform on the component reaches its child subnets (ResourceOptions do not). Nothing
    needs the automatic address: the ALB and the NAT gateways get their own, and tasks run in the
    private subnets without one.
    """
    if args.type_ != SUBNET_TYPE or not args.props.get("mapPublicIpOnLaunch"):
        return None
    return pulumi.ResourceTransformResult(props={**args.props, "mapPublicIpOnLaunch": False}, opts=args.opts)


def flow_log_policy(group_arn: str, region: str, account: str) -> dict:
    """Write to the one flow-log group, nothing else.

    AWS lists CreateLogGroup, CreateLogStream, PutLogEvents, DescribeLogGroups and DescribeLogStreams
    on "*"; the group exists before the flow log, so CreateLogGroup is left out (a deleted group is
    not silently re-created unencrypted and kept forever). Pulumi's group ARN has no ":*", which the
    stream actions need, so both forms are listed. DescribeLogGroups is a listing call that cannot be
    narrowed to one group, and it writes nothing.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow",
             "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
             "Resource": [group_arn, f"{group_arn}:*"]},
            {"Effect": "Allow", "Action": "logs:DescribeLogGroups",
             "Resource": f"arn:aws:logs:{region}:{account}:log-group:*"},
        ],
    }


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Input[str]
    public_subnet_ids: pulumi.Input[Sequence[str]]
    private_subnet_ids: pulumi.Input[Sequence[str]]
    lb_security_group: aws.ec2.SecurityGroup
    service_security_group: aws.ec2.SecurityGroup
    db_security_group: aws.ec2.SecurityGroup
    admin_security_group: aws.ec2.SecurityGroup

    def __init__(self, name: str, stack: StackSettings, cfg: NetworkConfig, *, app_port: int, with_proxy: bool,
                 keys: Keys | None, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tca:infra:Network", name, None, opts)
        if cfg.existing_vpc:
            # Someone else's VPC: its subnets, routes, default group and flow logs stay theirs (checked in config).
            self.vpc_id = cfg.vpc_id
            self.public_subnet_ids = list(cfg.public_subnet_ids)
            self.private_subnet_ids = list(cfg.private_subnet_ids)
        else:
            assert keys is not None, "a created VPC logs its flows with the stack's key"
            self._vpc(name, stack, cfg, keys)
        self._path(name, app_port, with_proxy)
        self.refs = NetworkRefs(
            vpc_id=self.vpc_id, public_subnet_ids=self.public_subnet_ids, private_subnet_ids=self.private_subnet_ids,
            az_count=cfg.az_count, lb_security_group_id=self.lb_security_group.id,
            service_security_group_id=self.service_security_group.id, db_security_group_id=self.db_security_group.id,
            app_port=app_port, admin_security_group_id=self.admin_security_group.id,
            proxy_security_group_id=self.proxy_security_group.id if self.proxy_security_group is not None else None)
        self.register_outputs({
            "vpcId": self.vpc_id,
            "publicSubnetIds": self.public_subnet_ids,
            "privateSubnetIds": self.private_subnet_ids,
        })

    def _vpc(self, name: str, stack: StackSettings, cfg: NetworkConfig, keys: Keys) -> None:
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
            opts=pulumi.ResourceOptions(parent=self, transforms=[no_public_ip_on_launch]),
        )
        self.vpc_id = vpc.vpc_id
        self.public_subnet_ids = vpc.public_subnet_ids
        self.private_subnet_ids = vpc.private_subnet_ids

        # EC2.2: adopting the VPC's default group removes every rule AWS put in it; listing none
        # keeps it empty, so anything launched without an explicit group can talk to nothing.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=self.vpc_id,
                                     tags={"Name": f"{name}-default-unused"}, opts=child)
        self._flow_logs(name, stack, keys)

    def _path(self, name: str, app_port: int, with_proxy: bool) -> None:
        # Groups carry no inline rules: every rule is its own resource so the groups can refer
        # to each other without a cycle, and the provider strips AWS's default allow-all egress.
        self.lb_security_group = self._group(name, "lb", "Load balancer: HTTP/HTTPS from the internet")
        self.service_security_group = self._group(name, "svc", "App tasks: app port from the load balancer")
        self.db_security_group = self._group(name, "db", "PostgreSQL: from its client group and the admin tasks")
        self.admin_security_group = self._group(name, "admin", "Database admin tasks: PostgreSQL and HTTPS out only")
        self.proxy_security_group: aws.ec2.SecurityGroup | None = (
            self._group(name, "proxy", "RDS Proxy: PostgreSQL from the app tasks only") if with_proxy else None)

        for port, protocol in ((80, "HTTP"), (443, "HTTPS")):
            self._rule(INGRESS, f"{name}-lb-in-{port}", self.lb_security_group, port,
                       f"Internet to ALB ({protocol})", cidr=ANYWHERE_V4)
        # Image pulls (Docker Hub), Secrets Manager and CloudWatch Logs are all HTTPS endpoints
        # without fixed addresses; DNS to the VPC resolver is not subject to security groups.
        self._rule(EGRESS, f"{name}-svc-out-https", self.service_security_group, 443,
                   "App tasks to HTTPS endpoints (image registry, Secrets Manager, CloudWatch Logs)",
                   cidr=ANYWHERE_V4)
        if self.proxy_security_group is not None:
            # RDS Proxy reads the database secret from Secrets Manager over HTTPS through its own network
            # interfaces (RDS User Guide, "Setting up network prerequisites for RDS Proxy"); with only 5432
            # to the database its targets never become AVAILABLE. The key is no extra hop: Secrets Manager
            # decrypts server-side (the proxy role's kms:Decrypt holds only via secretsmanager). The path
            # is the NAT gateways the tasks already use, at no fixed cost; a Secrets Manager interface
            # endpoint would cost about USD 7.30 a month per zone and is kept out for that reason.
            self._rule(EGRESS, f"{name}-proxy-out-https", self.proxy_security_group, 443,
                       "RDS Proxy to Secrets Manager (HTTPS)", cidr=ANYWHERE_V4)

        # The only internal path: ALB -> tasks -> (proxy ->) database, each hop one port.
        chain = [("lb", self.lb_security_group, app_port), ("svc", self.service_security_group, POSTGRES_PORT)]
        if self.proxy_security_group is not None:
            chain.append(("proxy", self.proxy_security_group, POSTGRES_PORT))
        chain.append(("db", self.db_security_group, 0))
        for (src_role, src, port), (dst_role, dst, _) in itertools.pairwise(chain):
            source = HOP_NAMES[src_role]
            path = f"{source[0].upper()}{source[1:]} to {HOP_NAMES[dst_role]}"
            self._rule(EGRESS, f"{name}-{src_role}-to-{dst_role}-out", src, port, path, peer=dst)
            self._rule(INGRESS, f"{name}-{src_role}-to-{dst_role}-in", dst, port, path, peer=src)

        # The administration path, beside the app's: the bootstrap task and the rotation function log in to the
        # instance itself as the master (never through the proxy, which knows only the app credential), and read
        # Secrets Manager, pull from ECR Public, write CloudWatch Logs and call the RDS API, all over HTTPS through
        # NAT. Nothing connects in to it.
        self._rule(EGRESS, f"{name}-admin-out-https", self.admin_security_group, 443,
                   "Database admin tasks to HTTPS endpoints (Secrets Manager, ECR Public, CloudWatch Logs, RDS API)",
                   cidr=ANYWHERE_V4)
        admin_path = f"Database admin tasks to {HOP_NAMES['db']}"
        self._rule(EGRESS, f"{name}-admin-to-db-out", self.admin_security_group, POSTGRES_PORT, admin_path,
                   peer=self.db_security_group)
        self._rule(INGRESS, f"{name}-admin-to-db-in", self.db_security_group, POSTGRES_PORT, admin_path,
                   peer=self.admin_security_group)

    def _group(self, name: str, role: str, description: str) -> aws.ec2.SecurityGroup:
        return aws.ec2.SecurityGroup(
            f"{name}-{role}-sg",
            vpc_id=self.vpc_id,
            description=description,
            # PathHop names the group's place in the path where its users live in another stack (a network
            # layer): the policy pack knows the load balancer's group by it (policy/tca_policies.py).
            tags={"Name": f"{name}-{role}", PATH_HOP_TAG: role},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _flow_logs(self, name: str, stack: StackSettings, keys: Keys) -> None:
        """EC2.6: every accepted and rejected flow in the VPC, kept as long as the stack's other logs."""
        child = pulumi.ResourceOptions(parent=self)
        group = stack_log_group(f"{name}-vpc-flow", stack, keys.arn, self)
        account = aws.get_caller_identity().account_id
        role = aws.iam.Role(
            f"{name}-vpc-flow",
            description="Lets VPC Flow Logs write to the stack's flow-log group",
            # VPC User Guide, "IAM role for publishing flow logs to CloudWatch Logs": the trust policy
            # with the confused-deputy conditions it recommends.
            assume_role_policy=service_trust_policy("vpc-flow-logs.amazonaws.com", conditions={
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{stack.region}:{account}:vpc-flow-log/*"},
            }),
            opts=child,
        )
        write = aws.iam.RolePolicy(
            f"{name}-vpc-flow",
            role=role.id,
            policy=group.arn.apply(lambda arn: json.dumps(flow_log_policy(arn, stack.region, account))),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-vpc-flow",
            vpc_id=self.vpc_id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            tags={"Name": f"{name}-vpc-flow"},
            # The first delivery fails if the role cannot write yet.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[write]),
        )

    def _rule(self, direction: type, rule: str, group: aws.ec2.SecurityGroup, port: int, description: str, *,
              cidr: str | None = None, peer: aws.ec2.SecurityGroup | None = None) -> None:
        direction(
            rule,
            security_group_id=group.id,
            description=description,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            cidr_ipv4=cidr,
            referenced_security_group_id=peer.id if peer is not None else None,
            opts=pulumi.ResourceOptions(parent=self),
        )

"""RDS Proxy in front of the instance: its role, the proxy, its pool settings and target, and the readiness gate."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi.dynamic
import pulumi_aws as aws

from infra.config import DatabaseConfig, StackSettings
from infra.iam import service_trust_policy
from infra.keys import decrypt_secrets_statement
from infra.proxy_ready_provider import ProxyReadyProvider


class ProxyReady(pulumi.dynamic.Resource, module="proxy", name="ProxyReady"):
    """Exists once RDS Proxy reports the instance's target AVAILABLE (infra/proxy_ready_provider.py)."""
    target_state: pulumi.Output[str]

    def __init__(self, name: str, props: dict, opts: pulumi.ResourceOptions | None = None):
        super().__init__(ProxyReadyProvider(), name, {**props, "target_state": None}, opts)


def add_proxy(parent: pulumi.Resource, name: str, stack: StackSettings, cfg: DatabaseConfig, *,
              subnet_ids: pulumi.Input[Sequence[str]], security_group_id: pulumi.Input[str],
              key_arn: pulumi.Output[str], auth_secrets: list[pulumi.Output[str]], instance: aws.rds.Instance,
              bootstrap: pulumi.Resource,
              app_secret_arn: pulumi.Output[str]) -> tuple[aws.rds.Proxy, aws.rds.ProxyTarget, ProxyReady]:
    """The proxy's resources, children of the database (`parent`), so their names and URNs stay the database's."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{name}-proxy",
        description="Lets RDS Proxy read the database credentials secret",
        assume_role_policy=service_trust_policy("rds.amazonaws.com"),
        opts=child,
    )
    read_secret = aws.iam.RolePolicy(
        f"{name}-proxy-secret",
        role=role.id,
        policy=pulumi.Output.all(key_arn, *auth_secrets).apply(lambda arns: json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                           "Resource": arns[1] if len(arns) == 2 else list(arns[1:])},
                          decrypt_secrets_statement(arns[0], stack.region)],
        })),
        opts=child,
    )
    proxy = aws.rds.Proxy(
        f"{name}-proxy",
        engine_family="POSTGRESQL",
        role_arn=role.arn,
        vpc_subnet_ids=subnet_ids,
        vpc_security_group_ids=[security_group_id],
        # The app cannot speak TLS (sslmode=disable), so the proxy must accept plaintext clients;
        # only the service security group can reach it.
        require_tls=False,
        # The app opens a connection per request and closes it; anything idle for 5 minutes
        # is a leak, not a client worth keeping.
        idle_client_timeout=300,
        debug_logging=False,
        auths=[aws.rds.ProxyAuthArgs(
            auth_scheme="SECRETS",
            secret_arn=arn,
            client_password_auth_type=cfg.proxy_client_auth,
            iam_auth="DISABLED",
            description="TechChallengeApp app user" if i == 0 else "TechChallengeApp master user (while moving)",
        ) for i, arn in enumerate(auth_secrets)],
        # It lists only credentials whose user exists: the bootstrap creates the app's.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[read_secret, bootstrap]),
    )
    target_group = aws.rds.ProxyDefaultTargetGroup(
        f"{name}-proxy",
        db_proxy_name=proxy.name,
        connection_pool_config=aws.rds.ProxyDefaultTargetGroupConnectionPoolConfigArgs(
            # Fail a request after 10 s rather than hold it for the default 120 s, well past
            # the load balancer's idle timeout (infra/service.py).
            connection_borrow_timeout=10,
            # The proxy is the database's only client (the db group admits nothing else).
            max_connections_percent=100,
            max_idle_connections_percent=50,
        ),
        opts=child,
    )
    target = aws.rds.ProxyTarget(
        f"{name}-proxy",
        db_proxy_name=proxy.name,
        target_group_name=target_group.name,
        db_instance_identifier=instance.identifier,
        opts=child,
    )
    ready = ProxyReady(
        f"{name}-proxy-ready",
        {
            "region": stack.region,
            "profile": stack.aws_profile,
            "proxy_name": proxy.name,
            "db_instance": instance.identifier,
            # Keys: each changes when there is a target that nobody has yet seen AVAILABLE.
            "proxy_arn": proxy.arn,
            "target_id": target.id,
            "db_resource_id": instance.resource_id,
            "app_secret_arn": app_secret_arn,
        },
        # The proxy logs in with the app credential: until the bootstrap created its user, the target
        # reports AUTH_FAILURE.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[target, bootstrap]),
    )
    return proxy, target, ready

"""What crosses from one layer to the next: the network's and the database's values their clients use.

Components take these plain descriptions instead of their neighbour components, so they cannot tell
where a value came from. Each is built one of two ways: from the component that creates the resources
(`Network.refs()`, `Database.refs()`, in the stack that owns them), or from another stack's outputs
(`from_outputs`, through a `pulumi.StackReference`). A stack that owns them exports exactly these fields
under their `export` names, so the next layer reads what this one wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import pulumi


@dataclass(frozen=True)
class NetworkRefs:
    """The VPC and the security groups of the only open path (internet, ALB, tasks, proxy, database)."""
    vpc_id: pulumi.Input[str]
    public_subnet_ids: pulumi.Input[Sequence[str]]
    private_subnet_ids: pulumi.Input[Sequence[str]]
    az_count: pulumi.Input[int]
    lb_security_group_id: pulumi.Input[str]
    service_security_group_id: pulumi.Input[str]
    db_security_group_id: pulumi.Input[str]
    # The port the load balancer reaches the tasks on: an app layer must listen on the same one.
    app_port: pulumi.Input[int]
    # The database administration path: the bootstrap task and the rotation function (5432 to the db group).
    admin_security_group_id: pulumi.Input[str]
    # Only when the network opens the path through RDS Proxy (tca:dbProxy).
    proxy_security_group_id: pulumi.Input[str] | None

    # Stack output name per field; the optional ones a stack lacks when the feature is off.
    EXPORTS: ClassVar[dict[str, str]] = {
        "vpc_id": "vpcId", "public_subnet_ids": "publicSubnetIds", "private_subnet_ids": "privateSubnetIds",
        "az_count": "azCount", "lb_security_group_id": "lbSecurityGroupId",
        "service_security_group_id": "serviceSecurityGroupId", "db_security_group_id": "dbSecurityGroupId",
        "app_port": "appPort", "admin_security_group_id": "adminSecurityGroupId",
        "proxy_security_group_id": "proxySecurityGroupId",
    }
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"proxy_security_group_id"})


@dataclass(frozen=True)
class DatabaseRefs:
    """What the app, its seed and its alarms need of the database."""
    # The proxy endpoint when RDS Proxy is on, else the instance address (never host:port).
    client_host: pulumi.Input[str]
    port: pulumi.Input[int]
    name: pulumi.Input[str]
    endpoint: pulumi.Input[str]
    # The app credential (JSON: engine, host, port, dbname, username, password, masterarn): what the app, its
    # seed and the proxy log in with. Never the master's.
    secret_arn: pulumi.Input[str]
    # The master user's secret: RDS's own `rds!db-...` secret when RDS manages the master password, else the
    # stack's. Only the bootstrap task and the rotation function read it.
    master_secret_arn: pulumi.Input[str]
    # How the app credential is rotated: "alternating-users" (the database layer rotates it), or "none" (behind
    # RDS Proxy, which authenticates only the current version of each secret).
    credential_rotation: pulumi.Input[str]
    # The key the secrets are encrypted with: readers of a secret need kms:Decrypt on it.
    key_arn: pulumi.Input[str]
    instance_identifier: pulumi.Input[str]
    # DbiResourceId changes only when the instance is replaced: a new, empty database.
    resource_id: pulumi.Input[str]
    proxy_name: pulumi.Input[str] | None
    # The VPC the database is reachable in: an app must run in the same one.
    vpc_id: pulumi.Input[str]
    # Resources of this stack that clients wait for (app user bootstrapped, proxy target AVAILABLE). Not exported:
    # a referenced database was finished by its own stack's update.
    ready: tuple[pulumi.Resource, ...] = ()

    EXPORTS: ClassVar[dict[str, str]] = {
        "client_host": "dbClientHost", "port": "dbPort", "name": "dbName",
        "endpoint": "dbEndpoint", "secret_arn": "dbSecretArn", "master_secret_arn": "dbMasterSecretArn",
        "credential_rotation": "dbCredentialRotation", "key_arn": "dbKeyArn",
        "instance_identifier": "dbInstanceId", "resource_id": "dbResourceId", "proxy_name": "dbProxyName",
        "vpc_id": "dbVpcId",
    }
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"proxy_name"})


Refs = NetworkRefs | DatabaseRefs
RefsType = TypeVar("RefsType", NetworkRefs, DatabaseRefs)


def required_outputs(kind: type[Refs]) -> list[str]:
    return [name for attr, name in kind.EXPORTS.items() if attr not in kind.OPTIONAL]


def exports(refs: Refs) -> dict[str, pulumi.Input[Any]]:
    """The stack outputs that describe `refs`; an optional field that is absent is not exported."""
    return {name: getattr(refs, attr) for attr, name in refs.EXPORTS.items() if getattr(refs, attr) is not None}


def missing_outputs(kind: type[Refs], present: Mapping[str, Any]) -> list[str]:
    return [name for name in required_outputs(kind) if name not in present]


def from_outputs(kind: type[RefsType], present: Mapping[str, Any], read: Callable[[str], Any]) -> RefsType:
    """Refs whose fields are `read(output_name)` for each output the referenced stack has.

    `present` is the referenced stack's outputs, already checked for every required name; an optional
    output it lacks reads as None (the feature is off in that stack).
    """
    values: dict[str, Any] = {attr: read(name) if name in present else None for attr, name in kind.EXPORTS.items()}
    return kind(**values)

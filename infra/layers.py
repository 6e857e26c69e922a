"""Which components each layer builds, and where the values it does not own come from.

`all` builds everything in one stack. `network`, `database` and `app` each build their own part and read
the parts before them from those stacks' outputs (`tca:networkStack`, `tca:databaseStack`):

    network   Keys (when it logs flows), Network (the VPC, or an existing one, and the path's security groups)
    database  Keys, Database (credentials, parameter and subnet groups, instance, bootstrap task, proxy), in the
              network's subnets
    app       Keys and what `__main__.py` composes when `builds_app`: cluster, load balancer, service, seed,
              release safety, edge, domain, alarms and dashboard, on the network's and the database's refs

A layer's stack exports exactly the refs it owns (infra/refs.py), so the next layer reads what it wrote, and
its deployment name, so a layer of another deployment is refused.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime.sync_await import _sync_await

from infra.config import AppConfig, ConfigError, deployment_minutes, rotation_period_allowed
from infra.database import Database
from infra.keys import Keys
from infra.network import Network
from infra.refs import DatabaseRefs, NetworkRefs, RefsType, exports, from_outputs, missing_outputs
from infra.rotation import ALTERNATING_USERS, CredentialRotation

_LAYER_OF = {NetworkRefs: "network", DatabaseRefs: "database"}
# The output naming the deployment a network or database layer belongs to (its tca:deploymentName).
DEPLOYMENT_OUTPUT = "deploymentName"
# A database layer that rotates the app credential names its tca:rotationDays, which the app layer's releases
# must fit (infra/config/rotation.py).
ROTATION_DAYS_OUTPUT = "dbRotationDays"


def _referenced(kind: type[RefsType], key: str, stack_name: str, cfg: AppConfig) -> tuple[RefsType, dict[str, Any]]:
    """The refs another stack exported, read before this stack declares anything.

    The outputs are awaited here, at the start of the program, so a stack missing one is refused before any
    resource is registered (a resource registered earlier would already be created by `pulumi up`).
    """
    layer = cfg.layers.layer
    reference = pulumi.StackReference(f"{key}-{stack_name}", stack_name=stack_name)
    outputs = _sync_await(reference.outputs.future()) or {}
    missing = missing_outputs(kind, outputs)
    if DEPLOYMENT_OUTPUT not in outputs:
        missing.append(DEPLOYMENT_OUTPUT)
    if missing:
        raise ConfigError(
            f"tca:{key} = {stack_name!r}: that stack has no output {', '.join(missing)}, which the {layer} layer "
            f"needs; is it a {_LAYER_OF[kind]} layer, and has `pulumi up` run on it since it was set up? "
            "Nothing was created.")
    if outputs[DEPLOYMENT_OUTPUT] != cfg.stack.deployment:
        # The roles' boundary admits only secrets and keys named after this stack's deployment.
        raise ConfigError(
            f"tca:deploymentName = {cfg.stack.deployment!r}, but tca:{key} = {stack_name!r} is a layer of "
            f"{outputs[DEPLOYMENT_OUTPUT]!r}: the layers of one deployment share its name prefix, permissions "
            "boundary and deployer; set the same tca:deploymentName in every layer. Nothing was created.")
    return from_outputs(kind, outputs, reference.require_output), outputs


def _check_proxy_path(cfg: AppConfig, network: NetworkRefs) -> None:
    """The database's proxy needs the network to have opened the proxy's hop (tca:dbProxy in both stacks)."""
    if cfg.database.proxy and network.proxy_security_group_id is None:
        raise ConfigError(
            f"tca:dbProxy = true, but the network stack {cfg.layers.network_stack!r} has no output "
            "proxySecurityGroupId: set tca:dbProxy: true in that stack too and run `pulumi up` on it first. "
            "Nothing was created.")
    if not cfg.database.proxy and network.proxy_security_group_id is not None:
        pulumi.log.warn(f"the network stack {cfg.layers.network_stack!r} opens a path through RDS Proxy, but "
                        "tca:dbProxy is false here: set both stacks alike")


def _check_rotation_period(cfg: AppConfig, database: dict[str, Any]) -> None:
    """The database stack's rotation period must leave room for this app layer's daily redeployment."""
    if ROTATION_DAYS_OUTPUT not in database:
        return
    # Stack outputs carry numbers as floats (7.0).
    days = int(float(database[ROTATION_DAYS_OUTPUT]))
    release = cfg.release
    minutes = deployment_minutes(release.strategy, release.canary_bake_minutes, release.bake_minutes)
    if not rotation_period_allowed(days, minutes):
        raise ConfigError(
            f"tca:deploymentStrategy = {release.strategy!r}, tca:canaryBakeMinutes = {release.canary_bake_minutes}, "
            f"tca:deploymentBakeMinutes = {release.bake_minutes}: a deployment may take {minutes} min, but the "
            f"database stack {cfg.layers.database_stack!r} rotates the app credential every {days} days "
            "(its tca:rotationDays), too often for the daily redeployment to replace every task between two "
            "rotations. Shorten the bake times, or raise tca:rotationDays in the database stack and run "
            "`pulumi up` there first. Nothing was created.")


def _check_app_port(cfg: AppConfig, network: dict[str, Any]) -> None:
    """The network's load balancer reaches the tasks on its tca:appPort; the app must listen on the same port."""
    # Stack outputs carry numbers as floats (8000.0).
    network_port = int(float(network["appPort"]))
    if network_port != cfg.service.app_port:
        raise ConfigError(
            f"tca:appPort = {cfg.service.app_port}, but the network stack {cfg.layers.network_stack!r} lets the load "
            f"balancer reach the tasks only on port {network_port} (its tca:appPort): the tasks would be unreachable. "
            "Set tca:appPort alike in both stacks, and run `pulumi up` on the network stack first when changing it. "
            "Nothing was created.")


class Layer:
    """This stack's layer: builds the network and database it owns, reads the ones it does not.

    Referenced stacks are read when the layer is made, before any resource: a missing output stops the
    program before anything exists. Each layer's log groups, secret and topic use that layer's own key.
    """

    def __init__(self, cfg: AppConfig):
        self.cfg = cfg
        self.name = cfg.layers.layer
        self._network_ref: NetworkRefs | None = None
        self._database_ref: DatabaseRefs | None = None
        self._database_outputs: dict[str, Any] = {}
        if cfg.layers.network_stack:
            self._network_ref, network = _referenced(NetworkRefs, "networkStack", cfg.layers.network_stack, cfg)
        if cfg.layers.database_stack:
            self._database_ref, database = _referenced(DatabaseRefs, "databaseStack", cfg.layers.database_stack, cfg)
            self._database_outputs = database
            if database["dbVpcId"] != network["vpcId"]:
                raise ConfigError(
                    f"tca:databaseStack = {cfg.layers.database_stack!r} runs its database in {database['dbVpcId']}, "
                    f"but tca:networkStack = {cfg.layers.network_stack!r} is {network['vpcId']}: the app reaches "
                    "the database only inside one VPC; name the network stack the database stack uses. "
                    "Nothing was created.")
        if self.name == "database":
            assert self._network_ref is not None
            _check_proxy_path(cfg, self._network_ref)
        if self.name == "app":
            _check_app_port(cfg, network)
            _check_rotation_period(cfg, self._database_outputs)
        # A network or database layer names its deployment, so the layers after it can check they share it.
        self._exports: dict[str, pulumi.Input[Any]] = (
            {DEPLOYMENT_OUTPUT: cfg.stack.deployment} if self.name in ("network", "database") else {})
        # A network in an existing VPC creates no log group, so it needs no key.
        self.keys = (None if self.name == "network" and cfg.network.existing_vpc
                     else Keys(cfg.stack.name_prefix, cfg.stack, cfg.keys))

    @property
    def builds_app(self) -> bool:
        return self.name in ("all", "app")

    def network(self) -> NetworkRefs:
        """Built here (all, network), or read from tca:networkStack (database, app)."""
        if self._network_ref is not None:
            return self._network_ref
        cfg = self.cfg
        refs = Network(cfg.stack.name_prefix, cfg.stack, cfg.network, app_port=cfg.network.app_port,
                       with_proxy=cfg.network.proxy, keys=self.keys).refs
        if self.name == "network":
            self._exports.update(exports(refs))
        return refs

    def database(self, network: NetworkRefs) -> DatabaseRefs | None:
        """Built here (all, database), read from tca:databaseStack (app), or none (network)."""
        if self._database_ref is not None or self.name == "network":
            return self._database_ref
        assert self.keys is not None
        cfg = self.cfg
        refs = Database(cfg.stack.name_prefix, cfg.stack, cfg.database, network, keys=self.keys).refs
        if refs.credential_rotation == ALTERNATING_USERS:
            CredentialRotation(f"{cfg.stack.name_prefix}-rotation", cfg.stack, cfg.rotation, refs, network,
                               key_arn=self.keys.arn)
        if self.name == "database":
            self._exports.update(exports(refs))
            if refs.credential_rotation == ALTERNATING_USERS:
                self._exports[ROTATION_DAYS_OUTPUT] = cfg.rotation.days
        return refs

    def rotates_credentials(self, database: DatabaseRefs) -> bool:
        """Whether the database layer rotates the app credential, so the app's tasks must be replaced daily.

        Known before any resource: built here, or read from the database stack's outputs (awaited at the start).
        """
        if self._database_ref is None:
            return database.credential_rotation == ALTERNATING_USERS
        return bool(self._database_outputs.get(DatabaseRefs.EXPORTS["credential_rotation"]) == ALTERNATING_USERS)

    def exports(self) -> dict[str, pulumi.Input[Any]]:
        """The refs this layer owns, for the layers after it (none for all and app)."""
        return dict(self._exports)

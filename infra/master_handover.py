"""Refuses to hand the master password to RDS while the running service may still log in as the master.

Switching `manage_master_user_password` on gives the master a new password at once, and the instance is
updated before anything that depends on it: a service that still logs in as the master would fail every
request until its tasks were replaced. A stack that has never run with the app user moves in two deploys
(docs/credentials.md, "Moving an existing stack to the app user"); this check makes the one-step jump an error
before anything is created, instead of an outage.

The evidence is the stack's own last outputs, read through a stack reference to itself: a stack that was
deployed (it has outputs) but has never exported `dbCredentialRotation` ran a version whose service logged in
as the master. A new stack has no outputs yet and starts with the RDS-managed master.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime.sync_await import _sync_await

from infra.config import AppConfig, ConfigError

# Exported by every stack that builds the database once its service and seed log in as the app user.
APP_LOGIN_OUTPUT = "dbCredentialRotation"


def own_stack_name() -> str:
    """This stack's fully qualified name (organization/project/stack; "organization" on a self-managed backend)."""
    # The engine always names the organization; a runtime without one (unit tests) gets the self-managed default.
    return f"{pulumi.get_organization() or 'organization'}/{pulumi.get_project()}/{pulumi.get_stack()}"


def last_outputs() -> dict[str, Any]:
    """The outputs of this stack's last deployment; empty for a stack never deployed."""
    reference = pulumi.StackReference("own-last-deployment", stack_name=own_stack_name())
    return _sync_await(reference.outputs.future()) or {}


def check_master_handover(cfg: AppConfig, previous: dict[str, Any]) -> None:
    if not cfg.database.managed_master_password or not previous or APP_LOGIN_OUTPUT in previous:
        return
    raise ConfigError(
        "tca:dbManagedMasterPassword = true, but this stack's last deployment has no output "
        f"{APP_LOGIN_OUTPUT}: its service still logs in as the master, and handing the master password to RDS "
        "now would fail every request until the tasks are replaced. Move in two deploys: "
        "`pulumi config set tca:dbManagedMasterPassword false` and `pulumi up` (the app user is created and the "
        "service moves to it), then set it back to true and `pulumi up` again. With separate layers, run the "
        "app stack's `pulumi up` between the two database deploys. Nothing was created.")

"""infra/master_handover.py: a deployed stack whose service logs in as the master never has its master password
handed to RDS in one step."""

from __future__ import annotations

import pytest

from infra.config import ConfigError
from infra.master_handover import APP_LOGIN_OUTPUT
from tests.conftest import run_where, stack_run
from tests.helpers import RDS
from tests.layered import WITH_PROXY, as_referenced, layer_overrides, layered, qualified, stack_name
from tests.mocks import own_stack_name, run_program

STACKS = ("dev", "prod")
# What a stack deployed before the app user existed exports: its URL and endpoint, no marker.
BEFORE_THE_APP_USER = {"url": "http://example.invalid", "dbEndpoint": "db.example.invalid:5432"}


def _run(stack: str, managed: bool, previous: dict | None, *, name: str | None = None, overrides: dict | None = None):
    name = name or stack
    outputs = {own_stack_name(name): previous} if previous is not None else None
    return run_program(name, {**(overrides or {}), "tca:dbManagedMasterPassword": managed}, stack_file=stack,
                       stack_outputs=outputs)


@pytest.mark.parametrize("stack", STACKS)
def test_a_deployed_stack_whose_service_logs_in_as_the_master_is_refused_before_anything_is_created(stack):
    run = _run(stack, True, BEFORE_THE_APP_USER)
    assert isinstance(run.error, ConfigError)
    assert run.registrations == []
    assert str(run.error) == (
        "tca:dbManagedMasterPassword = true, but this stack's last deployment has no output dbCredentialRotation: "
        "its service still logs in as the master, and handing the master password to RDS now would fail every "
        "request until the tasks are replaced. Move in two deploys: `pulumi config set "
        "tca:dbManagedMasterPassword false` and `pulumi up` (the app user is created and the service moves to "
        "it), then set it back to true and `pulumi up` again. With separate layers, run the app stack's "
        "`pulumi up` between the two database deploys. Nothing was created.")


def test_the_first_of_the_two_deploys_keeps_the_stacks_own_master_and_marks_the_app_login():
    run = _run("dev", False, BEFORE_THE_APP_USER)
    assert run.error is None
    instance = run.one(RDS).inputs
    assert "manageMasterUserPassword" not in instance or instance["manageMasterUserPassword"] is False
    assert run.outputs[APP_LOGIN_OUTPUT] in ("alternating-users", "none")


def test_a_stack_whose_service_already_logs_in_as_the_app_user_hands_the_master_to_rds():
    run = _run("dev", True, {**BEFORE_THE_APP_USER, APP_LOGIN_OUTPUT: "alternating-users"})
    assert run.error is None
    assert run.one(RDS).inputs["manageMasterUserPassword"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_a_stack_never_deployed_starts_with_the_rds_managed_master(stack):
    # The mocks answer the program's reference to its own stack with no outputs, as for a stack never deployed.
    run = run_where(stack, {"tca:dbManagedMasterPassword": True})
    assert run.one(RDS).inputs["manageMasterUserPassword"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_that_builds_the_database_exports_the_mark_it_reads_back(stack):
    assert stack_run(stack).outputs[APP_LOGIN_OUTPUT] in ("alternating-users", "none")


def test_the_program_reads_back_its_own_stack_by_its_fully_qualified_name():
    """A different name would read another stack's outputs, or none, and never refuse."""
    run = _run("dev", True, BEFORE_THE_APP_USER, name="dev-x")
    assert isinstance(run.error, ConfigError)
    assert own_stack_name("dev-x") == "organization/tca/dev-x"


def test_a_database_layer_deployed_before_the_app_user_is_refused_too():
    name = stack_name("prod", "database")
    network = as_referenced(layered("prod", WITH_PROXY)["network"].outputs)
    outputs = {qualified("prod", "network"): network, own_stack_name(name): {"dbEndpoint": "db.example.invalid:5432"}}
    run = run_program(name, {**WITH_PROXY, **layer_overrides("prod", "database"), "tca:dbManagedMasterPassword": True},
                      stack_file="prod", stack_outputs=outputs)
    assert isinstance(run.error, ConfigError), run.error
    assert str(run.error).startswith("tca:dbManagedMasterPassword = true, but this stack's last deployment")

"""The proxy readiness step against RDS as botocore's Stubber plays it (requests checked against the
real RDS API model)."""

from __future__ import annotations

import pytest

from infra import proxy_ready_provider
from infra.proxy_ready_provider import ProxyNotReadyError, ProxyReadyProvider, wait_for_proxy_target
from tests.helpers import stubbed_client

# The provider takes its region from its inputs; any region works, this one is not a stack's.
REGION = "us-west-2"

PROXY = "tca-prod-proxy-1a2b3c4"
APP_SECRET = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:tca-prod-app-credentials-1a2b3c4-AbCdEf"
INSTANCE = "tca-prod-pg-1a2b3c4d"
PROPS = {"region": REGION, "profile": "", "proxy_name": PROXY, "db_instance": INSTANCE,
         "proxy_arn": f"arn:aws:rds:{REGION}:123456789012:db-proxy:prx-0123456789abcdef0",
         "target_id": f"{PROXY},default,RDS_INSTANCE,{INSTANCE}", "db_resource_id": "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
         "app_secret_arn": APP_SECRET}


@pytest.fixture
def rds():
    yield from stubbed_client("rds", REGION)


def _targets(*health: tuple[str, str, str]) -> dict:
    """Targets as RDS lists them: (RdsResourceId, State, Description)."""
    return {"Targets": [{"Type": "RDS_INSTANCE", "RdsResourceId": rid, "Port": 5432,
                         "TargetHealth": {"State": state, **({"Description": why} if why else {})}}
                        for rid, state, why in health]}


def _expect(stub, answer):
    stub.add_response("describe_db_proxy_targets", answer, {"DBProxyName": PROXY})


def test_waits_until_the_instances_target_is_available(rds):
    client, stub = rds
    _expect(stub, _targets((INSTANCE, "REGISTERING", "")))
    _expect(stub, _targets((INSTANCE, "AVAILABLE", "")))
    assert wait_for_proxy_target(client, PROXY, INSTANCE, delay=0, max_attempts=3) == "AVAILABLE"


def test_an_empty_target_list_keeps_polling_instead_of_passing(rds):
    # all([]) is True: the old check let the seed start against a proxy with no target at all.
    client, stub = rds
    _expect(stub, {"Targets": []})
    _expect(stub, {"Targets": []})
    _expect(stub, _targets((INSTANCE, "AVAILABLE", "")))
    assert wait_for_proxy_target(client, PROXY, INSTANCE, delay=0, max_attempts=3) == "AVAILABLE"


def test_no_target_ever_listed_times_out_with_a_clear_error(rds):
    client, stub = rds
    for _ in range(2):
        _expect(stub, {"Targets": []})
    with pytest.raises(ProxyNotReadyError, match=rf"{PROXY} did not report its target {INSTANCE} AVAILABLE "
                                                 r"within 0 s \(last state not listed yet\); no task was started"):
        wait_for_proxy_target(client, PROXY, INSTANCE, delay=0, max_attempts=2)


def test_another_instances_available_target_does_not_count(rds):
    client, stub = rds
    for _ in range(2):
        _expect(stub, _targets(("tca-prod-pg-old", "AVAILABLE", "")))
    with pytest.raises(ProxyNotReadyError, match="not listed yet"):
        wait_for_proxy_target(client, PROXY, INSTANCE, delay=0, max_attempts=2)


def test_an_unavailable_target_times_out_naming_its_state_and_reason(rds):
    client, stub = rds
    for _ in range(2):
        _expect(stub, _targets((INSTANCE, "UNAVAILABLE", "auth failure")))
    with pytest.raises(ProxyNotReadyError, match=r"last state UNAVAILABLE: auth failure"):
        wait_for_proxy_target(client, PROXY, INSTANCE, delay=0, max_attempts=2)


def test_create_waits_with_the_deployers_rds_client(rds, monkeypatch):
    client, stub = rds
    _expect(stub, _targets((INSTANCE, "AVAILABLE", "")))
    monkeypatch.setattr(proxy_ready_provider, "aws_client", lambda props, service: service == "rds" and client)
    result = ProxyReadyProvider().create(dict(PROPS))
    assert result.outs is not None and result.outs["target_state"] == "AVAILABLE"
    assert result.id == f"{PROXY}/{INSTANCE}"


@pytest.mark.parametrize("key", ["proxy_arn", "target_id", "db_resource_id", "app_secret_arn"])
def test_a_new_proxy_target_instance_or_app_credential_is_checked_again(key):
    # A proxy that cannot log in with the app credential reports its target AUTH_FAILURE, not AVAILABLE.
    olds = {**PROPS, "target_state": "AVAILABLE"}
    assert ProxyReadyProvider().diff("id", olds, {**PROPS, key: "changed"}).replaces == [key]


def test_a_changed_profile_only_updates_and_never_calls_aws(monkeypatch):
    monkeypatch.setattr(proxy_ready_provider, "aws_client", lambda props, service: pytest.fail("called AWS"))
    olds = {**PROPS, "target_state": "AVAILABLE"}
    provider = ProxyReadyProvider()
    assert provider.diff("id", olds, {**PROPS, "profile": "deployer"}).replaces == []
    outs = provider.update("id", olds, {**PROPS, "profile": "deployer"}).outs
    assert outs is not None and outs["target_state"] == "AVAILABLE"

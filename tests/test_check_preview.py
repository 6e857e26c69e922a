"""scripts/check_preview.py stops a pull request whose preview would replace or delete the database."""

from __future__ import annotations

import json

import pytest

from scripts import check_preview

DB = "urn:pulumi:prod::tca::tca:infra:Database$aws:rds/instance:Instance::tca-prod-pg"
SVC = "urn:pulumi:prod::tca::tca:infra:Service$awsx:ecs:FargateService::tca-prod-svc"


def _preview(tmp_path, *steps):
    path = tmp_path / "preview.json"
    path.write_text(json.dumps({"steps": list(steps), "changeSummary": {}, "duration": 1}))
    return str(path)


@pytest.mark.parametrize("op", ["same", "update", "create", "read"])
def test_database_kept_passes(tmp_path, op, capsys):
    path = _preview(tmp_path, {"op": op, "urn": DB}, {"op": "replace", "urn": SVC})
    assert check_preview.main(["check", path]) == 0
    assert "database kept" in capsys.readouterr().out


@pytest.mark.parametrize("op", ["replace", "create-replacement", "delete-replaced", "delete"])
def test_database_replacement_or_deletion_fails_naming_the_reason(tmp_path, op, capsys):
    path = _preview(tmp_path, {"op": op, "urn": DB, "diffReasons": ["dbName"]})
    assert check_preview.main(["check", path]) == 1
    err = capsys.readouterr().err
    assert f"{op} {DB}" in err and "dbName" in err


def test_other_resources_being_replaced_do_not_fail(tmp_path):
    assert check_preview.main(["check", _preview(tmp_path, {"op": "replace", "urn": SVC})]) == 0


@pytest.mark.parametrize("content", ["not json", json.dumps({"no": "steps"})])
def test_unreadable_preview_is_an_error_not_a_pass(tmp_path, content):
    path = tmp_path / "preview.json"
    path.write_text(content)
    assert check_preview.main(["check", str(path)]) == 2


def test_type_is_read_from_the_urn_not_the_name():
    assert check_preview.resource_type(DB) == "aws:rds/instance:Instance"
    assert check_preview.resource_type("urn:pulumi:dev::tca::aws:rds/instance:Instance::x") == \
        "aws:rds/instance:Instance"

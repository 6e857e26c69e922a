"""scripts/check_preview.py stops a pull request whose preview would replace or delete the database."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scripts import check_preview
from tests.mocks import ROOT

DB = "urn:pulumi:prod::tca::tca:infra:Database$aws:rds/instance:Instance::tca-prod-pg"
SVC = "urn:pulumi:prod::tca::tca:infra:Service$awsx:ecs:FargateService::tca-prod-svc"


def _preview(tmp_path, *steps):
    path = tmp_path / "preview.json"
    path.write_text(json.dumps({"steps": list(steps), "changeSummary": {}, "duration": 1}))
    return str(path)


@pytest.mark.parametrize("op", ["same", "update", "create", "read"])
def test_database_kept_passes(tmp_path, op, capsys):
    path = _preview(tmp_path, {"op": op, "urn": DB}, {"op": "replace", "urn": SVC})
    assert check_preview.main([path]) == 0
    assert "database kept" in capsys.readouterr().out


# Every step kind Pulumi uses that ends the existing instance (a read resource is "discarded").
@pytest.mark.parametrize("op", ["replace", "create-replacement", "delete-replaced", "delete", "discard",
                                "discard-replaced"])
def test_database_replacement_or_deletion_fails_naming_the_reason(tmp_path, op, capsys):
    path = _preview(tmp_path, {"op": op, "urn": DB, "diffReasons": ["dbName"]})
    assert check_preview.main([path]) == 1
    err = capsys.readouterr().err
    assert f"{op} {DB}" in err and "dbName" in err
    assert "label the pull request `allow-db-replacement`" in err


@pytest.mark.parametrize("op", ["replace", "delete"])
def test_an_allowed_replacement_passes_and_still_names_what_is_lost(tmp_path, op, capsys):
    path = _preview(tmp_path, {"op": op, "urn": DB, "diffReasons": ["dbName"]})
    assert check_preview.main([path, "--allow-db-replacement"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("WARNING: allowed by --allow-db-replacement")
    assert f"{op} {DB} (changed: dbName)" in err


def test_allowing_a_replacement_does_not_hide_an_unreadable_preview(tmp_path):
    path = tmp_path / "preview.json"
    path.write_text("not json")
    assert check_preview.main([str(path), "--allow-db-replacement"]) == 2


def test_other_resources_being_replaced_do_not_fail(tmp_path):
    assert check_preview.main([_preview(tmp_path, {"op": "replace", "urn": SVC})]) == 0


@pytest.mark.parametrize("content", ["not json", json.dumps({"no": "steps"})])
def test_unreadable_preview_is_an_error_not_a_pass(tmp_path, content):
    path = tmp_path / "preview.json"
    path.write_text(content)
    assert check_preview.main([str(path)]) == 2


def test_type_is_read_from_the_urn_not_the_name():
    assert check_preview.resource_type(DB) == "aws:rds/instance:Instance"
    assert check_preview.resource_type("urn:pulumi:dev::tca::aws:rds/instance:Instance::x") == \
        "aws:rds/instance:Instance"


def test_help_prints_usage_and_the_label_not_a_file_error():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_preview.py"), "--help"],
                         check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout.startswith("usage: check_preview.py [-h] [--allow-db-replacement] preview\n")
    assert "`allow-db-replacement`" in out.stdout


def test_missing_argument_is_a_usage_error():
    with pytest.raises(SystemExit) as stop:
        check_preview.main([])
    assert stop.value.code == 2

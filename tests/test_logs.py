"""The stack's log groups are all made one way (infra/logs.py): retention, the stack key, gone with the stack."""

from __future__ import annotations

from tests.helpers import int_of

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def test_every_log_group_keeps_the_stacks_retention_and_key_and_goes_with_the_stack(run, settings):
    key = run.one("aws:kms/key:Key").outputs["arn"]
    groups = run.of_type(LOG_GROUP)
    # App and seed, flow logs, RDS, Container Insights of both clusters, the database bootstrap; WAF's where WAF is
    # on; the rotation function's where the app credential rotates (no proxy).
    assert len(groups) == 6 + (1 if settings["tca:waf"] else 0) + (0 if settings["tca:dbProxy"] else 1)
    for group in groups:
        assert int_of(group.inputs["retentionInDays"]) == settings["tca:logRetentionDays"], group.name
        assert group.inputs["kmsKeyId"] == key, group.name
        assert group.inputs["skipDestroy"] is False, group.name


def test_only_the_groups_aws_names_carry_an_explicit_name(run, settings):
    named = sorted(g.name for g in run.of_type(LOG_GROUP) if "name" in g.inputs)
    rotation = [] if settings["tca:dbProxy"] else [f"tca-{run.stack}-rotation-logs"]
    assert named == sorted([f"tca-{run.stack}-dbadmin-insights", f"tca-{run.stack}-insights-logs",
                            f"tca-{run.stack}-pg-logs", *rotation])

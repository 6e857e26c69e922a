"""The shared IAM trust-policy builder: one statement, one service, the conditions it is given."""

from __future__ import annotations

import json

from infra.iam import service_trust_policy


def test_a_service_role_is_assumable_by_that_service_alone():
    assert json.loads(service_trust_policy("ecs-tasks.amazonaws.com")) == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                       "Action": "sts:AssumeRole"}]}


def test_conditions_and_a_statement_id_are_carried_exactly():
    conditions = {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    (statement,) = json.loads(service_trust_policy("rds.amazonaws.com", conditions=conditions, sid="Rds"))["Statement"]
    assert statement == {"Sid": "Rds", "Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"},
                         "Action": "sts:AssumeRole", "Condition": conditions}

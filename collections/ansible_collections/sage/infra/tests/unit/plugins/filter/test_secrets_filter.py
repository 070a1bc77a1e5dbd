# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the secrets filters: a secret's resource policy, the operators' ARNs, the caller's principal."""

import pytest
from ansible_collections.sage.infra.plugins.filter.secrets import (
    caller_principal_arn,
    principal_arn_error,
    secret_resource_policy,
)

ACCOUNT = "123456789012"
KEY = f"arn:aws:secretsmanager:us-west-2:{ACCOUNT}:secret:sage/anthropic-api-key-AbCdEf"
WEBHOOK = f"arn:aws:secretsmanager:us-west-2:{ACCOUNT}:secret:sage/discord-webhook-errors-AbCdEf"
MASTER = f"arn:aws:secretsmanager:us-west-2:{ACCOUNT}:secret:sage/database-master-AbCdEf"
APP = f"arn:aws:iam::{ACCOUNT}:role/sage-ecs-task-execution"
LAMBDA = f"arn:aws:iam::{ACCOUNT}:role/sage-discord-alert"
OPS = f"arn:aws:iam::{ACCOUNT}:role/ops/awx"
READERS = [{"principal": APP, "secrets": [KEY, WEBHOOK]}, {"principal": LAMBDA, "secrets": [WEBHOOK]}]


def statements(policy):
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def test_everyone_but_the_readers_and_the_operators_is_denied_everything():
    policy = statements(secret_resource_policy(WEBHOOK, READERS, [OPS]))
    deny_all = policy["OnlyItsReadersAndTheOperators"]
    assert deny_all["Effect"] == "Deny" and deny_all["Principal"] == "*" and deny_all["Action"] == "secretsmanager:*"
    assert deny_all["Condition"] == {"StringNotEquals": {"aws:PrincipalArn": sorted([APP, LAMBDA, OPS])}}
    # Each reader may only read the value; the operators manage.
    only_reads = [statement for sid, statement in policy.items() if sid != "OnlyItsReadersAndTheOperators"]
    assert sorted(statement["Principal"]["AWS"] for statement in only_reads) == [LAMBDA, APP]
    assert {statement["NotAction"] for statement in only_reads} == {"secretsmanager:GetSecretValue"}
    assert {statement["Effect"] for statement in only_reads} == {"Deny"}


def test_a_secret_nobody_reads_is_the_operators_alone():
    policy = secret_resource_policy(MASTER, READERS, [OPS])
    assert policy["Statement"] == [
        {
            "Sid": "OnlyItsReadersAndTheOperators",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "secretsmanager:*",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:PrincipalArn": [OPS]}},
        }
    ]


def test_a_reader_that_is_also_an_operator_is_not_limited_to_reading():
    policy = secret_resource_policy(KEY, READERS, [APP])
    assert [statement["Sid"] for statement in policy["Statement"]] == ["OnlyItsReadersAndTheOperators"]


@pytest.mark.parametrize("arn", [OPS, f"arn:aws:iam::{ACCOUNT}:user/alice", f"arn:aws-us-gov:iam::{ACCOUNT}:role/x"])
def test_exact_role_and_user_arns_are_accepted(arn):
    assert principal_arn_error(arn, "secrets_operator_principal_arns") == ""


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:iam::{ACCOUNT}:role/ops/*",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/awx/session",
        f"arn:aws:iam::{ACCOUNT}:root",
        "awx",
        None,
    ],
)
def test_wildcards_sessions_roots_and_names_are_refused_naming_the_variable(arn):
    assert principal_arn_error(arn, "secrets_operator_principal_arns").startswith("secrets_operator_principal_arns: ")


def test_the_caller_is_its_role_with_its_path():
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/awx/job-42"
    assert caller_principal_arn(session, [APP, OPS]) == OPS
    assert caller_principal_arn(session, [f"arn:aws:iam::{ACCOUNT}:role/ops/awx-other"]) == (
        f"arn:aws:iam::{ACCOUNT}:role/awx"
    )
    assert (
        caller_principal_arn(session, ["arn:aws:iam::999999999999:role/ops/awx"]) == f"arn:aws:iam::{ACCOUNT}:role/awx"
    )
    assert caller_principal_arn(f"arn:aws:iam::{ACCOUNT}:user/alice", []) == f"arn:aws:iam::{ACCOUNT}:user/alice"

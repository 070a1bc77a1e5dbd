# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets as read (DescribeSecret only) and compared: the view and the comparison sage.infra.secretsmanager_secret
shares with the roles."""

import boto3
import pytest
from ansible_collections.sage.infra.plugins.module_utils.stack import MASKED, plan_entry
from ansible_collections.sage.infra.plugins.module_utils.stack_secretsmanager import (
    changed_attributes,
    read_secrets,
    secret_view,
)
from ansible_collections.sage.infra.plugins.modules import secretsmanager_secret
from moto import mock_aws

REGION = "us-east-1"
VALUE = "postgresql://sage_admin:s3cr3t-Passw0rd@db.example:5432/sage"
DESIRED = {
    "description": "DATABASE_URL",
    "tags": {"Project": "sage"},
    "scheduled_for_deletion": False,
    "has_value": True,
    "value_labels": ["sage-0123456789abcdef"],
}


@pytest.fixture
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


def current(**changes):
    return {**DESIRED, "kms_key_id": None, "arn": "arn:x", "name": "sage/database-url", **changes}


def test_in_sync():
    assert changed_attributes(DESIRED, current()) == []


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("description", "changed by hand"),
        ("tags", {"Project": "sage", "Owner": "someone"}),
        ("tags", {}),
        ("scheduled_for_deletion", True),
        ("has_value", False),
        ("value_labels", []),
        ("value_labels", ["sage-fedcba9876543210"]),
    ],
)
def test_each_attribute_drifting(attribute, value):
    assert changed_attributes(DESIRED, current(**{attribute: value})) == [attribute]


def test_no_description_is_the_empty_one_and_other_labels_do_not_matter():
    assert changed_attributes({"description": ""}, current(description=None)) == []
    assert changed_attributes(DESIRED, current(value_labels=["other", "sage-0123456789abcdef"])) == []
    assert changed_attributes({"description": "d"}, current(description=None)) == ["description"]


def test_reserved_tags_are_not_ours():
    assert changed_attributes(DESIRED, current(tags={"Project": "sage", "aws:cloudformation:stack": "x"})) == []


def test_kms_key_is_compared_verbatim_when_asked_for():
    assert changed_attributes({"kms_key_id": "alias/sage"}, current(kms_key_id="alias/sage")) == []
    assert changed_attributes({"kms_key_id": "alias/sage"}, current(kms_key_id="arn:aws:kms:x:1:key/k")) == [
        "kms_key_id"
    ]


def test_view_of_a_description():
    view = secret_view(
        {
            "Description": "d",
            "KmsKeyId": "k",
            "Tags": [{"Key": "a", "Value": "b"}, {"Key": "aws:x", "Value": "y"}],
            "VersionIdsToStages": {"v1": ["AWSPREVIOUS", "old"], "v2": ["AWSCURRENT", "sage-1"]},
        }
    )
    assert view == {
        "description": "d",
        "kms_key_id": "k",
        "tags": {"a": "b"},
        "scheduled_for_deletion": False,
        "has_value": True,
        "value_labels": ["sage-1"],
    }
    assert secret_view({})["has_value"] is False


def test_a_missing_secret_is_created_and_no_value_is_shown():
    entry = plan_entry("secret", "sage/x", dict(DESIRED, value=VALUE), {"secret": {"sage/x": None}}, "database")
    assert entry["action"] == "create"
    assert VALUE not in str(entry)
    assert entry["desired"]["value"] == MASKED


def test_reader_never_reads_a_value(aws, calls, module_runner):
    run = module_runner(secretsmanager_secret.main, secrets=(VALUE,), region=REGION)
    run(
        name="sage/database-url",
        description="DATABASE_URL",
        value=VALUE,
        value_label="sage-0123456789abcdef",
        tags={"Project": "sage"},
    )
    run(name="sage/empty", description="no value yet")
    aws.create_secret(Name="sage/gone", SecretString="x")
    aws.delete_secret(SecretId="sage/gone", RecoveryWindowInDays=7)
    calls.clear()

    read = read_secrets(aws, ["sage/database-url", "sage/empty", "sage/gone", "sage/missing"])
    assert set(calls) == {"DescribeSecret"} and len(calls) == 4
    assert VALUE not in str(read)
    assert read["sage/missing"] is None
    assert changed_attributes(DESIRED, read["sage/database-url"]) == []
    assert read["sage/database-url"]["arn"].startswith("arn:aws:secretsmanager:")
    assert read["sage/empty"]["has_value"] is False
    assert read["sage/gone"]["scheduled_for_deletion"] is True

    # A value put by hand (as in the console) has a version without the label: the URL is written again.
    aws.put_secret_value(SecretId="sage/database-url", SecretString="postgresql://elsewhere")
    assert changed_attributes(DESIRED, read_secrets(aws, ["sage/database-url"])["sage/database-url"]) == [
        "value_labels"
    ]

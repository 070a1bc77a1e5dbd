# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""KMS keys as read (by alias) and compared: description, enabled, rotation, the key policy by meaning, tags."""

import json

import boto3
import pytest
from ansible_collections.sage.infra.plugins.module_utils.stack import plan_entry
from ansible_collections.sage.infra.plugins.module_utils.stack_kms import read_keys
from moto import mock_aws

REGION = "us-west-2"
ALIAS = "alias/sage-alerts"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AdministeredByTheAccount",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "AlarmsOfTheAccountPublishToTheTopic",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
        },
    ],
}
DESIRED = {
    "description": "Encrypts sage-alerts",
    "enabled": True,
    "enable_key_rotation": True,
    "policy": POLICY,
    "tags": {"Project": "sage"},
}


def entry(desired, current):
    return plan_entry("kms_key", ALIAS, desired, {"kms_key": {ALIAS: current}})


@pytest.fixture
def kms(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("kms", region_name=REGION)


def make_key(kms, policy=None, rotation=True):
    key = kms.create_key(
        Description=DESIRED["description"],
        Policy=json.dumps(policy or POLICY),
        Tags=[{"TagKey": "Project", "TagValue": "sage"}],
    )["KeyMetadata"]
    kms.create_alias(AliasName=ALIAS, TargetKeyId=key["KeyId"])
    if rotation:
        kms.enable_key_rotation(KeyId=key["KeyId"])
    return key["KeyId"]


def test_a_key_as_created_is_in_sync_whatever_the_order_of_its_policy(kms, calls):
    make_key(kms, policy=dict(POLICY, Statement=POLICY["Statement"][::-1]))
    calls.clear()
    read = read_keys(kms, [ALIAS, "alias/missing"])
    assert read["alias/missing"] is None
    assert entry(DESIRED, read[ALIAS])["action"] == "unchanged"
    assert sorted(calls) == sorted(["DescribeKey"] * 2 + ["GetKeyPolicy", "GetKeyRotationStatus", "ListResourceTags"])


def test_each_difference_is_named(kms):
    key_id = make_key(kms, rotation=False)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    current = read_keys(kms, [ALIAS])[ALIAS]
    assert current["key_state"] == "PendingDeletion"
    changes = entry(dict(DESIRED, policy=dict(POLICY, Statement=POLICY["Statement"][:1])), current)["changes"]
    assert [change["attribute"] for change in changes] == ["enabled", "enable_key_rotation", "policy"]


def test_a_missing_key_is_created():
    assert entry(DESIRED, None)["action"] == "create"

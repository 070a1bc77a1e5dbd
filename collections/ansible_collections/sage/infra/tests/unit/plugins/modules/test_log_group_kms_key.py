# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.log_group_kms_key, run against moto in-process (AssociateKmsKey added by moto_logs)."""

import boto3
import pytest
from ansible_collections.sage.infra.plugins.modules import log_group_kms_key as mod
from ansible_collections.sage.infra.tests.unit import moto_logs
from moto import mock_aws

REGION = "us-east-1"
GROUP = "/ecs/sage-backend"
KEY = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
OTHER_KEY = "arn:aws:kms:us-east-1:123456789012:key/1e2d3c4b-5a69-788a-9b0c-1d2e3f4a5b6c"
MUTATING = ("Associate", "Disassociate")


@pytest.fixture
def logs(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    moto_logs.patch_moto_gaps(lambda target, name, value: monkeypatch.setattr(target, name, value, raising=False))
    with mock_aws():
        client = boto3.client("logs", region_name=REGION)
        client.create_log_group(logGroupName=GROUP)
        client.create_log_group(logGroupName=GROUP + "-other")
        yield client


@pytest.fixture
def run(module_runner):
    return module_runner(mod.main, region=REGION, log_group_name=GROUP)


def key_of(logs, name=GROUP):
    return logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0].get("kmsKeyId")


def test_a_key_is_set_on_an_existing_group_then_kept(run, logs, calls):
    result = run(kms_key_id=KEY, diff=True)
    assert result["changed"] is True and result["diff"]["before"] == {"kms_key_id": None}
    assert key_of(logs) == KEY
    assert key_of(logs, GROUP + "-other") is None, "a group whose name starts the same is not touched"
    calls.clear()
    assert run(kms_key_id=KEY)["changed"] is False
    assert calls == ["DescribeLogGroups"]


def test_another_key_in_check_mode_changes_nothing_then_the_key_is_removed(run, logs, calls):
    run(kms_key_id=KEY)
    calls.clear()
    assert run(kms_key_id=OTHER_KEY, check_mode=True)["changed"] is True
    assert not [call for call in calls if call.startswith(MUTATING)] and key_of(logs) == KEY
    assert run(kms_key_id=OTHER_KEY)["changed"] is True and key_of(logs) == OTHER_KEY
    assert run()["changed"] is True and key_of(logs) is None
    assert run()["changed"] is False


def test_a_missing_group_fails_saying_so_and_counts_as_a_change_in_check_mode(run, logs):
    assert "does not exist" in run.fail(log_group_name="/ecs/nowhere", kms_key_id=KEY)
    assert run(log_group_name="/ecs/nowhere", kms_key_id=KEY, check_mode=True)["changed"] is True

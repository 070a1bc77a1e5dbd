# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.s3_bucket_logging, run against moto in-process."""

import json

import boto3
import pytest
from ansible_collections.sage.infra.plugins.modules import s3_bucket_logging as mod
from moto import mock_aws

REGION = "us-east-1"
SOURCE, TARGET = "sage-backups", "sage-access-logs"
MUTATING = ("Put", "Delete")


@pytest.fixture
def s3(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=SOURCE)
        client.create_bucket(Bucket=TARGET, ObjectOwnership="BucketOwnerEnforced")
        delivery = {
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{TARGET}/*",
        }
        client.put_bucket_policy(Bucket=TARGET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [delivery]}))
        yield client


@pytest.fixture
def run(module_runner):
    return module_runner(mod.main, region=REGION, name=SOURCE)


def logging(s3):
    return s3.get_bucket_logging(Bucket=SOURCE).get("LoggingEnabled")


def test_logging_is_turned_on_by_the_target_policy_alone_then_kept(run, s3, calls):
    result = run(target_bucket=TARGET, target_prefix="s3/sage-backups/", diff=True)
    assert result["changed"] is True
    assert result["diff"]["before"] == {"target_bucket": None, "target_prefix": None}
    assert logging(s3) == {"TargetBucket": TARGET, "TargetPrefix": "s3/sage-backups/"}
    assert "PutBucketAcl" not in calls and "GetBucketAcl" not in calls, "no ACL is read or granted"

    calls.clear()
    assert run(target_bucket=TARGET, target_prefix="s3/sage-backups/")["changed"] is False
    assert calls == ["GetBucketLogging"]


def test_another_prefix_in_check_mode_changes_nothing_then_logging_is_turned_off(run, s3, calls):
    run(target_bucket=TARGET, target_prefix="s3/")
    calls.clear()
    result = run(target_bucket=TARGET, target_prefix="s3/sage-backups/", check_mode=True)
    assert result["changed"] is True and not [call for call in calls if call.startswith(MUTATING)]
    assert logging(s3)["TargetPrefix"] == "s3/"

    result = run()
    assert result["changed"] is True and result["target_bucket"] is None
    assert logging(s3) is None
    assert run()["changed"] is False


def test_a_missing_bucket_fails_saying_so_and_counts_as_a_change_in_check_mode(run, s3):
    assert "does not exist" in run.fail(name="sage-nowhere", target_bucket=TARGET)
    assert run(name="sage-nowhere", target_bucket=TARGET, check_mode=True)["changed"] is True
    assert run(name="sage-nowhere")["changed"] is False, "a bucket that is not there logs nothing"

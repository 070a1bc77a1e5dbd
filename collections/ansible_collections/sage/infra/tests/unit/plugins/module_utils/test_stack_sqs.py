# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SQS queues as read and compared: the attributes community.aws.sqs_queue is given (as text, as it compares them)
and tags; a queue a disabled feature removes is a deletion."""

import boto3
import pytest
from ansible_collections.sage.infra.plugins.module_utils.stack import plan_entry
from ansible_collections.sage.infra.plugins.module_utils.stack_sqs import read_queues, same_attribute
from moto import mock_aws

REGION = "us-west-2"
NAME = "sage-discord-alert-dlq"
DESIRED = {"message_retention_period": 1209600, "tags": {"Project": "sage"}}


@pytest.fixture
def sqs(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def make_queue(sqs, retention="1209600", tags=None):
    return sqs.create_queue(
        QueueName=NAME, Attributes={"MessageRetentionPeriod": retention}, tags=tags or {"Project": "sage"}
    )["QueueUrl"]


def entry(sqs, *desired):
    return plan_entry("sqs_queue", NAME, desired[0] if desired else DESIRED, {"sqs_queue": read_queues(sqs, [NAME])})


def test_a_queue_as_made_is_in_sync_and_read_in_three_calls(sqs, calls):
    make_queue(sqs)
    calls.clear()
    assert entry(sqs)["action"] == "unchanged"
    assert sorted(calls) == ["GetQueueAttributes", "GetQueueUrl", "ListQueueTags"]
    view = read_queues(sqs, [NAME])[NAME]
    assert view["arn"].endswith(f":{NAME}") and view["message_retention_period"] == 1209600


def test_retention_and_tags_that_drift_are_named(sqs):
    make_queue(sqs, retention="3600", tags={"Project": "sage", "Owner": "me"})
    assert [change["attribute"] for change in entry(sqs)["changes"]] == ["message_retention_period", "tags"]


def test_a_missing_queue_is_created_and_a_disabled_one_deleted(sqs):
    assert entry(sqs)["action"] == "create"
    assert entry(sqs, None)["action"] == "unchanged"
    make_queue(sqs)
    assert entry(sqs, None)["action"] == "delete"


def test_attributes_compare_as_the_module_compares_them():
    assert same_attribute(1209600, "1209600") and same_attribute(True, "true")
    assert not same_attribute(60, "30")
    assert not same_attribute(60, None), "an attribute the read did not find differs"

# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SNS topics as read and compared: display name, tags, the KMS key, and the subscriptions the stack needs among
whatever others people added."""

import boto3
import pytest
from ansible_collections.sage.infra.plugins.module_utils.stack import plan_entry
from ansible_collections.sage.infra.plugins.module_utils.stack_sns import read_topics, topic_key
from moto import mock_aws

REGION = "us-west-2"
FUNCTION = "arn:aws:lambda:us-west-2:123456789012:function:sage-discord-alert"
DESIRED = {
    "display_name": "Sage.ai alerts",
    "tags": {"Project": "sage"},
    "kms_master_key_id": "",
    "subscriptions": [{"protocol": "lambda", "endpoint": FUNCTION}],
}


@pytest.fixture
def sns(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("sns", region_name=REGION)


def make_topic(sns, subscribe=True):
    arn = sns.create_topic(
        Name="sage-alerts", Attributes={"DisplayName": "Sage.ai alerts"}, Tags=[{"Key": "Project", "Value": "sage"}]
    )["TopicArn"]
    if subscribe:
        sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=FUNCTION)
    return arn


def entry(sns, *desired):
    return plan_entry(
        "sns_topic", "sage-alerts", desired[0] if desired else DESIRED, {"sns_topic": read_topics(sns, ["sage-alerts"])}
    )


def test_a_topic_as_made_is_in_sync_even_with_subscriptions_people_added(sns, calls):
    arn = make_topic(sns)
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="oncall@example.com")
    calls.clear()
    assert entry(sns)["action"] == "unchanged"
    assert sorted(calls) == ["GetTopicAttributes", "ListSubscriptionsByTopic", "ListTagsForResource", "ListTopics"]


def test_the_subscription_deleted_by_hand_is_named(sns):
    arn = make_topic(sns)
    for subscription in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]:
        sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    result = entry(sns)
    assert [change["attribute"] for change in result["changes"]] == ["subscriptions"]
    assert result["changes"][0]["current"] == []


def test_display_name_key_and_tags_that_drift_are_named(sns):
    arn = make_topic(sns)
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="other")
    sns.set_topic_attributes(TopicArn=arn, AttributeName="KmsMasterKeyId", AttributeValue="alias/aws/sns")
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "Owner", "Value": "me"}])
    result = entry(sns)
    assert [change["attribute"] for change in result["changes"]] == ["display_name", "tags", "kms_master_key_id"]


def test_a_missing_topic_is_created(sns):
    assert read_topics(sns, ["sage-alerts"]) == {"sage-alerts": None}
    assert entry(sns)["action"] == "create"


def test_the_key_of_a_topic_not_encrypted_is_empty():
    assert topic_key({"DisplayName": "x"}) == "" and topic_key(None) == ""
    assert topic_key({"KmsMasterKeyId": "alias/k"}) == "alias/k"

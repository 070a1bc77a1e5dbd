# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SNS topics, as community.aws.sns_topic (display name, tags with purge_tags, subscriptions with
purge_subscriptions false) and sage.infra.sns_topic_encryption (the KMS key) manage them.

The desired subscriptions are the ones the stack needs: a subscription someone else added stays (purge_subscriptions
is false), so the topic is in sync when each desired one is there, whatever else is."""

from __future__ import annotations

from ansible_collections.sage.infra.plugins.module_utils.stack import Kind, canonical, fan_out, register, tag_dict


def subscription_key(subscription):
    """A subscription ({protocol, endpoint}, or SNS's {Protocol, Endpoint, ...}) as the module tells them apart."""
    return canonical(
        {
            "protocol": subscription.get("protocol", subscription.get("Protocol")),
            "endpoint": subscription.get("endpoint", subscription.get("Endpoint")),
        }
    )


def has_subscriptions(desired, current):
    """Whether every desired subscription is among the current ones (the others are not the stack's)."""
    found = [subscription_key(subscription) for subscription in current or []]
    return all(subscription_key(subscription) in found for subscription in desired or [])


def topic_key(attributes):
    """The KMS key of a topic from its attributes (GetTopicAttributes), "" when it is not encrypted."""
    return (attributes or {}).get("KmsMasterKeyId") or ""


register(Kind("sns_topic", compare={"subscriptions": has_subscriptions}))


def read_topics(client, names):
    """{name: {arn, display_name, kms_master_key_id, subscriptions, tags} or None}: ListTopics once (SNS finds a
    topic by ARN only), then for each topic found its attributes, subscriptions and tags, concurrently."""
    arns = {
        topic["TopicArn"].rsplit(":", 1)[-1]: topic["TopicArn"]
        for page in client.get_paginator("list_topics").paginate()
        for topic in page["Topics"]
    }

    def subscriptions(arn):
        pages = client.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn)
        return [
            {"protocol": sub["Protocol"], "endpoint": sub["Endpoint"]}
            for page in pages
            for sub in page["Subscriptions"]
        ]

    def read(name):
        arn = arns.get(name)
        if arn is None:
            return None
        calls = (
            lambda: client.get_topic_attributes(TopicArn=arn)["Attributes"],
            lambda: subscriptions(arn),
            lambda: tag_dict(client.list_tags_for_resource(ResourceArn=arn).get("Tags")),
        )
        try:
            read_parts = fan_out(lambda index: calls[index](), range(len(calls)))
        except client.exceptions.NotFoundException:
            return None  # deleted since ListTopics
        attributes = read_parts[0]
        return {
            "arn": arn,
            "display_name": attributes.get("DisplayName", ""),
            "kms_master_key_id": topic_key(attributes),
            "subscriptions": read_parts[1],
            "tags": read_parts[2],
        }

    return fan_out(read, names)


READERS = {"sns_topic": ("sns", read_topics)}

# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SQS queues, as community.aws.sqs_queue manages them: the attributes it is given (compared as text, as the
module compares them) and tags (purge_tags)."""

from __future__ import annotations

from ansible_collections.sage.infra.plugins.module_utils.stack import Kind, fan_out, register, tag_dict


def same_attribute(desired, current):
    """An attribute as the module compares it: as text (SQS answers every attribute as text), booleans in lower case."""

    def text(value):
        return str(value).lower() if isinstance(value, bool) else str(value)

    return desired is not None and current is not None and text(desired) == text(current)


# The queue attributes a role may give, by the module's option name.
ATTRIBUTES = {
    "message_retention_period": "MessageRetentionPeriod",
    "delay_seconds": "DelaySeconds",
    "maximum_message_size": "MaximumMessageSize",
    "receive_message_wait_time_seconds": "ReceiveMessageWaitTimeSeconds",
    "visibility_timeout": "VisibilityTimeout",
    "kms_master_key_id": "KmsMasterKeyId",
    "kms_data_key_reuse_period_seconds": "KmsDataKeyReusePeriodSeconds",
}

register(Kind("sqs_queue", compare={option: same_attribute for option in ATTRIBUTES}))


# GetQueueUrl's answer for a queue that does not exist (the JSON and the older query protocol).
_NO_QUEUE = ("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue")


def _number(value):
    return int(value) if isinstance(value, str) and value.isdigit() else value


def read_queues(client, names):
    """{name: {url, arn, tags, and each attribute of ATTRIBUTES that the queue has} or None}: GetQueueUrl, then
    GetQueueAttributes and ListQueueTags."""

    def read(name):
        try:
            url = client.get_queue_url(QueueName=name)["QueueUrl"]
        except client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") not in _NO_QUEUE:
                raise
            return None
        attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        view = {option: _number(attributes.get(key)) for option, key in ATTRIBUTES.items()}
        view.update(
            url=url, arn=attributes.get("QueueArn"), tags=tag_dict(client.list_queue_tags(QueueUrl=url).get("Tags"))
        )
        return view

    return fan_out(read, names)


READERS = {"sqs_queue": ("sqs", read_queues)}

#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: sns_topic_encryption
version_added: 0.1.0
short_description: Set or remove the server-side encryption (KMS key) of an existing SNS topic
description:
  - Set the C(KmsMasterKeyId) attribute of an existing Amazon SNS topic, which turns server-side encryption
    on with that KMS key, or set it to the empty string, which turns it off.
  - This module exists because M(community.aws.sns_topic) creates topics and manages their subscriptions and
    policies, but has no option for server-side encryption. Create the topic with M(community.aws.sns_topic),
    then encrypt it with this module.
  - Makes one C(GetTopicAttributes) call, then one C(SetTopicAttributes) call only when the key differs;
    a run that changes nothing makes a single API call.
  - The API calls are made in the region of O(topic_arn), whatever O(region) says, since a topic can only be
    addressed in its own region.
author:
  - sage-infra developers (!UNKNOWN)
options:
  topic_arn:
    description:
      - ARN of the topic, for example V(arn:aws:sns:eu-west-1:123456789012:sage-alerts).
      - Must have the shape C(arn:<partition>:sns:<region>:<12 digit account>:<topic name>); it is checked
        before any AWS call.
      - The topic must exist; the module fails when it does not.
    type: str
    required: true
  kms_key_id:
    description:
      - The KMS key to encrypt the topic with, as a key ID, a key ARN, an alias name (V(alias/...)) or an
        alias ARN. V(alias/aws/sns) is the AWS managed key of SNS.
      - The empty string, the default, means the topic is not encrypted.
      - Compared verbatim with the C(KmsMasterKeyId) that C(GetTopicAttributes) returns (which is what was set),
        so use the same form on every run to stay idempotent.
    type: str
    default: ""
notes:
  - With a customer managed key, the key policy must allow the services and principals that publish to the topic
    (for example V(cloudwatch.amazonaws.com) for CloudWatch alarm actions, or V(events.amazonaws.com) for
    EventBridge) the actions C(kms:GenerateDataKey*) and C(kms:Decrypt) on the key; otherwise their messages are
    not delivered. The policy of the AWS managed key V(alias/aws/sns) cannot be changed, so AWS services such as
    CloudWatch cannot publish to a topic encrypted with it.
  - In check mode nothing is changed; C(changed) tells whether the key would be changed.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Create the alerts topic
  community.aws.sns_topic:
    name: sage-alerts
  register: alerts_topic

- name: Encrypt it with a customer managed key whose policy lets CloudWatch publish
  sage.infra.sns_topic_encryption:
    topic_arn: "{{ alerts_topic.sns_arn }}"
    kms_key_id: alias/sage-alerts

- name: Encrypt a topic with a key given by its ARN
  sage.infra.sns_topic_encryption:
    topic_arn: arn:aws:sns:eu-west-1:123456789012:sage-events
    kms_key_id: arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab

- name: Turn server-side encryption off
  sage.infra.sns_topic_encryption:
    topic_arn: arn:aws:sns:eu-west-1:123456789012:sage-events
    kms_key_id: ""
"""

RETURN = r"""
topic_arn:
  description: ARN of the topic.
  type: str
  returned: always
  sample: "arn:aws:sns:eu-west-1:123456789012:sage-alerts"
kms_key_id:
  description:
    - The KMS key of the topic after the run (in check mode, the one it would have).
    - The empty string when the topic is not encrypted.
  type: str
  returned: always
  sample: "alias/sage-alerts"
"""

import re

try:
    import botocore
except ImportError:
    pass  # caught by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.sage.infra.plugins.module_utils.stack_sns import topic_key

# arn:<partition>:sns:<region>:<account>:<name>; topic names are 1 to 256 letters, digits, "_" and "-",
# a FIFO topic's ending in ".fifo" (counted in the 256).
TOPIC_ARN = re.compile(
    r"arn:(?P<partition>aws(?:-[a-z]+)*):sns:(?P<region>[a-z]{2,}(?:-[a-z]+)+-\d+):(?P<account>\d{12}):"
    r"(?P<name>[A-Za-z0-9_-]{1,256}|[A-Za-z0-9_-]{1,251}\.fifo)"
)
KEY_ID = r"(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|mrk-[0-9a-fA-F]{32})"
ALIAS = r"alias/[A-Za-z0-9/_-]{1,250}"
KMS_ARN = r"arn:aws(?:-[a-z]+)*:kms:[a-z]{2,}(?:-[a-z]+)+-\d+:\d{12}:"
KMS_KEY = re.compile(rf"{KEY_ID}|{ALIAS}|{KMS_ARN}(?:key/{KEY_ID}|{ALIAS})")


def check_params(module):
    """Fail, naming the option, on a malformed topic ARN or KMS key; the topic's region otherwise."""
    arn, key = module.params["topic_arn"], module.params["kms_key_id"]
    match = TOPIC_ARN.fullmatch(arn)
    if not match:
        module.fail_json(
            msg=f"topic_arn must be an SNS topic ARN, arn:<partition>:sns:<region>:<12 digit account>:<topic name>; "
            f"got {arn!r}"
        )
    if key and not KMS_KEY.fullmatch(key):
        module.fail_json(
            msg=f"kms_key_id must be a KMS key ID, key ARN, alias name (alias/...) or alias ARN, "
            f"or the empty string for no encryption; got {key!r}"
        )
    return match.group("region")


def current_key(module, client):
    """The KmsMasterKeyId of the topic, "" when it is not encrypted."""
    arn = module.params["topic_arn"]
    try:
        response = client.get_topic_attributes(aws_retry=True, TopicArn=arn)
    except is_boto3_error_code("NotFound"):
        module.fail_json(msg=f"SNS topic {arn} does not exist")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to get the attributes of SNS topic {arn}")
    return topic_key(response.get("Attributes"))


def set_key(module, client, key):
    arn = module.params["topic_arn"]
    try:
        client.set_topic_attributes(aws_retry=True, TopicArn=arn, AttributeName="KmsMasterKeyId", AttributeValue=key)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to set the KMS key of SNS topic {arn}")


def main():
    argument_spec = {
        "topic_arn": {"type": "str", "required": True},
        "kms_key_id": {"type": "str", "default": "", "no_log": False},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    region = check_params(module)
    arn, desired = module.params["topic_arn"], module.params["kms_key_id"]

    client = module.client("sns", retry_decorator=AWSRetry.jittered_backoff(), region=region)
    before = current_key(module, client)
    changed = before != desired
    if changed and not module.check_mode:
        set_key(module, client, desired)

    result = {"changed": changed, "topic_arn": arn, "kms_key_id": desired}
    if module._diff:
        result["diff"] = {"before": {"kms_key_id": before}, "after": {"kms_key_id": desired}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()

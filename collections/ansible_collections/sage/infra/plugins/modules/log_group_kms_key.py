#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: log_group_kms_key
version_added: 0.1.0
short_description: Set or remove the KMS key of an existing CloudWatch Logs log group
description:
  - Encrypt an existing log group's new log events with a customer managed KMS key (C(AssociateKmsKey)), or go back
    to CloudWatch Logs' own encryption (C(DisassociateKmsKey)).
  - This module exists because M(amazon.aws.cloudwatchlogs_log_group) sets a key only when it creates a log group, so
    a log group created before the key stayed without it. Create the group with that module, then use this one.
  - Makes one C(DescribeLogGroups) call, then one write only when the key differs.
author:
  - sage-infra developers (!UNKNOWN)
options:
  log_group_name:
    description: The log group. It must exist (in check mode a missing one counts as a change).
    type: str
    required: true
  kms_key_id:
    description:
      - The key's ARN (CloudWatch Logs takes no alias). Its policy must let C(logs.<region>.amazonaws.com) use it
        for this log group.
      - Not set, or empty - the log group is no longer encrypted with a customer managed key.
    type: str
notes:
  - In check mode nothing is changed; C(changed) tells whether the key would be changed.
  - Log events already stored stay encrypted as they were; only new ones use the new key.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: The backend's log group is encrypted with the stack's log key
  sage.infra.log_group_kms_key:
    log_group_name: /ecs/sage-backend
    kms_key_id: arn:aws:kms:us-west-2:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b
"""

RETURN = r"""
kms_key_id:
  description: The log group's key after the run (in check mode, the one it would have); V(null) for none.
  type: str
  returned: always
  sample: arn:aws:kms:us-west-2:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b
"""

try:
    import botocore
except ImportError:
    pass  # caught by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.sage.infra.plugins.module_utils.one_setting import exit_with_setting


def current_key(module, client, name):
    """(whether the log group exists, its kmsKeyId or None)."""
    try:
        paginator = client.get_paginator("describe_log_groups")
        found = paginator.paginate(logGroupNamePrefix=name).build_full_result().get("logGroups", [])
        groups = [group for group in found if group["logGroupName"] == name]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to describe log group {name}")
    return (True, groups[0].get("kmsKeyId")) if groups else (False, None)


def main():
    argument_spec = {"log_group_name": {"type": "str", "required": True}, "kms_key_id": {"type": "str"}}
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    name, wanted = module.params["log_group_name"], module.params["kms_key_id"] or None

    client = module.client("logs", retry_decorator=AWSRetry.jittered_backoff())
    exists, before = current_key(module, client, name)
    if not exists and not module.check_mode:
        module.fail_json(msg=f"Log group {name} does not exist: create it first (amazon.aws.cloudwatchlogs_log_group)")

    def write():
        if wanted:
            client.associate_kms_key(aws_retry=True, logGroupName=name, kmsKeyId=wanted)
        else:
            client.disassociate_kms_key(aws_retry=True, logGroupName=name)

    exit_with_setting(
        module,
        {"kms_key_id": before},
        {"kms_key_id": wanted},
        write,
        f"the KMS key of log group {name}",
        changed=not exists or before != wanted,
    )


if __name__ == "__main__":
    main()

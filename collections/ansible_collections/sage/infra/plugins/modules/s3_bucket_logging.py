#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: s3_bucket_logging
version_added: 0.1.0
short_description: Turn an S3 bucket's server access logging on or off, for a target bucket without ACLs
description:
  - Set where S3 writes the server access logs of an existing bucket, or stop them.
  - This module exists because M(community.aws.s3_logging) first adds a C(FULL_CONTROL) grant for the log delivery
    group to the target bucket's ACL, which a bucket with ACLs disabled (object ownership C(BucketOwnerEnforced),
    AWS's default and recommendation) refuses. AWS grants the delivery with the target bucket's policy instead
    (principal C(logging.s3.amazonaws.com)); this module never touches an ACL.
  - Makes one C(GetBucketLogging) call, then one C(PutBucketLogging) call only when the target differs.
author:
  - sage-infra developers (!UNKNOWN)
options:
  name:
    description:
      - The bucket whose access is logged. It must exist (in check mode a missing one counts as a change), unless
        logging is to be off.
    type: str
    required: true
  target_bucket:
    description:
      - The bucket the logs go to, in the same region and account, whose policy lets C(logging.s3.amazonaws.com)
        C(s3:PutObject).
      - Not set, or empty - logging is turned off.
    type: str
  target_prefix:
    description: The key prefix of the logs in O(target_bucket), for example V(s3/sage-backups/).
    type: str
    default: ""
notes:
  - In check mode nothing is changed; C(changed) tells whether the logging would be changed.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: The backup bucket's access logs go to the log bucket
  sage.infra.s3_bucket_logging:
    name: sage-backups
    target_bucket: sage-access-logs
    target_prefix: s3/sage-backups/

- name: No access logs
  sage.infra.s3_bucket_logging:
    name: sage-backups
"""

RETURN = r"""
target_bucket:
  description: The bucket the logs go to after the run (in check mode, would go to); V(null) when logging is off.
  type: str
  returned: always
  sample: sage-access-logs
target_prefix:
  description: The key prefix of the logs after the run; V(null) when logging is off.
  type: str
  returned: always
  sample: s3/sage-backups/
"""

try:
    import botocore
except ImportError:
    pass  # caught by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.sage.infra.plugins.module_utils.one_setting import exit_with_setting
from ansible_collections.sage.infra.plugins.module_utils.stack_s3 import logging_view


def main():
    argument_spec = {
        "name": {"type": "str", "required": True},
        "target_bucket": {"type": "str"},
        "target_prefix": {"type": "str", "default": ""},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    name, target = module.params["name"], module.params["target_bucket"] or None
    desired = {"target_bucket": target, "target_prefix": module.params["target_prefix"] if target else None}

    client = module.client("s3", retry_decorator=AWSRetry.jittered_backoff())
    try:
        before = logging_view(client.get_bucket_logging(aws_retry=True, Bucket=name))
    except is_boto3_error_code("NoSuchBucket"):
        if target is None:
            module.exit_json(changed=False, **desired)  # a bucket that is not there logs nothing
        if not module.check_mode:
            module.fail_json(msg=f"S3 bucket {name} does not exist: create it first")
        before = {}
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to read the access logging of S3 bucket {name}")

    status = {"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": desired["target_prefix"]}} if target else {}
    exit_with_setting(
        module,
        before,
        desired,
        lambda: client.put_bucket_logging(aws_retry=True, Bucket=name, BucketLoggingStatus=status),
        f"the access logging of S3 bucket {name}",
    )


if __name__ == "__main__":
    main()

#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: vpc_endpoint_policy
version_added: 0.1.0
short_description: Set the policy of an existing VPC endpoint
description:
  - Set the policy document of an existing gateway or interface VPC endpoint, which limits what can be reached
    through it.
  - This module exists because M(amazon.aws.ec2_vpc_endpoint) sets a policy only when it creates an endpoint,
    and leaves the policy of an existing one as it is. Create the endpoint with M(amazon.aws.ec2_vpc_endpoint),
    then keep its policy with this module.
  - Makes one C(DescribeVpcEndpoints) call, then one C(ModifyVpcEndpoint) call only when the policy differs. Policies
    are compared by meaning (statement order, a single value or a list of one, JSON formatting do not count).
author:
  - sage-infra developers (!UNKNOWN)
options:
  vpc_endpoint_id:
    description:
      - ID of the endpoint, V(vpce-...). It must exist (in check mode a missing one counts as a change).
    type: str
    required: true
  policy:
    description:
      - The policy document, as a dict or JSON text.
    type: json
    required: true
notes:
  - In check mode nothing is changed; C(changed) tells whether the policy would be changed.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Through the endpoint, only the backups bucket and ECR's layers
  sage.infra.vpc_endpoint_policy:
    vpc_endpoint_id: vpce-0123456789abcdef0
    policy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: "*"
          Action: s3:GetObject
          Resource: arn:aws:s3:::prod-us-west-2-starport-layer-bucket/*
"""

RETURN = r"""
policy:
  description: The endpoint's policy after the run (in check mode, the one it would have).
  type: dict
  returned: always
"""

import json
import re

try:
    import botocore
except ImportError:
    pass  # caught by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.sage.infra.plugins.module_utils.one_setting import exit_with_setting
from ansible_collections.sage.infra.plugins.module_utils.stack import canonical_policy


def main():
    argument_spec = {
        "vpc_endpoint_id": {"type": "str", "required": True},
        "policy": {"type": "json", "required": True},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    endpoint_id = module.params["vpc_endpoint_id"]
    if not re.fullmatch(r"vpce-[0-9a-f]{8,17}", endpoint_id):
        module.fail_json(
            msg=f"vpc_endpoint_id must be a VPC endpoint ID such as vpce-0123456789abcdef0; got {endpoint_id!r}"
        )
    desired = json.loads(module.params["policy"])
    if not isinstance(desired, dict) or "Statement" not in desired:
        module.fail_json(msg="policy must be a policy document with a Statement")

    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        (endpoint,) = client.describe_vpc_endpoints(aws_retry=True, VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
        before = json.loads(endpoint.get("PolicyDocument") or "{}")
    except is_boto3_error_code("InvalidVpcEndpointId.NotFound"):
        if not module.check_mode:
            module.fail_json(
                msg=f"VPC endpoint {endpoint_id} does not exist: create it first (amazon.aws.ec2_vpc_endpoint)"
            )
        before = {}
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to describe VPC endpoint {endpoint_id}")

    exit_with_setting(
        module,
        {"policy": before},
        {"policy": desired},
        lambda: client.modify_vpc_endpoint(
            aws_retry=True, VpcEndpointId=endpoint_id, PolicyDocument=json.dumps(desired)
        ),
        f"the policy of VPC endpoint {endpoint_id}",
        changed=canonical_policy(before) != canonical_policy(desired),
    )


if __name__ == "__main__":
    main()

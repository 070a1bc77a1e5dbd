#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ec2_vpc_flow_log
version_added: 0.1.0
short_description: Manage one VPC flow log of a VPC, subnet or network interface
description:
  - Create, replace, tag or delete a single VPC flow log of one VPC, subnet or elastic network interface.
  - The flow log is identified by O(resource_id), O(traffic_type) and its destination
    (O(log_group_name) for CloudWatch Logs, O(log_destination) for S3).
  - Flow logs cannot be modified in place. When a matching flow log exists but O(deliver_logs_permission_arn),
    O(max_aggregation_interval) or O(log_format) differ, the flow log is deleted and created again.
    Tags are updated in place.
author:
  - sage-infra developers (!UNKNOWN)
options:
  resource_id:
    description:
      - ID of the resource whose traffic is logged.
      - The resource type is derived from the prefix, V(vpc-) for a VPC, V(subnet-) for a subnet
        and V(eni-) for a network interface.
    required: true
    type: str
  state:
    description:
      - Whether the flow log should exist.
      - With O(state=absent) every flow log matching O(resource_id), O(traffic_type) and the destination is deleted.
    default: present
    choices: ['present', 'absent']
    type: str
  traffic_type:
    description:
      - The type of traffic to log.
    default: ALL
    choices: ['ACCEPT', 'REJECT', 'ALL']
    type: str
  log_destination_type:
    description:
      - Where the flow log records are delivered.
    default: cloud-watch-logs
    choices: ['cloud-watch-logs', 's3']
    type: str
  log_group_name:
    description:
      - Name of the CloudWatch Logs log group the flow log records are delivered to.
      - Required when O(log_destination_type=cloud-watch-logs). Ignored when O(log_destination_type=s3).
    type: str
  deliver_logs_permission_arn:
    description:
      - ARN of the IAM role that allows the flow log to publish to CloudWatch Logs.
      - Required when O(state=present) and O(log_destination_type=cloud-watch-logs).
      - Ignored when O(log_destination_type=s3).
    type: str
  log_destination:
    description:
      - ARN of the S3 bucket (optionally followed by a folder, for example V(arn:aws:s3:::my-bucket/flow-logs/))
        the flow log records are delivered to.
      - Required when O(log_destination_type=s3). Ignored when O(log_destination_type=cloud-watch-logs).
    type: str
  max_aggregation_interval:
    description:
      - Maximum interval of time, in seconds, during which a flow of packets is captured into a flow log record.
    default: 600
    choices: [60, 600]
    type: int
  log_format:
    description:
      - Fields to include in the flow log record, in the order in which they should appear.
      - When not set, AWS uses the default format on creation and the format of an existing flow log is not compared.
    type: str
notes:
  - Replacing a flow log deletes the old flow log before creating the new one, because AWS refuses two flow logs
    with the same configuration and destination. If the creation fails, the resource is left without that flow log.
  - Flow logs are tagged with the EC2 tagging API on the flow log ID.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: Log all traffic of a VPC to CloudWatch Logs
  sage.infra.ec2_vpc_flow_log:
    resource_id: vpc-0123456789abcdef0
    log_group_name: /sage/vpc-flow-logs
    deliver_logs_permission_arn: arn:aws:iam::123456789012:role/vpc-flow-logs
    tags:
      Project: sage
  register: flow_log

- name: Log rejected traffic of a subnet to S3, aggregated every minute
  sage.infra.ec2_vpc_flow_log:
    resource_id: subnet-0123456789abcdef0
    traffic_type: REJECT
    log_destination_type: s3
    log_destination: arn:aws:s3:::sage-flow-logs/subnets/
    max_aggregation_interval: 60

- name: Remove the flow log of a VPC
  sage.infra.ec2_vpc_flow_log:
    resource_id: vpc-0123456789abcdef0
    log_group_name: /sage/vpc-flow-logs
    state: absent
"""

RETURN = r"""
flow_log:
  description:
    - The flow log.
    - In check mode, when the flow log would be created or replaced, the desired flow log without
      RV(flow_log.flow_log_id).
  returned: when O(state=present)
  type: dict
  contains:
    flow_log_id:
      description: ID of the flow log.
      returned: when the flow log exists
      type: str
      sample: fl-0123456789abcdef0
    resource_id:
      description: ID of the resource whose traffic is logged.
      returned: always
      type: str
      sample: vpc-0123456789abcdef0
    traffic_type:
      description: The type of traffic logged.
      returned: always
      type: str
      sample: ALL
    log_destination_type:
      description: Where the flow log records are delivered.
      returned: always
      type: str
      sample: cloud-watch-logs
    log_group_name:
      description: Name of the CloudWatch Logs log group.
      returned: when the destination is CloudWatch Logs
      type: str
      sample: /sage/vpc-flow-logs
    log_destination:
      description: ARN of the destination (the S3 bucket, or the log group for CloudWatch Logs).
      returned: when AWS reports it, or when the destination is S3
      type: str
      sample: arn:aws:s3:::sage-flow-logs/subnets/
    deliver_logs_permission_arn:
      description: ARN of the IAM role used to publish to CloudWatch Logs.
      returned: when the destination is CloudWatch Logs
      type: str
      sample: arn:aws:iam::123456789012:role/vpc-flow-logs
    deliver_logs_status:
      description: Status of the logs delivery.
      returned: when the flow log exists
      type: str
      sample: SUCCESS
    flow_log_status:
      description: Status of the flow log.
      returned: when the flow log exists
      type: str
      sample: ACTIVE
    max_aggregation_interval:
      description: Maximum aggregation interval in seconds.
      returned: always
      type: int
      sample: 600
    log_format:
      description: Format of the flow log records.
      returned: when the flow log exists or O(log_format) is set
      type: str
      sample: "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${action}"
    creation_time:
      description: When the flow log was created.
      returned: when the flow log exists
      type: str
      sample: "2025-01-01T00:00:00+00:00"
    tags:
      description: Tags of the flow log.
      returned: always
      type: dict
      sample: {"Project": "sage"}
"""

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.ec2 import add_ec2_tags, remove_ec2_tags
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    boto3_tag_list_to_ansible_dict,
    boto3_tag_specifications,
    compare_aws_tags,
)

RESOURCE_TYPES = {"vpc-": "VPC", "subnet-": "Subnet", "eni-": "NetworkInterface"}


def resource_type_of(module, resource_id):
    for prefix, resource_type in RESOURCE_TYPES.items():
        if resource_id.startswith(prefix):
            return resource_type
    module.fail_json(
        msg=f"Unsupported resource_id {resource_id!r}: resource_id must start with vpc-, subnet- or eni-.",
        resource_id=resource_id,
    )


def normalize(flow_log):
    result = camel_dict_to_snake_dict(flow_log, ignore_list=["Tags"])
    result["tags"] = boto3_tag_list_to_ansible_dict(flow_log.get("Tags", []))
    return result


def summary(flow_log):
    """The attributes shown in the diff, taken from a normalized flow log."""
    keys = ["resource_id", "traffic_type", "log_destination_type", "max_aggregation_interval", "log_format", "tags"]
    if flow_log.get("log_destination_type") == "s3":
        keys.append("log_destination")
    else:
        keys += ["log_group_name", "deliver_logs_permission_arn"]
    return {key: flow_log[key] for key in sorted(keys) if flow_log.get(key) is not None}


def find_flow_logs(module, client):
    params = module.params
    filters = {
        "resource-id": params["resource_id"],
        "traffic-type": params["traffic_type"],
        "log-destination-type": params["log_destination_type"],
    }
    if params["log_destination_type"] == "cloud-watch-logs":
        filters["log-group-name"] = params["log_group_name"]
    try:
        flow_logs = client.describe_flow_logs(
            aws_retry=True, Filters=[{"Name": key, "Values": [value]} for key, value in filters.items()]
        )["FlowLogs"]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"Failed to describe flow logs of {params['resource_id']}")
    if params["log_destination_type"] == "s3":
        # DescribeFlowLogs has no filter on the destination ARN.
        wanted = params["log_destination"].rstrip("/")
        flow_logs = [fl for fl in flow_logs if (fl.get("LogDestination") or "").rstrip("/") == wanted]
    return [normalize(fl) for fl in flow_logs]


def delete_flow_logs(module, client, flow_log_ids):
    if module.check_mode or not flow_log_ids:
        return
    try:
        client.delete_flow_logs(aws_retry=True, FlowLogIds=flow_log_ids)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"Failed to delete flow logs {', '.join(flow_log_ids)}")


def create_flow_log(module, client, desired):
    params = module.params
    request = {
        "ResourceIds": [params["resource_id"]],
        "ResourceType": resource_type_of(module, params["resource_id"]),
        "TrafficType": params["traffic_type"],
        "LogDestinationType": params["log_destination_type"],
        "MaxAggregationInterval": params["max_aggregation_interval"],
    }
    if params["log_destination_type"] == "s3":
        request["LogDestination"] = params["log_destination"]
    else:
        request["LogGroupName"] = params["log_group_name"]
        request["DeliverLogsPermissionArn"] = params["deliver_logs_permission_arn"]
    if params["log_format"] is not None:
        request["LogFormat"] = params["log_format"]
    tags = {k: v for k, v in desired["tags"].items() if not k.startswith("aws:")}
    if tags:
        request["TagSpecifications"] = boto3_tag_specifications(tags, ["vpc-flow-log"])

    try:
        response = client.create_flow_logs(aws_retry=True, **request)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"Failed to create flow log for {params['resource_id']}")
    if response.get("Unsuccessful"):
        errors = "; ".join(item.get("Error", {}).get("Message", "unknown error") for item in response["Unsuccessful"])
        module.fail_json(
            msg=f"Failed to create flow log for {params['resource_id']}: {errors}",
            unsuccessful=camel_dict_to_snake_dict({"Unsuccessful": response["Unsuccessful"]})["unsuccessful"],
        )
    flow_log_id = response["FlowLogIds"][0]

    try:
        created = client.describe_flow_logs(aws_retry=True, FlowLogIds=[flow_log_id])["FlowLogs"]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"Failed to describe flow log {flow_log_id}")
    if created:
        return normalize(created[0])
    # Eventual consistency: report what was requested.
    return dict(desired, flow_log_id=flow_log_id)


def main():
    argument_spec = {
        "resource_id": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "traffic_type": {"type": "str", "default": "ALL", "choices": ["ACCEPT", "REJECT", "ALL"]},
        "log_destination_type": {"type": "str", "default": "cloud-watch-logs", "choices": ["cloud-watch-logs", "s3"]},
        "log_group_name": {"type": "str"},
        "deliver_logs_permission_arn": {"type": "str"},
        "log_destination": {"type": "str"},
        "max_aggregation_interval": {"type": "int", "default": 600, "choices": [60, 600]},
        "log_format": {"type": "str"},
        "tags": {"type": "dict", "aliases": ["resource_tags"]},
        "purge_tags": {"type": "bool", "default": True},
    }
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_if=[
            ("log_destination_type", "cloud-watch-logs", ["log_group_name"]),
            ("log_destination_type", "s3", ["log_destination"]),
        ],
        supports_check_mode=True,
    )
    params = module.params
    cloudwatch = params["log_destination_type"] == "cloud-watch-logs"
    resource_type_of(module, params["resource_id"])
    if params["state"] == "present" and cloudwatch and not params["deliver_logs_permission_arn"]:
        module.fail_json(
            msg="deliver_logs_permission_arn is required when state=present and log_destination_type=cloud-watch-logs"
        )

    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    matches = find_flow_logs(module, client)

    if params["state"] == "absent":
        delete_flow_logs(module, client, [fl["flow_log_id"] for fl in matches])
        module.exit_json(
            changed=bool(matches),
            diff={"before": summary(matches[0]) if matches else {}, "after": {}},
        )

    if len(matches) > 1:
        module.fail_json(
            msg=f"Found {len(matches)} flow logs matching {params['resource_id']}, cannot decide which one to manage",
            flow_log_ids=[fl["flow_log_id"] for fl in matches],
        )
    existing = matches[0] if matches else None

    current_tags = existing["tags"] if existing else {}
    tags_to_set, tags_to_unset = {}, []
    if params["tags"] is None:
        desired_tags = current_tags
    else:
        tags_to_set, tags_to_unset = compare_aws_tags(current_tags, params["tags"], params["purge_tags"])
        desired_tags = {k: v for k, v in current_tags.items() if k not in tags_to_unset}
        desired_tags.update(tags_to_set)

    desired = {
        "resource_id": params["resource_id"],
        "traffic_type": params["traffic_type"],
        "log_destination_type": params["log_destination_type"],
        "max_aggregation_interval": params["max_aggregation_interval"],
        "log_format": params["log_format"],
        "tags": desired_tags,
    }
    if cloudwatch:
        desired.update(
            log_group_name=params["log_group_name"], deliver_logs_permission_arn=params["deliver_logs_permission_arn"]
        )
    else:
        desired["log_destination"] = params["log_destination"]
    if existing:
        if params["log_format"] is None:
            desired["log_format"] = existing.get("log_format")
        if not cloudwatch:
            # Matched ignoring a trailing slash; keep the ARN as AWS reports it.
            desired["log_destination"] = existing["log_destination"]

    before = summary(existing) if existing else {}
    if existing and summary(dict(existing, tags={})) == summary(dict(desired, tags={})):
        # Only tags may differ: update them in place.
        changed = remove_ec2_tags(client, module, existing["flow_log_id"], tags_to_unset)
        changed |= add_ec2_tags(client, module, existing["flow_log_id"], tags_to_set)
        flow_log = dict(existing, tags=desired_tags)
    else:
        changed = True
        if existing:
            delete_flow_logs(module, client, [existing["flow_log_id"]])
        if module.check_mode:
            flow_log = {k: v for k, v in desired.items() if v is not None}
        else:
            flow_log = create_flow_log(module, client, desired)

    module.exit_json(changed=changed, flow_log=flow_log, diff={"before": before, "after": summary(desired)})


if __name__ == "__main__":
    main()

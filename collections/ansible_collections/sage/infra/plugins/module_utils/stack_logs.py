# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CloudWatch Logs log groups, as amazon.aws.cloudwatchlogs_log_group manages them: retention and tags
(purge_tags), and the KMS key (which that module sets only at creation; sage.infra.log_group_kms_key sets it on an
existing group), compared where a role asks for one."""

from __future__ import annotations

from ansible_collections.sage.infra.plugins.module_utils.stack import Kind, fan_out, register

register(Kind("log_group"))


def read_log_groups(client, names):
    """{name: {retention, tags, kms_key_id, arn} or None}: one DescribeLogGroups call per name (a prefix
    search, filtered to the exact name), its tags with one ListTagsForResource when it exists."""

    def read(name):
        found = [
            group
            for page in client.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=name)
            for group in page["logGroups"]
            if group["logGroupName"] == name
        ]
        if not found:
            return None
        group = found[0]
        arn = group["arn"][:-2] if group["arn"].endswith(":*") else group["arn"]
        return {
            "retention": group.get("retentionInDays"),
            "tags": client.list_tags_for_resource(resourceArn=arn).get("tags", {}),
            "kms_key_id": group.get("kmsKeyId"),
            "arn": arn,
        }

    return fan_out(read, names)


READERS = {"log_group": ("logs", read_log_groups)}

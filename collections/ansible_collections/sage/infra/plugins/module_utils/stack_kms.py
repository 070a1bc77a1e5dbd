# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""KMS keys, found by their alias, as amazon.aws.kms_key manages them: description, whether the key is enabled,
automatic rotation, the key policy (a document compared by meaning) and tags.

A key scheduled for deletion still answers to its alias; the view says so (``enabled`` false, ``key_state``), and
kms_key cancels the deletion."""

from __future__ import annotations

import json

from ansible_collections.sage.infra.plugins.module_utils.stack import Kind, fan_out, register, tag_dict

register(Kind("kms_key", policies=("policy",)))


def read_keys(client, aliases):
    """{alias: view or None}: DescribeKey by the alias, then its policy, rotation status and tags concurrently."""

    def read(alias):
        try:
            key = client.describe_key(KeyId=alias)["KeyMetadata"]
        except client.exceptions.NotFoundException:
            return None
        key_id = key["KeyId"]
        calls = (
            lambda: json.loads(client.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]),
            lambda: client.get_key_rotation_status(KeyId=key_id).get("KeyRotationEnabled"),
            lambda: tag_dict(client.list_resource_tags(KeyId=key_id).get("Tags"), "TagKey", "TagValue"),
        )
        parts = fan_out(lambda index: calls[index](), range(len(calls)))
        return {
            "arn": key["Arn"],
            "key_id": key_id,
            "key_state": key.get("KeyState"),
            "description": key.get("Description", ""),
            "enabled": key.get("KeyState") == "Enabled",
            "enable_key_rotation": parts[1],
            "policy": parts[0],
            "tags": parts[2],
        }

    return fan_out(read, aliases)


READERS = {"kms_key": ("kms", read_keys)}

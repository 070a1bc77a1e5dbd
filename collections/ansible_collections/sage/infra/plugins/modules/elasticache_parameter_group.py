#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: elasticache_parameter_group
version_added: 0.1.0
short_description: Manage an ElastiCache parameter group, including Valkey families
description:
  - Create, update, tag or delete an Amazon ElastiCache cache parameter group.
  - Unlike M(community.aws.elasticache_parameter_group), any family name is accepted,
    for example V(valkey8), V(valkey7) or V(redis7).
  - Only the parameters listed in O(parameters) are managed; the other parameters of the group are left alone.
  - A run that changes nothing makes C(DescribeCacheParameterGroups) and C(DescribeCacheParameters) calls,
    plus C(ListTagsForResource) when O(tags) is set.
author:
  - sage-infra developers (!UNKNOWN)
options:
  name:
    description:
      - Name of the cache parameter group.
    type: str
    required: true
  state:
    description:
      - Whether the parameter group should exist.
      - A group still used by a cluster or replication group cannot be deleted.
    type: str
    choices: ['present', 'absent']
    default: present
  family:
    description:
      - Cache parameter group family, for example V(valkey8), V(valkey7), V(redis7), V(redis6.x) or V(memcached1.6).
      - Required when O(state=present).
      - The family of an existing group cannot be changed; delete the group and create it again instead.
    type: str
  description:
    description:
      - Description of the group.
      - Only used when the group is created; AWS cannot change the description of an existing group.
    type: str
    default: Managed by Ansible
  parameters:
    description:
      - "Parameter names and the values to set, for example C(maxmemory-policy: allkeys-lru)."
      - Values are compared as strings with the C(ParameterValue) that C(DescribeCacheParameters) returns,
        so quote boolean-like values such as V('yes').
      - Parameters of the group not listed here are not managed.
      - On an existing group, a parameter the family does not know or that cannot be modified makes the module fail.
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Valkey 8 parameter group evicting the least recently used keys
  sage.infra.elasticache_parameter_group:
    name: sage-valkey8
    family: valkey8
    description: Sage.ai cache
    parameters:
      maxmemory-policy: allkeys-lru
      timeout: 300
    tags:
      app: sage

- name: Delete a parameter group no cluster uses any more
  sage.infra.elasticache_parameter_group:
    name: sage-redis6
    state: absent
"""

RETURN = r"""
parameter_group:
  description: The parameter group after the run. Empty when O(state=absent).
  type: dict
  returned: always
  contains:
    name:
      description: Name of the group.
      type: str
      sample: sage-valkey8
    family:
      description: Family of the group.
      type: str
      sample: valkey8
    description:
      description: Description of the group.
      type: str
      sample: Sage.ai cache
    arn:
      description: ARN of the group. V(null) for a group that would be created in check mode.
      type: str
      sample: "arn:aws:elasticache:eu-west-1:123456789012:parametergroup:sage-valkey8"
    tags:
      description: Tags of the group.
      type: dict
      returned: when O(tags) is set or the group is created
      sample: {"app": "sage"}
    parameters:
      description: Values of the managed parameters, as strings.
      type: dict
      sample: {"maxmemory-policy": "allkeys-lru"}
changed_parameters:
  description: Names of the parameters this run changed (or would change in check mode).
  type: list
  elements: str
  returned: always
  sample: ["maxmemory-policy"]
requires_reboot:
  description:
    - Names of the changed parameters whose C(ChangeType) is C(requires-reboot). Nodes using the group
      only apply them after a reboot.
    - Always empty for a group created by this run.
  type: list
  elements: str
  returned: always
  sample: []
"""

import re

try:
    import botocore
except ImportError:
    pass  # caught by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)

FAMILY_RE = re.compile(r"^((valkey|redis)\d+(\.(\d+|x))?|memcached\d+\.\d+)$")
BATCH_SIZE = 20  # ModifyCacheParameterGroup takes at most 20 parameters per call


def call(module, client, action, what, **kwargs):
    try:
        return getattr(client, action)(aws_retry=True, **kwargs)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to {what} ElastiCache parameter group {module.params['name']}")


def describe_group(module, client):
    try:
        groups = client.describe_cache_parameter_groups(aws_retry=True, CacheParameterGroupName=module.params["name"])
    except is_boto3_error_code("CacheParameterGroupNotFound"):
        return None
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to describe ElastiCache parameter group {module.params['name']}")
    return groups["CacheParameterGroups"][0] if groups["CacheParameterGroups"] else None


def describe_parameters(module, client):
    """All parameters of the group, by name, from every page of DescribeCacheParameters."""
    paginator = client.get_paginator("describe_cache_parameters")
    try:
        pages = paginator.paginate(CacheParameterGroupName=module.params["name"])
        result = AWSRetry.jittered_backoff()(pages.build_full_result)()
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to describe parameters of ElastiCache group {module.params['name']}")
    known = {p["ParameterName"]: p for p in result.get("Parameters", [])}
    node_specific = {p["ParameterName"] for p in result.get("CacheNodeTypeSpecificParameters", [])}
    return known, node_specific


def wanted_parameters(module):
    wanted = {}
    for key, value in module.params["parameters"].items():
        if isinstance(value, bool) or value is None:
            module.fail_json(
                msg=f"parameters.{key}: value must be a string or a number, got {value!r}; quote values like 'yes'"
            )
        wanted[key] = str(value)
    return wanted


def modify(module, client, names, wanted):
    for start in range(0, len(names), BATCH_SIZE):
        batch = [{"ParameterName": n, "ParameterValue": wanted[n]} for n in names[start : start + BATCH_SIZE]]
        call(
            module,
            client,
            "modify_cache_parameter_group",
            "modify",
            CacheParameterGroupName=module.params["name"],
            ParameterNameValues=batch,
        )


def ensure_present(module, client, group, wanted):
    params = module.params
    name, family = params["name"], params["family"]

    if group is None:
        tags = params["tags"] or {}
        arn = None
        if not module.check_mode:
            kwargs = {
                "CacheParameterGroupName": name,
                "CacheParameterGroupFamily": family,
                "Description": params["description"],
            }
            if tags:
                kwargs["Tags"] = ansible_dict_to_boto3_tag_list(tags)
            created = call(module, client, "create_cache_parameter_group", "create", **kwargs)
            arn = created["CacheParameterGroup"].get("ARN")
            modify(module, client, list(wanted), wanted)
        result = dict(name=name, family=family, description=params["description"], arn=arn, tags=tags)
        result["parameters"] = wanted
        return True, result, list(wanted), [], {}, {"family": family, "parameters": wanted, "tags": tags}

    if group["CacheParameterGroupFamily"] != family:
        module.fail_json(
            msg=f"ElastiCache parameter group {name} has family {group['CacheParameterGroupFamily']}, not {family}:"
            " AWS cannot change the family of a parameter group; delete the group and create it again"
        )

    known, node_specific = describe_parameters(module, client) if wanted else ({}, set())
    for key in wanted:
        if key in node_specific:
            module.fail_json(msg=f"Parameter {key} of group {name} is specific to the cache node type and not managed")
        if key not in known:
            module.fail_json(msg=f"Parameter {key} is not a parameter of family {family} (group {name})")
        if not known[key].get("IsModifiable", True):
            module.fail_json(msg=f"Parameter {key} of group {name} (family {family}) is not modifiable")
    current = {key: known[key].get("ParameterValue") for key in wanted}
    changed_parameters = [key for key in wanted if current[key] != wanted[key]]
    requires_reboot = [key for key in changed_parameters if known[key].get("ChangeType") == "requires-reboot"]
    if changed_parameters and not module.check_mode:
        modify(module, client, changed_parameters, wanted)

    result = dict(name=name, family=family, description=group.get("Description"), arn=group.get("ARN"))
    result["parameters"] = wanted
    before, after = {"family": family, "parameters": current}, {"family": family, "parameters": wanted}

    tags_changed = False
    if params["tags"] is not None:
        tags = call(module, client, "list_tags_for_resource", "list tags of", ResourceName=group["ARN"])["TagList"]
        before["tags"] = boto3_tag_list_to_ansible_dict(tags)
        to_set, to_unset = compare_aws_tags(before["tags"], params["tags"], params["purge_tags"])
        after["tags"] = {k: v for k, v in before["tags"].items() if k not in to_unset}
        after["tags"].update(to_set)
        result["tags"] = after["tags"]
        tags_changed = bool(to_set or to_unset)
        if to_unset and not module.check_mode:
            call(module, client, "remove_tags_from_resource", "untag", ResourceName=group["ARN"], TagKeys=to_unset)
        if to_set and not module.check_mode:
            tag_list = ansible_dict_to_boto3_tag_list(to_set)
            call(module, client, "add_tags_to_resource", "tag", ResourceName=group["ARN"], Tags=tag_list)

    changed = bool(changed_parameters) or tags_changed
    return changed, result, changed_parameters, requires_reboot, before, after


def ensure_absent(module, client, group):
    if group is None:
        return False, {}, [], [], {}, {}
    if not module.check_mode:
        name = module.params["name"]
        try:
            client.delete_cache_parameter_group(aws_retry=True, CacheParameterGroupName=name)
        except is_boto3_error_code("CacheParameterGroupNotFound"):
            return False, {}, [], [], {}, {}
        except is_boto3_error_code("InvalidCacheParameterGroupState") as e:  # pylint: disable=duplicate-except
            msg = (
                f"Cannot delete ElastiCache parameter group {name}: it is still used by a cluster or replication group"
            )
            module.fail_json_aws(e, msg=f"{msg}; move them to another parameter group first")
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            module.fail_json_aws(e, msg=f"Failed to delete ElastiCache parameter group {name}")
    return True, {}, [], [], {"family": group["CacheParameterGroupFamily"]}, {}


def main():
    argument_spec = {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "family": {"type": "str"},
        "description": {"type": "str", "default": "Managed by Ansible"},
        "parameters": {"type": "dict", "default": {}},
        "tags": {"type": "dict", "aliases": ["resource_tags"]},
        "purge_tags": {"type": "bool", "default": True},
    }
    module = AnsibleAWSModule(
        argument_spec=argument_spec, required_if=[("state", "present", ["family"])], supports_check_mode=True
    )
    family = module.params["family"]
    if family is not None and not FAMILY_RE.match(family):
        module.fail_json(
            msg=f"Invalid family {family!r}: family must look like valkey8, redis7, redis6.x or memcached1.6"
        )
    wanted = wanted_parameters(module)

    client = module.client("elasticache", retry_decorator=AWSRetry.jittered_backoff())
    group = describe_group(module, client)

    if module.params["state"] == "present":
        changed, result, changed_parameters, requires_reboot, before, after = ensure_present(
            module, client, group, wanted
        )
    else:
        changed, result, changed_parameters, requires_reboot, before, after = ensure_absent(module, client, group)

    output = {
        "changed": changed,
        "parameter_group": result,
        "changed_parameters": changed_parameters,
        "requires_reboot": requires_reboot,
    }
    if module._diff:
        output["diff"] = {"before": before, "after": after}
    module.exit_json(**output)


if __name__ == "__main__":
    main()

#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: elasticache_valkey
version_added: 0.1.0
short_description: Manage an ElastiCache for Valkey replication group
description:
  - Create, modify or delete an Amazon ElastiCache replication group running the Valkey engine,
    with cluster mode disabled (one primary and up to five read replicas).
  - AWS only creates Valkey caches as replication groups (C(CreateCacheCluster) accepts memcached and redis only),
    which M(community.aws.elasticache) does not manage.
  - An existing group is modified in place with C(ModifyReplicationGroup), C(IncreaseReplicaCount) and
    C(DecreaseReplicaCount). Settings AWS cannot change in place (O(at_rest_encryption), O(kms_key_id), O(port),
    O(cache_subnet_group_name)) make the module fail without changing anything.
  - C(DescribeReplicationGroups) does not report the engine version, security groups, parameter group, subnet
    group nor maintenance window, so they are read from one member cluster with C(DescribeCacheClusters).
    A run that changes nothing therefore makes three calls, or two when O(tags) is not set.
author:
  - sage-infra developers (!UNKNOWN)
options:
  replication_group_id:
    description:
      - Identifier of the replication group. AWS stores it in lowercase.
      - 1 to 40 letters, digits or hyphens, starting with a letter, without a trailing hyphen
        nor two consecutive hyphens.
    type: str
    required: true
  state:
    description:
      - Whether the replication group should exist.
    type: str
    choices: ['present', 'absent']
    default: present
  description:
    description:
      - Description of the replication group.
    type: str
    default: Managed by Ansible
  engine_version:
    description:
      - Valkey major and minor version, for example V(8.0). Only the major and minor version of an
        existing group are compared.
      - An existing group is upgraded in place; a downgrade fails.
    type: str
    default: "8.0"
  node_type:
    description:
      - Node type of every node, for example V(cache.t3.micro). Changed in place (online scaling).
    type: str
    default: cache.t3.micro
  num_cache_clusters:
    description:
      - Number of nodes (the primary and its replicas), between V(1) and V(6).
      - Changed with C(IncreaseReplicaCount) or C(DecreaseReplicaCount), which AWS applies immediately.
    type: int
    default: 1
  automatic_failover:
    description:
      - Whether a replica is promoted automatically when the primary fails.
      - Must be V(true) when O(num_cache_clusters) is 2 or more, V(false) with a single node.
    type: bool
    default: false
  multi_az:
    description:
      - Whether the nodes are spread over availability zones with automatic failover.
      - Must be V(true) when O(num_cache_clusters) is 2 or more, V(false) with a single node.
    type: bool
    default: false
  port:
    description:
      - Port the nodes accept connections on. Cannot be changed on an existing group.
    type: int
    default: 6379
  transit_encryption:
    description:
      - Whether TLS is required to connect.
      - On an existing group AWS changes this in two steps, one per run. Enabling first sets the
        C(preferred) mode (TLS and plain connections), the next run the C(required) mode. Disabling first
        sets the C(preferred) mode, the next run disables it.
    type: bool
    default: true
  at_rest_encryption:
    description:
      - Whether the data on disk is encrypted. Cannot be changed on an existing group.
    type: bool
    default: true
  kms_key_id:
    description:
      - ARN or ID of the KMS key encrypting the data at rest. Requires O(at_rest_encryption=true).
      - When not set AWS uses its own key. Cannot be changed on an existing group.
    type: str
  auth_token:
    description:
      - Password (Redis AUTH) clients must send. Requires O(transit_encryption=true).
      - 16 to 128 printable ASCII characters other than spaces, V(@), V(") and V(/).
      - Set on creation. The token of an existing group cannot be read, so it is only changed when
        O(auth_token_update_strategy) is set; otherwise it is left alone (with a warning if the group has none).
    type: str
  auth_token_update_strategy:
    description:
      - How O(auth_token) replaces the token of an existing group. V(ROTATE) keeps the old token valid
        next to the new one, V(SET) makes the new token the only one (after a V(ROTATE)).
      - When set, the token is always updated and the task always reports a change.
    type: str
    choices: ['ROTATE', 'SET']
  cache_subnet_group_name:
    description:
      - Name of the cache subnet group the nodes are placed in. Cannot be changed on an existing group.
      - When not set on creation AWS uses the default subnet group.
    type: str
  security_group_ids:
    description:
      - IDs of the VPC security groups of the nodes. When not set they are not managed.
    type: list
    elements: str
  cache_parameter_group_name:
    description:
      - Name of the cache parameter group. When not set it is not managed; on creation AWS uses the default group.
    type: str
  auto_minor_version_upgrade:
    description:
      - Whether AWS applies new minor and patch versions of the engine in the maintenance window.
      - When not set it is not managed.
    type: bool
  snapshot_retention_limit:
    description:
      - Number of days automatic snapshots are kept, between V(0) (no snapshots) and V(35).
      - When not set it is not managed.
    type: int
  snapshot_window:
    description:
      - Daily UTC time range of the automatic snapshots, for example V(03:00-04:00).
      - Must not overlap O(preferred_maintenance_window). When not set it is not managed.
    type: str
  preferred_maintenance_window:
    description:
      - Weekly UTC time range of the maintenance, for example V(sun:05:00-sun:06:00).
      - When not set it is not managed.
    type: str
  apply_immediately:
    description:
      - Whether modifications are applied at once rather than in the next maintenance window.
      - With V(false) the pending changes are reported again by later runs until they are applied.
    type: bool
    default: true
  wait:
    description:
      - Whether to wait until the group is C(available) after a creation or modification, and until it is
        gone after a deletion.
      - A group that is C(creating), C(modifying) or C(snapshotting) is also waited for before it is compared.
      - Steps that must follow each other (for example adding a replica, then enabling automatic failover)
        are always waited for.
    type: bool
    default: true
  wait_timeout:
    description:
      - How long to wait, in seconds, for each of the waits described in O(wait).
    type: int
    default: 1800
  final_snapshot_identifier:
    description:
      - With O(state=absent), name of a snapshot taken before the group is deleted.
    type: str
notes:
  - In check mode nothing is changed; RV(replication_group) then shows the group as it would be.
  - The auth token is never returned, logged nor shown in diffs, only RV(replication_group.auth_token_enabled).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: A single-node Valkey cache
  sage.infra.elasticache_valkey:
    replication_group_id: sage-cache
    cache_subnet_group_name: sage-cache
    security_group_ids: [sg-0123456789abcdef0]
    tags:
      Project: sage
  register: cache

- name: A highly available Valkey cache with a password and daily snapshots
  sage.infra.elasticache_valkey:
    replication_group_id: sage-sessions
    engine_version: "8.0"
    node_type: cache.r7g.large
    num_cache_clusters: 2
    automatic_failover: true
    multi_az: true
    auth_token: "{{ valkey_auth_token }}"
    cache_subnet_group_name: sage-cache
    security_group_ids: [sg-0123456789abcdef0]
    snapshot_retention_limit: 7
    snapshot_window: "03:00-04:00"
    preferred_maintenance_window: "sun:05:00-sun:06:00"

- name: Rotate the password (the old one stays valid until the next SET)
  sage.infra.elasticache_valkey:
    replication_group_id: sage-sessions
    num_cache_clusters: 2
    automatic_failover: true
    multi_az: true
    auth_token: "{{ new_valkey_auth_token }}"
    auth_token_update_strategy: ROTATE

- name: Delete a cache after a final snapshot
  sage.infra.elasticache_valkey:
    replication_group_id: sage-cache
    state: absent
    final_snapshot_identifier: sage-cache-final
"""

RETURN = r"""
replication_group:
  description:
    - The replication group after the run, with every field of C(DescribeReplicationGroups) in snake case
      (for example C(node_groups)) plus the fields below.
    - Empty when O(state=absent).
  returned: always
  type: dict
  contains:
    id:
      description: Identifier of the group.
      type: str
      sample: sage-cache
    arn:
      description: ARN of the group. V(null) for a group that would be created in check mode.
      type: str
      sample: "arn:aws:elasticache:eu-west-1:123456789012:replicationgroup:sage-cache"
    status:
      description: Status of the group.
      type: str
      sample: available
    engine:
      description: Engine of the group.
      type: str
      sample: valkey
    engine_version:
      description: Engine version, as reported by a member cluster or as requested.
      type: str
      sample: "8.0.1"
    node_type:
      description: Node type.
      type: str
      sample: cache.t3.micro
    primary_endpoint:
      description: Endpoint of the primary node.
      returned: when the group is available
      type: dict
      sample: {"address": "master.sage-cache.abcdef.euw1.cache.amazonaws.com", "port": 6379}
    reader_endpoint:
      description: Endpoint balancing over the replicas.
      returned: when AWS reports it
      type: dict
      sample: {"address": "replica.sage-cache.abcdef.euw1.cache.amazonaws.com", "port": 6379}
    member_clusters:
      description: Identifiers of the member clusters (nodes).
      type: list
      elements: str
      sample: ["sage-cache-001"]
    num_cache_clusters:
      description: Number of nodes.
      type: int
      sample: 1
    automatic_failover:
      description: Whether automatic failover is enabled.
      type: bool
    multi_az:
      description: Whether Multi-AZ is enabled.
      type: bool
    port:
      description: Port of the nodes.
      type: int
      sample: 6379
    transit_encryption_enabled:
      description: Whether in-transit encryption is enabled.
      type: bool
    transit_encryption_mode:
      description: V(preferred) or V(required) when in-transit encryption is enabled.
      returned: when AWS reports it
      type: str
      sample: required
    at_rest_encryption_enabled:
      description: Whether at-rest encryption is enabled.
      type: bool
    auth_token_enabled:
      description: Whether clients must send an auth token.
      type: bool
    auto_minor_version_upgrade:
      description: Whether AWS applies new minor and patch versions in the maintenance window.
      type: bool
    snapshot_retention_limit:
      description: Number of days automatic snapshots are kept.
      type: int
      sample: 7
    snapshot_window:
      description: Daily UTC time range of the automatic snapshots.
      type: str
      sample: "03:00-04:00"
    preferred_maintenance_window:
      description: Weekly UTC maintenance window.
      returned: when known
      type: str
      sample: "sun:05:00-sun:06:00"
    security_group_ids:
      description: IDs of the security groups of the nodes.
      returned: when known
      type: list
      elements: str
      sample: ["sg-0123456789abcdef0"]
    cache_parameter_group_name:
      description: Name of the cache parameter group.
      returned: when known
      type: str
      sample: default.valkey8
    cache_subnet_group_name:
      description: Name of the cache subnet group.
      returned: when known
      type: str
      sample: sage-cache
    tags:
      description: Tags of the group.
      returned: when O(tags) is set or the group is created
      type: dict
      sample: {"Project": "sage"}
"""

import re
import time

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)
from ansible_collections.sage.infra.plugins.module_utils.stack_elasticache import (
    IMMUTABLE,
    MODIFIABLE,
    desired_view,
    group_view,
    in_sync,
    version_tuple,
)
from ansible_collections.sage.infra.plugins.module_utils.state import exit_for_state
from ansible_collections.sage.infra.plugins.module_utils.windows import window_errors

POLL_DELAY = 15
TRANSITIONAL = ("creating", "modifying", "snapshotting")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
HHMM = r"(?:[01]\d|2[0-3]):[0-5]\d"
DAY = rf"(?:{'|'.join(DAYS)})"
FORMATS = {
    "engine_version": (r"\d+\.\d+", "a major.minor version such as 8.0"),
    "node_type": (r"cache\.[a-z0-9]+\.[a-z0-9]+", "a node type such as cache.t3.micro"),
    "snapshot_window": (rf"{HHMM}-{HHMM}", "hh24:mi-hh24:mi, e.g. 03:00-04:00"),
    "preferred_maintenance_window": (
        rf"(?i){DAY}:{HHMM}-{DAY}:{HHMM}",
        "ddd:hh24:mi-ddd:hh24:mi, e.g. sun:05:00-sun:06:00",
    ),
}
# Printable ASCII but space, '"', '/' and '@'.
AUTH_TOKEN_RE = r"[!#-.0-?A-~]{16,128}"
# CreateReplicationGroup parameter -> option
CREATE_OPTIONS = {
    "ReplicationGroupDescription": "description",
    "EngineVersion": "engine_version",
    "CacheNodeType": "node_type",
    "NumCacheClusters": "num_cache_clusters",
    "AutomaticFailoverEnabled": "automatic_failover",
    "MultiAZEnabled": "multi_az",
    "Port": "port",
    "TransitEncryptionEnabled": "transit_encryption",
    "AtRestEncryptionEnabled": "at_rest_encryption",
    "KmsKeyId": "kms_key_id",
    "AuthToken": "auth_token",
    "CacheSubnetGroupName": "cache_subnet_group_name",
    "SecurityGroupIds": "security_group_ids",
    "CacheParameterGroupName": "cache_parameter_group_name",
    "SnapshotRetentionLimit": "snapshot_retention_limit",
    "SnapshotWindow": "snapshot_window",
    "PreferredMaintenanceWindow": "preferred_maintenance_window",
    "AutoMinorVersionUpgrade": "auto_minor_version_upgrade",
}


def validate(module):
    """Check the options before any AWS call. Messages never contain the auth token."""
    params = module.params
    group_id = params["replication_group_id"]
    if len(group_id) > 40 or not re.fullmatch(r"[A-Za-z](?:-?[A-Za-z0-9])*", group_id):
        module.fail_json(
            msg=f"replication_group_id {group_id!r} is invalid: use 1 to 40 letters, digits or hyphens, starting "
            "with a letter, without a trailing hyphen nor two consecutive hyphens"
        )
    if params["state"] == "absent":
        return
    for name, (pattern, form) in FORMATS.items():
        if params[name] is not None and not re.fullmatch(pattern, params[name]):
            module.fail_json(msg=f"{name} must be {form}; got {params[name]!r}")
    if not 1 <= params["num_cache_clusters"] <= 6:
        module.fail_json(msg=f"num_cache_clusters must be between 1 and 6; got {params['num_cache_clusters']}")
    limit = params["snapshot_retention_limit"]
    if limit is not None and not 0 <= limit <= 35:
        module.fail_json(msg=f"snapshot_retention_limit must be between 0 and 35; got {limit}")
    nodes, several = params["num_cache_clusters"], params["num_cache_clusters"] >= 2
    if params["automatic_failover"] is not several or params["multi_az"] is not several:
        module.fail_json(
            msg=f"automatic_failover and multi_az must both be {str(several).lower()} when num_cache_clusters is "
            f"{nodes}: AWS needs 2 or more nodes for failover, and 2 or more nodes are run with failover"
        )
    if params["kms_key_id"] and not params["at_rest_encryption"]:
        module.fail_json(msg="kms_key_id requires at_rest_encryption=true")
    if params["auth_token"] is not None:
        if not params["transit_encryption"]:
            module.fail_json(msg="auth_token requires transit_encryption=true")
        if not re.fullmatch(AUTH_TOKEN_RE, params["auth_token"]):
            module.fail_json(
                msg="auth_token must be 16 to 128 printable ASCII characters other than spaces, '@', '\"' and '/'"
            )
    windows = params["snapshot_window"], params["preferred_maintenance_window"]
    errors = window_errors(*windows, "snapshot_window", "preferred_maintenance_window") if all(windows) else []
    if errors:
        module.fail_json(msg="; ".join(errors))


def call(module, client, action, what, **kwargs):
    try:
        return getattr(client, action)(aws_retry=True, **kwargs)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to {what} replication group {module.params['replication_group_id']}")


def describe_group(module, client):
    group_id = module.params["replication_group_id"]
    try:
        return client.describe_replication_groups(aws_retry=True, ReplicationGroupId=group_id)["ReplicationGroups"][0]
    except is_boto3_error_code("ReplicationGroupNotFoundFault"):
        return None
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to describe replication group {group_id}")


def wait_for(module, client, gone=False):
    """Poll until the group is available (or gone); return the last description."""
    group_id, timeout = module.params["replication_group_id"], module.params["wait_timeout"]
    goal = "be deleted" if gone else "become available"
    deadline = time.monotonic() + timeout
    while True:
        group = describe_group(module, client)
        if group is None:
            if gone:
                return None
            module.fail_json(msg=f"Replication group {group_id} disappeared while waiting for it to {goal}")
        status = group.get("Status")
        if not gone and status == "available":
            return group
        if not gone and status in ("create-failed", "deleting"):
            module.fail_json(msg=f"Replication group {group_id} is {status} while waiting for it to {goal}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            module.fail_json(
                msg=f"Timed out after {timeout} seconds waiting for replication group {group_id} to {goal} "
                f"(status: {status})"
            )
        time.sleep(min(POLL_DELAY, remaining))


def drop_none(view):
    return {key: value for key, value in view.items() if value is not None}


def build_result(module, group, view):
    group = group or {}
    result = camel_dict_to_snake_dict(group)
    node_group = (group.get("NodeGroups") or [{}])[0]
    result.update(
        id=group.get("ReplicationGroupId", module.params["replication_group_id"]),
        arn=group.get("ARN"),
        status=group.get("Status"),
        engine=group.get("Engine", "valkey"),
        member_clusters=group.get("MemberClusters", []),
    )
    for name in ("primary_endpoint", "reader_endpoint"):
        endpoint = node_group.get(name.title().replace("_", ""))
        if endpoint:
            result[name] = {"address": endpoint.get("Address"), "port": endpoint.get("Port")}
    if group:
        result.update(drop_none(group_view(group)))
    result.update(drop_none(view))
    return result


def create_group(module, client):
    params = module.params
    after = drop_none(dict(desired_view(params), tags=params["tags"] or {}))
    if module.check_mode:
        return True, build_result(module, None, after), {}, after
    request = {"ReplicationGroupId": params["replication_group_id"], "Engine": "valkey"}
    request.update({key: params[option] for key, option in CREATE_OPTIONS.items() if params[option] is not None})
    if params["tags"]:
        request["Tags"] = ansible_dict_to_boto3_tag_list(params["tags"])
    group = call(module, client, "create_replication_group", "create", **request)["ReplicationGroup"]
    if params["wait"]:
        group = wait_for(module, client)
    return True, build_result(module, group, after), {}, after


def plan_changes(module, before):
    """Return (after, ModifyReplicationGroup parameters, new number of nodes or None)."""
    params, group_id = module.params, module.params["replication_group_id"]
    want = desired_view(params)
    after, modify = dict(before), {}

    for key, option in IMMUTABLE.items():
        have = before.get(key)
        if in_sync(key, want[key], have):
            continue
        module.fail_json(
            msg=f"{option} cannot be changed on existing replication group {group_id} (AWS replaces the data); "
            "create a new group and migrate",
            **{option: want[key], f"current_{option}": have},
        )

    if before.get("engine_version"):
        have, wanted = version_tuple(before["engine_version"]), version_tuple(want["engine_version"])
        if wanted < have:
            module.fail_json(
                msg=f"engine_version {want['engine_version']} would downgrade replication group {group_id} "
                f"from {before['engine_version']}; AWS only upgrades in place"
            )
        if wanted > have:
            modify["EngineVersion"] = after["engine_version"] = want["engine_version"]

    for key, api_name in MODIFIABLE.items():
        if not in_sync(key, want[key], before.get(key)):
            modify[api_name] = after[key] = want[key]

    # Enabling or disabling TLS on an existing group goes through the 'preferred' mode, one step per run.
    enabled, mode = before["transit_encryption_enabled"], before["transit_encryption_mode"]
    if want["transit_encryption_enabled"] and not enabled:
        step = {"TransitEncryptionEnabled": True, "TransitEncryptionMode": "preferred"}
    elif want["transit_encryption_enabled"] and mode == "preferred":
        step = {"TransitEncryptionMode": "required"}
    elif not want["transit_encryption_enabled"] and enabled and mode != "preferred":
        step = {"TransitEncryptionMode": "preferred"}
    elif not want["transit_encryption_enabled"] and enabled:
        step = {"TransitEncryptionEnabled": False}
    else:
        step = {}
    if step:
        modify.update(step)
        after["transit_encryption_enabled"] = step.get("TransitEncryptionEnabled", enabled)
        after["transit_encryption_mode"] = step.get("TransitEncryptionMode")

    if params["auth_token_update_strategy"]:
        modify.update(AuthToken=params["auth_token"], AuthTokenUpdateStrategy=params["auth_token_update_strategy"])
        after["auth_token_enabled"] = True
    elif params["auth_token"] is not None and not before["auth_token_enabled"]:
        module.warn(
            f"Replication group {group_id} has no auth token and auth_token is only applied to an existing group "
            "with auth_token_update_strategy; set auth_token_update_strategy=ROTATE to add it"
        )

    nodes = None
    if want["num_cache_clusters"] != before["num_cache_clusters"]:
        nodes = after["num_cache_clusters"] = want["num_cache_clusters"]
    return after, modify, nodes


def update_group(module, client, group):
    params, group_id = module.params, module.params["replication_group_id"]
    if group.get("Engine", "valkey") != "valkey" or group.get("ClusterEnabled"):
        module.fail_json(
            msg=f"Replication group {group_id} runs {group.get('Engine')} (cluster mode {group.get('ClusterMode')}); "
            "this module only manages Valkey groups with cluster mode disabled"
        )
    if group["Status"] in TRANSITIONAL and params["wait"]:
        group = wait_for(module, client)
    members = group.get("MemberClusters") or []
    cluster = {}
    if members:
        response = call(module, client, "describe_cache_clusters", "describe the members of", CacheClusterId=members[0])
        cluster = response["CacheClusters"][0]
    tags = None
    if params["tags"] is not None:
        tag_list = call(module, client, "list_tags_for_resource", "list the tags of", ResourceName=group["ARN"])
        tags = boto3_tag_list_to_ansible_dict(tag_list.get("TagList") or [])
    before = group_view(group, cluster, tags)
    after, modify, nodes = plan_changes(module, before)

    tags_to_set, tags_to_unset = {}, []
    if tags is not None:
        tags_to_set, tags_to_unset = compare_aws_tags(tags, params["tags"], params["purge_tags"])
        after["tags"] = {key: value for key, value in tags.items() if key not in tags_to_unset}
        after["tags"].update(tags_to_set)

    changed = bool(modify or nodes or tags_to_set or tags_to_unset)
    if changed and not module.check_mode:
        if tags_to_unset:
            call(module, client, "remove_tags_from_resource", "untag", ResourceName=group["ARN"], TagKeys=tags_to_unset)
        if tags_to_set:
            tag_list = ansible_dict_to_boto3_tag_list(tags_to_set)
            call(module, client, "add_tags_to_resource", "tag", ResourceName=group["ARN"], Tags=tag_list)
        steps = []
        if modify:
            modify.update(ReplicationGroupId=group_id, ApplyImmediately=params["apply_immediately"])
            steps.append(("modify_replication_group", "modify", modify))
        if nodes:
            # Replicas are added before failover is enabled and removed after it is disabled.
            # moto 5.2.5 implements neither IncreaseReplicaCount nor DecreaseReplicaCount: unit tests use a Stubber.
            growing = nodes > before["num_cache_clusters"]
            action = "increase_replica_count" if growing else "decrease_replica_count"
            kwargs = {"ReplicationGroupId": group_id, "NewReplicaCount": nodes - 1, "ApplyImmediately": True}
            steps.insert(0 if growing else len(steps), (action, "change the number of nodes of", kwargs))
        for index, (action, what, kwargs) in enumerate(steps):
            if index:
                wait_for(module, client)  # the previous step must be complete
            group = call(module, client, action, what, **kwargs).get("ReplicationGroup", group)
        if params["wait"] and steps:
            group = wait_for(module, client)
    return changed, build_result(module, group, drop_none(after)), drop_none(before), drop_none(after)


def ensure_present(module, client, group):
    if group is not None and group["Status"] == "deleting":
        if not module.check_mode and not module.params["wait"]:
            module.fail_json(
                msg=f"Replication group {module.params['replication_group_id']} is being deleted; "
                "run again once it is gone, or set wait=true"
            )
        if not module.check_mode:
            wait_for(module, client, gone=True)
        group = None
    if group is None:
        return create_group(module, client)
    if group["Status"] not in (*TRANSITIONAL, "available"):
        module.fail_json(
            msg=f"Replication group {module.params['replication_group_id']} is {group['Status']}; "
            "it cannot be managed in that status"
        )
    return update_group(module, client, group)


def ensure_absent(module, client, group):
    if group is None:
        return False, {}, {}, {}
    before = drop_none(group_view(group))
    changed = group["Status"] != "deleting"
    if module.check_mode:
        return changed, {}, before, {}
    params = module.params
    if changed:
        if group["Status"] in TRANSITIONAL and params["wait"]:
            wait_for(module, client)
        request = {"ReplicationGroupId": params["replication_group_id"], "RetainPrimaryCluster": False}
        if params["final_snapshot_identifier"]:
            request["FinalSnapshotIdentifier"] = params["final_snapshot_identifier"]
        call(module, client, "delete_replication_group", "delete", **request)
    if params["wait"]:
        wait_for(module, client, gone=True)
    return changed, {}, before, {}


def main():
    argument_spec = {
        "replication_group_id": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "description": {"type": "str", "default": "Managed by Ansible"},
        "engine_version": {"type": "str", "default": "8.0"},
        "node_type": {"type": "str", "default": "cache.t3.micro"},
        "num_cache_clusters": {"type": "int", "default": 1},
        "automatic_failover": {"type": "bool", "default": False},
        "multi_az": {"type": "bool", "default": False},
        "port": {"type": "int", "default": 6379},
        "transit_encryption": {"type": "bool", "default": True},
        "at_rest_encryption": {"type": "bool", "default": True},
        "kms_key_id": {"type": "str", "no_log": False},
        "auth_token": {"type": "str", "no_log": True},
        "auth_token_update_strategy": {"type": "str", "choices": ["ROTATE", "SET"]},
        "cache_subnet_group_name": {"type": "str"},
        "security_group_ids": {"type": "list", "elements": "str"},
        "cache_parameter_group_name": {"type": "str"},
        "auto_minor_version_upgrade": {"type": "bool"},
        "snapshot_retention_limit": {"type": "int"},
        "snapshot_window": {"type": "str"},
        "preferred_maintenance_window": {"type": "str"},
        "tags": {"type": "dict", "aliases": ["resource_tags"]},
        "purge_tags": {"type": "bool", "default": True},
        "apply_immediately": {"type": "bool", "default": True},
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": 1800},
        "final_snapshot_identifier": {"type": "str"},
    }
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_by={"auth_token_update_strategy": "auth_token"},
        supports_check_mode=True,
    )
    validate(module)

    client = module.client("elasticache", retry_decorator=AWSRetry.jittered_backoff())
    group = describe_group(module, client)
    exit_for_state(module, "replication_group", ensure_present, ensure_absent, client, group)


if __name__ == "__main__":
    main()

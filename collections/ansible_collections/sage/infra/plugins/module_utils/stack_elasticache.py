# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ElastiCache: cache subnet groups (community.aws.elasticache_subnet_group), cache parameter groups
(sage.infra.elasticache_parameter_group) and Valkey replication groups (sage.infra.elasticache_valkey, which
shares this view and comparison).

- cache_subnet_group: description and subnets (a set); that module manages no tags.
- cache_parameter_group: family, the parameters the role sets (DescribeCacheParameters Source=user), tags.
- replication_group: what elasticache_valkey compares. DescribeReplicationGroups does not report the engine
  version, security groups, parameter group, subnet group nor maintenance window: they are read from the first
  member cluster. The AUTH token can never be read, and is neither compared nor shown.
"""

from __future__ import annotations

from ansible_collections.sage.infra.plugins.module_utils.stack import Kind, fan_out, register, tag_dict

# Compared attribute -> option, for the attributes AWS cannot change on an existing group.
IMMUTABLE = {
    "at_rest_encryption_enabled": "at_rest_encryption",
    "kms_key_id": "kms_key_id",
    "port": "port",
    "cache_subnet_group_name": "cache_subnet_group_name",
}
# Compared attribute -> ModifyReplicationGroup parameter (the option has the attribute's name).
MODIFIABLE = {
    "description": "ReplicationGroupDescription",
    "node_type": "CacheNodeType",
    "automatic_failover": "AutomaticFailoverEnabled",
    "multi_az": "MultiAZEnabled",
    "security_group_ids": "SecurityGroupIds",
    "cache_parameter_group_name": "CacheParameterGroupName",
    "snapshot_retention_limit": "SnapshotRetentionLimit",
    "snapshot_window": "SnapshotWindow",
    "preferred_maintenance_window": "PreferredMaintenanceWindow",
    "auto_minor_version_upgrade": "AutoMinorVersionUpgrade",
}


def version_tuple(version):
    return tuple(int(part) for part in str(version).split(".")[:2])


def same_version(want, have):
    """Only the major and minor version are compared (AWS reports the patch version too)."""
    try:
        return version_tuple(want) == version_tuple(have)
    except ValueError:
        return False


def same_kms_key(want, have):
    """AWS reports the key's ARN: a key ID matches the ARN's last part."""
    return have == want or (bool(want) and str(have or "").endswith("/" + want))


def same_port(want, have):
    """A group that has no endpoint yet reports no port."""
    return have is None or have == want


def same_window(want, have):
    return str(want or "").lower() == str(have or "").lower()


def transit_mode_settled(want, have):
    """TLS required: not halfway (the 'preferred' mode) - a group that reports no mode is not halfway."""
    return have != "preferred" if want == "required" else True


def parameters_set(want, have):
    """Every parameter asked for has that value (as text, as ElastiCache reports it)."""
    have = have or {}
    return all(name in have and str(value) == have[name] for name, value in (want or {}).items())


GROUP = Kind(
    "replication_group",
    compare={
        "engine_version": same_version,
        "kms_key_id": same_kms_key,
        "port": same_port,
        "preferred_maintenance_window": same_window,
        "transit_encryption_mode": transit_mode_settled,
    },
)
register(Kind("cache_subnet_group"), Kind("cache_parameter_group", compare={"parameters": parameters_set}), GROUP)


def group_view(group, cluster=None, tags=None):
    """The compared attributes of a described group (and of one of its member clusters, when given)."""
    endpoint = ((group.get("NodeGroups") or [{}])[0]).get("PrimaryEndpoint") or {}
    view = {
        "description": group.get("Description"),
        "node_type": group.get("CacheNodeType"),
        "num_cache_clusters": len(group.get("MemberClusters") or []),
        "automatic_failover": group.get("AutomaticFailover") in ("enabled", "enabling"),
        "multi_az": group.get("MultiAZ") == "enabled",
        "port": endpoint.get("Port"),
        "transit_encryption_enabled": bool(group.get("TransitEncryptionEnabled")),
        "transit_encryption_mode": group.get("TransitEncryptionMode"),
        "at_rest_encryption_enabled": bool(group.get("AtRestEncryptionEnabled")),
        "kms_key_id": group.get("KmsKeyId"),
        "auth_token_enabled": bool(group.get("AuthTokenEnabled")),
        "snapshot_retention_limit": group.get("SnapshotRetentionLimit"),
        "snapshot_window": group.get("SnapshotWindow"),
        "auto_minor_version_upgrade": group.get("AutoMinorVersionUpgrade"),
    }
    if cluster is not None:
        view.update(
            engine_version=cluster.get("EngineVersion"),
            cache_subnet_group_name=cluster.get("CacheSubnetGroupName"),
            security_group_ids=sorted(sg["SecurityGroupId"] for sg in cluster.get("SecurityGroups") or []),
            cache_parameter_group_name=(cluster.get("CacheParameterGroup") or {}).get("CacheParameterGroupName"),
            preferred_maintenance_window=cluster.get("PreferredMaintenanceWindow"),
        )
    if tags is not None:
        view["tags"] = tags
    return view


def desired_view(params):
    """The compared attributes as elasticache_valkey's options ask for them; None when an option is not set."""
    sg_ids, window = params["security_group_ids"], params["preferred_maintenance_window"]
    view = {key: params[key] for key in MODIFIABLE}
    view.update(
        engine_version=params["engine_version"],
        num_cache_clusters=params["num_cache_clusters"],
        port=params["port"],
        transit_encryption_enabled=params["transit_encryption"],
        transit_encryption_mode="required" if params["transit_encryption"] else None,
        at_rest_encryption_enabled=params["at_rest_encryption"],
        kms_key_id=params["kms_key_id"],
        cache_subnet_group_name=params["cache_subnet_group_name"],
        auth_token_enabled=params["auth_token"] is not None,
        security_group_ids=None if sg_ids is None else sorted(sg_ids),
        preferred_maintenance_window=window and window.lower(),
        tags=params["tags"],
    )
    return view


def in_sync(attribute, want, have):
    """Whether the group's attribute is as asked (an option that is not set, want None, always is)."""
    return want is None or GROUP.equal(attribute, want, have)


def read_replication_groups(client, names):
    """{id: group_view with tags, plus status, arn, primary_endpoint, member_clusters; or None}:
    DescribeReplicationGroups, DescribeCacheClusters of the first member, ListTagsForResource."""

    def read(name):
        try:
            groups = client.describe_replication_groups(ReplicationGroupId=name)["ReplicationGroups"]
        except client.exceptions.ReplicationGroupNotFoundFault:
            return None
        if not groups:
            return None
        group = groups[0]
        members = group.get("MemberClusters") or []
        cluster = None
        if members:
            cluster = client.describe_cache_clusters(CacheClusterId=members[0])["CacheClusters"][0]
        tags = tag_dict(client.list_tags_for_resource(ResourceName=group["ARN"]).get("TagList"))
        endpoint = ((group.get("NodeGroups") or [{}])[0]).get("PrimaryEndpoint") or {}
        return dict(
            group_view(group, cluster, tags),
            status=group.get("Status"),
            arn=group["ARN"],
            primary_endpoint={"address": endpoint["Address"], "port": endpoint.get("Port")}
            if endpoint.get("Address")
            else None,
            member_clusters=members,
        )

    return fan_out(read, names)


def read_subnet_groups(client, names):
    """{name: {description, subnets, vpc_id, arn} or None}: one DescribeCacheSubnetGroups each."""

    def read(name):
        try:
            groups = client.describe_cache_subnet_groups(CacheSubnetGroupName=name.lower())["CacheSubnetGroups"]
        except client.exceptions.CacheSubnetGroupNotFoundFault:
            return None
        if not groups:
            return None
        group = groups[0]
        return {
            "description": group.get("CacheSubnetGroupDescription"),
            "subnets": sorted(subnet["SubnetIdentifier"] for subnet in group.get("Subnets") or []),
            "vpc_id": group.get("VpcId"),
            "arn": group.get("ARN"),
        }

    return fan_out(read, names)


def read_parameter_groups(client, names):
    """{name: {family, description, parameters, tags, arn} or None}: DescribeCacheParameterGroups, the
    parameters changed from the defaults (DescribeCacheParameters Source=user, every page), the tags."""

    def read(name):
        try:
            groups = client.describe_cache_parameter_groups(CacheParameterGroupName=name)["CacheParameterGroups"]
        except client.exceptions.CacheParameterGroupNotFoundFault:
            return None
        if not groups:
            return None
        group = groups[0]
        pages = client.get_paginator("describe_cache_parameters").paginate(CacheParameterGroupName=name, Source="user")
        return {
            "family": group.get("CacheParameterGroupFamily"),
            "description": group.get("Description"),
            "parameters": {
                parameter["ParameterName"]: parameter.get("ParameterValue")
                for page in pages
                for parameter in page["Parameters"]
            },
            "tags": tag_dict(client.list_tags_for_resource(ResourceName=group["ARN"]).get("TagList")),
            "arn": group["ARN"],
        }

    return fan_out(read, names)


READERS = {
    "cache_subnet_group": ("elasticache", read_subnet_groups),
    "cache_parameter_group": ("elasticache", read_parameter_groups),
    "replication_group": ("elasticache", read_replication_groups),
}

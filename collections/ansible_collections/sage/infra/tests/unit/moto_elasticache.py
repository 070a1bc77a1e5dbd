# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""moto 5.2.5 ElastiCache replication groups, made to answer like AWS where sage.infra.elasticache_valkey
relies on it. Used by the module's unit tests (with monkeypatch.setattr) and by the project's AWS
emulator (tests/harness/emulator.py, with setattr)."""

import inspect

from moto.core.responses import EmptyResult
from moto.elasticache.exceptions import CacheSubnetGroupNotFound
from moto.elasticache.models import ElastiCacheBackend
from moto.elasticache.responses import ElastiCacheResponse


def set_member_attributes(backend, group, **attrs):
    """Store on the member clusters what AWS reports there and not on the group."""
    for cluster_id in group.member_clusters:
        cluster = backend.cache_clusters.get(cluster_id)
        if cluster is None:
            continue
        if attrs.get("engine_version"):
            cluster.engine_version = f"{attrs['engine_version']}.1"  # AWS reports the patch version too
        if attrs.get("security_group_ids") is not None:
            cluster.security_groups = [
                {"SecurityGroupId": sg, "Status": "active"} for sg in attrs["security_group_ids"]
            ]
        if attrs.get("cache_parameter_group_name"):
            name = attrs["cache_parameter_group_name"]
            cluster.cache_parameter_group = {"CacheParameterGroupName": name, "ParameterApplyStatus": "in-sync"}
        if attrs.get("preferred_maintenance_window"):
            cluster.preferred_maintenance_window = attrs["preferred_maintenance_window"].lower()


def patch_moto_gaps(setattr_=setattr):
    """Make moto 5.2.5 behave like AWS where the module relies on it.

    - CreateReplicationGroup ignores NumCacheClusters (one node unless ReplicasPerNodeGroup) and creates no
      member clusters, so DescribeCacheClusters of a member fails: create them.
    - ModifyReplicationGroup ignores EngineVersion, SecurityGroupIds, CacheParameterGroupName, SnapshotWindow,
      PreferredMaintenanceWindow, AutoMinorVersionUpgrade, AuthToken and the transit encryption settings: apply them.
    - DeleteReplicationGroup leaves the group 'deleting' forever: remove it, as AWS eventually does.
    - DeleteCacheSubnetGroup is not implemented (community.aws.elasticache_subnet_group calls it).
    """
    original_create = ElastiCacheBackend.create_replication_group
    original_modify = ElastiCacheResponse.modify_replication_group
    original_delete = ElastiCacheBackend.delete_replication_group

    def create(self, **kwargs):
        if kwargs.get("num_cache_clusters") and not kwargs.get("replicas_per_node_group"):
            kwargs["replicas_per_node_group"] = kwargs["num_cache_clusters"] - 1
        group = original_create(self, **kwargs)
        group.transit_encryption_mode = "required" if kwargs["transit_encryption_enabled"] else None
        for cluster_id in group.member_clusters:
            cluster_args = dict.fromkeys(inspect.signature(self.create_cache_cluster).parameters)
            cluster_args.update(
                cache_cluster_id=cluster_id,
                replication_group_id=group.replication_group_id,
                engine="valkey",
                cache_node_type=group.cache_node_type,
                cache_subnet_group_name=kwargs["cache_subnet_group_name"] or "default",
            )
            self.create_cache_cluster(**cluster_args)
        set_member_attributes(self, group, **kwargs)
        return group

    def modify(self):
        backend = self.elasticache_backend
        group = backend.replication_groups.get(self._get_param("ReplicationGroupId"))
        if group is not None:
            group.snapshot_window = self._get_param("SnapshotWindow") or group.snapshot_window
            if self._get_bool_param("AutoMinorVersionUpgrade") is not None:
                group.auto_minor_version_upgrade = self._get_bool_param("AutoMinorVersionUpgrade")
            if self._get_param("AuthToken"):
                group.auth_token_enabled = True
            if self._get_bool_param("TransitEncryptionEnabled") is not None:
                group.transit_encryption_enabled = self._get_bool_param("TransitEncryptionEnabled")
                group.transit_encryption_mode = None
            group.transit_encryption_mode = self._get_param("TransitEncryptionMode") or group.transit_encryption_mode
            set_member_attributes(
                backend,
                group,
                engine_version=self._get_param("EngineVersion"),
                security_group_ids=self._get_param("SecurityGroupIds"),
                cache_parameter_group_name=self._get_param("CacheParameterGroupName"),
                preferred_maintenance_window=self._get_param("PreferredMaintenanceWindow"),
            )
        return original_modify(self)

    def delete(self, replication_group_id, retain_primary_cluster):
        group = original_delete(self, replication_group_id, retain_primary_cluster)
        del self.replication_groups[replication_group_id]
        for cluster_id in group.member_clusters:
            self.cache_clusters.pop(cluster_id, None)
        return group

    setattr_(ElastiCacheBackend, "create_replication_group", create)
    setattr_(ElastiCacheResponse, "modify_replication_group", modify)
    setattr_(ElastiCacheBackend, "delete_replication_group", delete)

    def delete_cache_subnet_group(self):
        name = self._get_param("CacheSubnetGroupName")
        if self.elasticache_backend.cache_subnet_groups.pop(name, None) is None:
            raise CacheSubnetGroupNotFound(name)
        return EmptyResult()

    setattr_(ElastiCacheResponse, "delete_cache_subnet_group", delete_cache_subnet_group)

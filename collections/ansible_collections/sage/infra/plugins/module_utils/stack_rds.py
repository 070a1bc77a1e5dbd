# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""RDS: DB subnet groups (amazon.aws.rds_subnet_group), DB parameter groups (amazon.aws.rds_instance_param_group)
and DB instances (amazon.aws.rds_instance), with what those modules compare for the options the database role
passes them.

- db_subnet_group: description, subnets (a set), tags (purge_tags).
- db_parameter_group: family, the parameters the role sets (read from DescribeDBParameters with Source=user:
  a parameter left at its engine default is missing, so it differs), tags. The description is only set at creation.
- db_instance: every attribute rds_instance modifies in place, as it compares them: a pending modification
  (PendingModifiedValues) counts as the current value; the engine version by its major version when only a major
  version is asked for; security groups as a set; the parameter group by name. What AWS cannot change in place
  (storage encryption, KMS key, database name, master user) and the master password (set at creation only) are
  not compared.
"""

from __future__ import annotations

from ansible_collections.sage.infra.plugins.module_utils.stack import Kind, fan_out, register, tag_dict


def same_engine_version(want, have):
    """18 asks for any 18.x; 18.3 for exactly that version."""
    have = str(have or "")
    return have == str(want) or ("." not in str(want) and have.split(".", maxsplit=1)[0] == str(want))


def parameter_group_named(want, have):
    return want == have or (isinstance(have, list) and want in have)


def parameter_text(value):
    """A parameter value as DescribeDBParameters reports it (rds_instance_param_group sends booleans as 1/0)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def parameters_set(want, have):
    """Every parameter asked for has that value (others, set by hand, are not the role's)."""
    have = have or {}
    return all(name in have and parameter_text(value) == have[name] for name, value in (want or {}).items())


register(
    Kind("db_subnet_group"),
    Kind("db_parameter_group", compare={"parameters": parameters_set}),
    Kind(
        "db_instance",
        compare={"engine_version": same_engine_version, "db_parameter_group_name": parameter_group_named},
    ),
)


def read_subnet_groups(client, names):
    """{name: {description, subnets, vpc_id, arn, tags} or None}: DescribeDBSubnetGroups and its tags."""

    def read(name):
        try:
            groups = client.describe_db_subnet_groups(DBSubnetGroupName=name.lower())["DBSubnetGroups"]
        except client.exceptions.DBSubnetGroupNotFoundFault:
            return None
        if not groups:
            return None
        group = groups[0]
        arn = group["DBSubnetGroupArn"]
        return {
            "description": group.get("DBSubnetGroupDescription"),
            "subnets": sorted(subnet["SubnetIdentifier"] for subnet in group.get("Subnets") or []),
            "tags": tag_dict(client.list_tags_for_resource(ResourceName=arn).get("TagList")),
            "vpc_id": group.get("VpcId"),
            "arn": arn,
        }

    return fan_out(read, names)


def read_parameter_groups(client, names):
    """{name: {family, description, parameters, tags, arn} or None}: DescribeDBParameterGroups, the parameters
    set on the group (DescribeDBParameters Source=user, every page) and its tags."""

    def read(name):
        try:
            groups = client.describe_db_parameter_groups(DBParameterGroupName=name)["DBParameterGroups"]
        except client.exceptions.DBParameterGroupNotFoundFault:
            return None
        if not groups:
            return None
        group = groups[0]
        pages = client.get_paginator("describe_db_parameters").paginate(DBParameterGroupName=name, Source="user")
        arn = group["DBParameterGroupArn"]
        return {
            "family": group.get("DBParameterGroupFamily"),
            "description": group.get("Description"),
            "parameters": {
                parameter["ParameterName"]: parameter.get("ParameterValue")
                for page in pages
                for parameter in page["Parameters"]
            },
            "tags": tag_dict(client.list_tags_for_resource(ResourceName=arn).get("TagList")),
            "arn": arn,
        }

    return fan_out(read, names)


def instance_view(instance):
    """The attributes rds_instance compares, as it compares them (pending values first), in its option names,
    and what the role publishes or waits on (status, arn, endpoint, parameter_apply_status)."""
    pending = instance.get("PendingModifiedValues") or {}

    def current(key):
        return pending[key] if pending.get(key) is not None else instance.get(key)

    endpoint = instance.get("Endpoint") or {}
    parameter_groups = instance.get("DBParameterGroups") or []
    exports = (pending.get("PendingCloudwatchLogsExports") or {}).get("LogTypesToEnable")
    subnet_group = pending.get("DBSubnetGroupName") or (instance.get("DBSubnetGroup") or {}).get("DBSubnetGroupName")
    groups = [group["DBParameterGroupName"] for group in parameter_groups]
    return {
        "db_instance_class": current("DBInstanceClass"),
        "engine_version": current("EngineVersion"),
        "auto_minor_version_upgrade": instance.get("AutoMinorVersionUpgrade"),
        "allocated_storage": current("AllocatedStorage"),
        "max_allocated_storage": current("MaxAllocatedStorage"),
        "storage_type": current("StorageType"),
        "port": pending.get("Port") or endpoint.get("Port") or instance.get("DbInstancePort"),
        "db_subnet_group_name": subnet_group,
        "vpc_security_group_ids": sorted(
            group["VpcSecurityGroupId"]
            for group in instance.get("VpcSecurityGroups") or []
            if group.get("Status") in ("adding", "active")
        ),
        "db_parameter_group_name": groups[0] if len(groups) == 1 else groups,
        "publicly_accessible": instance.get("PubliclyAccessible"),
        "multi_az": current("MultiAZ"),
        "backup_retention_period": current("BackupRetentionPeriod"),
        "preferred_backup_window": instance.get("PreferredBackupWindow"),
        "preferred_maintenance_window": instance.get("PreferredMaintenanceWindow"),
        "copy_tags_to_snapshot": instance.get("CopyTagsToSnapshot"),
        "enable_cloudwatch_logs_exports": sorted(exports or instance.get("EnabledCloudwatchLogsExports") or []),
        "enable_performance_insights": bool(instance.get("PerformanceInsightsEnabled")),
        "deletion_protection": instance.get("DeletionProtection"),
        "tags": tag_dict(instance.get("TagList")),
        "status": instance.get("DBInstanceStatus"),
        "arn": instance.get("DBInstanceArn"),
        "endpoint": {"address": endpoint["Address"], "port": endpoint.get("Port")} if endpoint.get("Address") else None,
        "parameter_apply_status": [group.get("ParameterApplyStatus") for group in parameter_groups],
    }


def read_instances(client, names):
    """{identifier: instance_view or None}: one DescribeDBInstances each (its tags come with it)."""

    def read(name):
        try:
            instances = client.describe_db_instances(DBInstanceIdentifier=name.lower())["DBInstances"]
        except client.exceptions.DBInstanceNotFoundFault:
            return None
        return instance_view(instances[0]) if instances else None

    return fan_out(read, names)


READERS = {
    "db_subnet_group": ("rds", read_subnet_groups),
    "db_parameter_group": ("rds", read_parameter_groups),
    "db_instance": ("rds", read_instances),
}

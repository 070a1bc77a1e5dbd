# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""RDS as read and compared: DB subnet groups, DB parameter groups and DB instances, as the amazon.aws modules the
database role runs compare them."""

import boto3
import pytest
from ansible_collections.sage.infra.plugins.module_utils.stack import KINDS, plan_entry
from ansible_collections.sage.infra.plugins.module_utils.stack_rds import (
    instance_view,
    read_instances,
    read_parameter_groups,
    read_subnet_groups,
)
from moto import mock_aws

REGION = "us-east-1"
TAGS = {"Project": "sage"}
INSTANCE = {
    "db_instance_class": "db.t3.micro",
    "engine_version": "18",
    "auto_minor_version_upgrade": True,
    "allocated_storage": 20,
    "max_allocated_storage": 100,
    "storage_type": "gp3",
    "port": 5432,
    "db_subnet_group_name": "sage-db-subnets",
    "vpc_security_group_ids": ["sg-1"],
    "db_parameter_group_name": "sage-postgres-postgres18",
    "publicly_accessible": False,
    "multi_az": False,
    "backup_retention_period": 7,
    "preferred_backup_window": "03:00-04:00",
    "preferred_maintenance_window": "sun:04:30-sun:05:30",
    "copy_tags_to_snapshot": True,
    "enable_cloudwatch_logs_exports": ["postgresql", "upgrade"],
    "enable_performance_insights": False,
    "deletion_protection": False,
    "tags": dict(TAGS, Name="sage-postgres"),
}
DESCRIBED = {
    "DBInstanceIdentifier": "sage-postgres",
    "DBInstanceClass": "db.t3.micro",
    "Engine": "postgres",
    "EngineVersion": "18.3",
    "DBInstanceStatus": "available",
    "AutoMinorVersionUpgrade": True,
    "AllocatedStorage": 20,
    "MaxAllocatedStorage": 100,
    "StorageType": "gp3",
    "Endpoint": {"Address": "sage-postgres.abc.us-east-1.rds.amazonaws.com", "Port": 5432},
    "DBSubnetGroup": {"DBSubnetGroupName": "sage-db-subnets"},
    "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-1", "Status": "active"}],
    "DBParameterGroups": [{"DBParameterGroupName": "sage-postgres-postgres18", "ParameterApplyStatus": "in-sync"}],
    "PubliclyAccessible": False,
    "MultiAZ": False,
    "BackupRetentionPeriod": 7,
    "PreferredBackupWindow": "03:00-04:00",
    "PreferredMaintenanceWindow": "sun:04:30-sun:05:30",
    "CopyTagsToSnapshot": True,
    "EnabledCloudwatchLogsExports": ["upgrade", "postgresql"],
    "PerformanceInsightsEnabled": False,
    "DeletionProtection": False,
    "DBInstanceArn": "arn:aws:rds:us-east-1:123456789012:db:sage-postgres",
    "TagList": [{"Key": "Project", "Value": "sage"}, {"Key": "Name", "Value": "sage-postgres"}],
}


def changes(kind, desired, current):
    return [change["attribute"] for change in KINDS[kind].changes(desired, current)]


def described(**changes_):
    return {**DESCRIBED, **changes_}


def test_instance_in_sync_with_its_full_version_and_logs_in_any_order():
    view = instance_view(DESCRIBED)
    assert changes("db_instance", INSTANCE, view) == []
    assert view["status"] == "available" and view["endpoint"]["port"] == 5432
    assert view["parameter_apply_status"] == ["in-sync"]


@pytest.mark.parametrize(
    ("aws_attribute", "value", "attribute"),
    [
        ("BackupRetentionPeriod", 1, "backup_retention_period"),
        ("PubliclyAccessible", True, "publicly_accessible"),
        ("DBInstanceClass", "db.t3.small", "db_instance_class"),
        ("AllocatedStorage", 50, "allocated_storage"),
        ("MaxAllocatedStorage", 200, "max_allocated_storage"),
        ("StorageType", "gp2", "storage_type"),
        ("EngineVersion", "17.5", "engine_version"),
        ("MultiAZ", True, "multi_az"),
        ("PreferredBackupWindow", "01:00-02:00", "preferred_backup_window"),
        ("PreferredMaintenanceWindow", "mon:04:30-mon:05:30", "preferred_maintenance_window"),
        ("DeletionProtection", True, "deletion_protection"),
        ("CopyTagsToSnapshot", False, "copy_tags_to_snapshot"),
        ("PerformanceInsightsEnabled", True, "enable_performance_insights"),
        ("EnabledCloudwatchLogsExports", ["postgresql"], "enable_cloudwatch_logs_exports"),
        ("VpcSecurityGroups", [{"VpcSecurityGroupId": "sg-2", "Status": "active"}], "vpc_security_group_ids"),
        ("DBParameterGroups", [{"DBParameterGroupName": "default.postgres18"}], "db_parameter_group_name"),
        ("DBSubnetGroup", {"DBSubnetGroupName": "other"}, "db_subnet_group_name"),
        ("Endpoint", {"Address": "x", "Port": 5433}, "port"),
        ("TagList", [{"Key": "Project", "Value": "sage"}], "tags"),
        ("AutoMinorVersionUpgrade", False, "auto_minor_version_upgrade"),
    ],
)
def test_each_instance_attribute_drifting(aws_attribute, value, attribute):
    assert changes("db_instance", INSTANCE, instance_view(described(**{aws_attribute: value}))) == [attribute]


def test_a_pending_modification_counts_as_done_as_rds_instance_sees_it():
    pending = described(BackupRetentionPeriod=1, PendingModifiedValues={"BackupRetentionPeriod": 7})
    assert changes("db_instance", INSTANCE, instance_view(pending)) == []
    pending = described(PendingModifiedValues={"DBInstanceClass": "db.t3.small"})
    assert changes("db_instance", INSTANCE, instance_view(pending)) == ["db_instance_class"]


def test_engine_version_by_major_or_exactly():
    assert changes("db_instance", dict(INSTANCE, engine_version="18.3"), instance_view(DESCRIBED)) == []
    assert changes("db_instance", dict(INSTANCE, engine_version="18.4"), instance_view(DESCRIBED)) == ["engine_version"]
    assert changes("db_instance", dict(INSTANCE, engine_version="1"), instance_view(DESCRIBED)) == ["engine_version"]


def test_a_security_group_being_removed_is_not_there_and_an_extra_one_differs():
    removing = [
        {"VpcSecurityGroupId": "sg-1", "Status": "active"},
        {"VpcSecurityGroupId": "sg-9", "Status": "removing"},
    ]
    assert changes("db_instance", INSTANCE, instance_view(described(VpcSecurityGroups=removing))) == []
    extra = [{"VpcSecurityGroupId": group, "Status": "active"} for group in ("sg-1", "sg-9")]
    assert changes("db_instance", INSTANCE, instance_view(described(VpcSecurityGroups=extra))) == [
        "vpc_security_group_ids"
    ]


def test_an_instance_being_created_has_no_endpoint_yet():
    view = instance_view(described(DBInstanceStatus="creating", Endpoint=None, DbInstancePort=5432))
    assert view["endpoint"] is None and view["status"] == "creating"
    assert changes("db_instance", INSTANCE, view) == []


def test_parameter_group_compares_only_the_parameters_asked_for():
    desired = {"family": "postgres18", "parameters": {"max_connections": "100", "rds.force_ssl": True}, "tags": TAGS}
    current = {
        "family": "postgres18",
        "parameters": {"max_connections": "100", "rds.force_ssl": "1", "work_mem": "8192"},
        "tags": TAGS,
    }
    assert changes("db_parameter_group", desired, current) == []
    at_default = dict(current, parameters={"rds.force_ssl": "1"})
    assert changes("db_parameter_group", desired, at_default) == ["parameters"]
    assert changes("db_parameter_group", desired, dict(current, tags={})) == ["tags"]


@pytest.fixture
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("rds", region_name=REGION)


def test_readers_against_moto(aws, calls):
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    tags = [{"Key": "Project", "Value": "sage"}]
    aws.create_db_subnet_group(
        DBSubnetGroupName="sage-db-subnets", DBSubnetGroupDescription="d", SubnetIds=subnets, Tags=tags
    )
    aws.create_db_parameter_group(
        DBParameterGroupName="sage-pg", DBParameterGroupFamily="postgres18", Description="p", Tags=tags
    )
    aws.modify_db_parameter_group(
        DBParameterGroupName="sage-pg",
        Parameters=[{"ParameterName": "max_connections", "ParameterValue": "100", "ApplyMethod": "pending-reboot"}],
    )
    aws.create_db_instance(
        DBInstanceIdentifier="sage-postgres",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="sage_admin",
        MasterUserPassword="not-read-here-0",
        BackupRetentionPeriod=7,
        PubliclyAccessible=False,
        Tags=tags,
    )
    calls.clear()

    groups = read_subnet_groups(aws, ["sage-db-subnets", "missing"])
    assert groups["missing"] is None
    assert groups["sage-db-subnets"]["subnets"] == sorted(subnets)
    desired = {"description": "d", "subnets": list(reversed(subnets)), "tags": {"Project": "sage"}}
    stack = {"db_subnet_group": groups}
    assert plan_entry("db_subnet_group", "sage-db-subnets", desired, stack)["action"] == "unchanged"
    assert plan_entry("db_subnet_group", "missing", desired, stack)["action"] == "create"

    parameter_groups = read_parameter_groups(aws, ["sage-pg", "missing"])
    assert parameter_groups["missing"] is None
    assert parameter_groups["sage-pg"]["family"] == "postgres18"
    assert parameter_groups["sage-pg"]["parameters"]["max_connections"] == "100"
    assert parameter_groups["sage-pg"]["tags"] == {"Project": "sage"}

    instances = read_instances(aws, ["sage-postgres", "missing"])
    assert instances["missing"] is None
    view = instances["sage-postgres"]
    assert (view["backup_retention_period"], view["publicly_accessible"], view["tags"]) == (7, False, TAGS)
    assert "not-read-here-0" not in str(instances)
    assert calls.count("DescribeDBInstances") == 2 and "ModifyDBInstance" not in calls

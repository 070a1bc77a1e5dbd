"""From nothing to a prod-shaped network and back to nothing: check mode, the plan of an empty account and what the
converge then creates, per-AZ NAT, removal twice."""

from __future__ import annotations

import collections
import json

import pytest

from tests.harness import emulator as emulator_harness
from tests.harness.playbook import run_playbook

PROD_SHAPE = {
    "network_nat_gateway_mode": "per_az",
    "network_operations_access_enabled": True,
    "database_multi_az": True,
    "cache_num_nodes": 2,
    "ecs_alb_deletion_protection": True,
    "database_deletion_protection": True,
}


@pytest.fixture(scope="module")
def empty(emulator):
    emulator.reset_state()
    return emulator


def still_there(aws, arn: str) -> bool:
    """False for what a removal keeps on purpose or leaves listed in a final state (as AWS does)."""
    if ":snapshot:sage-postgres-final-" in arn or ":secret:sage/" in arn:
        return False
    if ":natgateway/" in arn:
        (nat,) = aws("ec2").describe_nat_gateways(NatGatewayIds=[arn.rsplit("/", 1)[1]])["NatGateways"]
        return nat["State"] != "deleted"
    ecs = aws("ecs")
    if ":task-definition/" in arn:
        return ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["status"] == "ACTIVE"
    if ":cluster/" in arn:
        return [c["status"] for c in ecs.describe_clusters(clusters=[arn])["clusters"]] == ["ACTIVE"]
    if ":service/" in arn:
        cluster = arn.split("/")[-2]
        return [s["status"] for s in ecs.describe_services(cluster=cluster, services=[arn])["services"]] == ["ACTIVE"]
    if ":task/" in arn:
        cluster = arn.split("/")[-2]
        return [t["lastStatus"] for t in ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"]] != ["STOPPED"]
    return True


def stack_vpcs(aws):
    return aws("ec2").describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["sage-vpc"]}])["Vpcs"]


def test_check_mode_on_an_empty_account_creates_nothing(empty, aws):
    empty.reset_calls()
    run = run_playbook("site.yml", empty.endpoint, "--check", extra_vars=PROD_SHAPE).assert_ok()
    assert run.changed > 0, "check mode should report what it would create"
    assert empty.mutating_calls() == []
    assert stack_vpcs(aws) == []
    assert aws("secretsmanager").list_secrets()["SecretList"] == []


@pytest.fixture(scope="module")
def planned(empty, tmp_path_factory):
    """plan.yml on the empty account: its JSON document."""
    plan_file = tmp_path_factory.mktemp("plan") / "plan.json"
    empty.reset_calls()
    run_playbook(
        "playbooks/plan.yml", empty.endpoint, extra_vars={**PROD_SHAPE, "plan_file": str(plan_file)}
    ).assert_ok()
    assert empty.mutating_calls() == []
    return json.loads(plan_file.read_text())


def test_the_plan_of_an_empty_account_lists_every_resource_to_create(planned):
    actions = collections.Counter(entry["action"] for entry in planned["resources"])
    assert set(actions) <= {"create", "update", "unchanged"}, actions
    # Unchanged: only what should not exist and does not (a disabled feature's resource).
    assert [e["name"] for e in planned["resources"] if e["action"] == "unchanged" and e["desired"] is not None] == []
    # The only update: the VPC's default security group, which AWS creates with the VPC and the role empties.
    assert [(e["kind"], e["name"]) for e in planned["resources"] if e["action"] == "update"] == [
        ("security_group", "default")
    ]
    assert planned["summary"]["create"] == actions["create"] > 60
    kinds = {entry["kind"] for entry in planned["resources"]}
    assert kinds >= {"vpc", "subnet", "nat_gateway", "elastic_ip", "route_table", "security_group", "iam_role"}


def test_per_az_nat_routes_each_zone_through_its_own_gateway(empty, aws, planned):
    empty.reset_calls()
    run_playbook("site.yml", empty.endpoint, extra_vars=PROD_SHAPE).assert_ok()
    created = [call["action"] for call in empty.calls() if emulator_harness.creates_a_resource(call)]
    assert len(created) == planned["summary"]["create"], collections.Counter(created)
    ec2 = aws("ec2")
    vpc = stack_vpcs(aws)[0]["VpcId"]
    nats = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NatGateways"]
    nat_by_subnet = {n["SubnetId"]: n["NatGatewayId"] for n in nats}
    assert len(nat_by_subnet) == 2
    subnets = {s["SubnetId"]: s for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]}
    zone_of = {sid: s["AvailabilityZone"] for sid, s in subnets.items()}
    nat_zone = {nat: zone_of[subnet] for subnet, nat in nat_by_subnet.items()}
    tables = ec2.describe_route_tables(Filters=[{"Name": "tag:Tier", "Values": ["private"]}])["RouteTables"]
    assert len(tables) == 2
    for table in tables:
        (association,) = table["Associations"]
        (route,) = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert nat_zone[route["NatGatewayId"]] == zone_of[association["SubnetId"]]
    groups = {
        g["GroupName"]: g
        for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
    }
    ops_id = groups["sage-ops-sg"]["GroupId"]
    rds_sources = {p["GroupId"] for perm in groups["sage-rds-sg"]["IpPermissions"] for p in perm["UserIdGroupPairs"]}
    assert rds_sources == {groups["sage-ecs-sg"]["GroupId"], ops_id}
    assert groups["sage-ops-sg"]["IpPermissions"] == []


def test_prod_shaped_data_tier(empty, aws):
    (db,) = aws("rds").describe_db_instances(DBInstanceIdentifier="sage-postgres")["DBInstances"]
    assert db["MultiAZ"]
    (group,) = aws("elasticache").describe_replication_groups(ReplicationGroupId="sage-valkey")["ReplicationGroups"]
    assert (len(group["MemberClusters"]), group["AutomaticFailover"], group["MultiAZ"]) == (2, "enabled", "enabled")


def test_service_waits_for_its_first_image(empty, aws):
    """The registry is empty: the service exists without tasks (they could only fail to pull) or autoscaling."""
    (service,) = aws("ecs").describe_services(cluster="sage-cluster", services=["sage-backend"])["services"]
    assert (service["status"], service["desiredCount"]) == ("ACTIVE", 0)
    targets = aws("application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert targets == []


def test_prod_teardown_needs_the_stack_name(empty, aws):
    empty.reset_calls()
    refused = run_playbook("playbooks/teardown.yml", empty.endpoint, extra_vars={"sage_environment": "prod"})
    assert refused.returncode != 0 and "pass -e confirm_teardown=sage" in refused.output
    assert empty.mutating_calls() == []


def test_rerun_of_the_prod_shape_changes_nothing(empty):
    assert run_playbook("site.yml", empty.endpoint, extra_vars=PROD_SHAPE).assert_ok().changed == 0


def test_teardown_respects_deletion_protection_before_removing_anything(empty, aws):
    (db,) = aws("rds").describe_db_instances(DBInstanceIdentifier="sage-postgres")["DBInstances"]
    assert db["DeletionProtection"]
    empty.reset_calls()
    refused = run_playbook("playbooks/teardown.yml", empty.endpoint, extra_vars=PROD_SHAPE)
    assert refused.returncode != 0
    assert "The load balancer sage-alb has deletion protection on" in refused.output, refused.output[-3000:]
    assert empty.mutating_calls() == []

    # Someone turned the load balancer's protection off by hand: the database's still stops the teardown.
    elbv2 = aws("elbv2")
    (alb,) = elbv2.describe_load_balancers(Names=["sage-alb"])["LoadBalancers"]
    attribute = {"Key": "deletion_protection.enabled", "Value": "false"}
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=alb["LoadBalancerArn"], Attributes=[attribute])
    empty.reset_calls()
    refused = run_playbook("playbooks/teardown.yml", empty.endpoint, extra_vars=PROD_SHAPE)
    assert refused.returncode != 0
    assert "The database sage-postgres has deletion protection on" in refused.output, refused.output[-3000:]
    assert empty.mutating_calls() == []


def test_removal_leaves_nothing_and_is_idempotent(empty, aws):
    unprotected = {
        **PROD_SHAPE,
        "ecs_alb_deletion_protection": False,
        "database_deletion_protection": False,
        "database_final_snapshot": True,
    }
    assert run_playbook("site.yml", empty.endpoint, extra_vars=unprotected).assert_ok().changed == 1
    secrets = aws("secretsmanager")
    generated = [
        json.loads(secrets.get_secret_value(SecretId="sage/database-master")["SecretString"])["password"],
        json.loads(secrets.get_secret_value(SecretId="sage/valkey-auth-token")["SecretString"])["auth_token"],
    ]
    first = run_playbook("playbooks/teardown.yml", empty.endpoint, "-vvv", extra_vars=unprotected).assert_ok()
    assert first.changed > 0
    assert not [value for value in generated if value in first.output], "no secret value in -vvv output"
    (snapshot,) = aws("rds").describe_db_snapshots(DBInstanceIdentifier="sage-postgres")["DBSnapshots"]
    assert snapshot["DBSnapshotIdentifier"].startswith("sage-postgres-final-"), "the final snapshot prod asks for"
    ec2 = aws("ec2")
    assert stack_vpcs(aws) == []
    assert [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] != "deleted"] == []
    assert ec2.describe_addresses()["Addresses"] == [], "NAT Elastic IPs are released"
    assert [g for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"].startswith("sage-")] == []
    assert ec2.describe_flow_logs()["FlowLogs"] == []
    assert aws("logs").describe_log_groups(logGroupNamePrefix="/aws/vpc/sage")["logGroups"] == []
    assert [r for r in aws("iam").list_roles()["Roles"] if r["RoleName"].startswith("sage-")] == []
    ecs = aws("ecs")
    assert [c for c in ecs.describe_clusters(clusters=["sage-cluster"])["clusters"] if c["status"] == "ACTIVE"] == []
    assert ecs.list_task_definitions(familyPrefix="sage-backend", status="ACTIVE")["taskDefinitionArns"] == []
    elbv2 = aws("elbv2")
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    assert elbv2.describe_target_groups()["TargetGroups"] == []
    assert aws("ecr").describe_repositories()["repositories"] == [], "an empty repository is removed"
    assert aws("logs").describe_log_groups(logGroupNamePrefix="/ecs/sage")["logGroups"] == []
    secrets = aws("secretsmanager").list_secrets(IncludePlannedDeletion=True)["SecretList"]
    assert len(secrets) == 8 and all("DeletedDate" in s for s in secrets), "scheduled, with a recovery window"
    rds = aws("rds")
    assert rds.describe_db_instances()["DBInstances"] == []
    assert rds.describe_db_subnet_groups()["DBSubnetGroups"] == []
    assert [
        g
        for g in rds.describe_db_parameter_groups()["DBParameterGroups"]
        if g["DBParameterGroupName"].startswith("sage")
    ] == []
    elasticache = aws("elasticache")
    assert elasticache.describe_replication_groups()["ReplicationGroups"] == []
    assert [
        g
        for g in elasticache.describe_cache_subnet_groups()["CacheSubnetGroups"]
        if g["CacheSubnetGroupName"].startswith("sage")
    ] == []

    cloudwatch = aws("cloudwatch")
    assert [a for a in cloudwatch.describe_alarms()["MetricAlarms"] if a["AlarmName"].startswith("sage-")] == []
    assert cloudwatch.list_dashboards()["DashboardEntries"] == []
    assert aws("sns").list_topics()["Topics"] == []
    assert aws("lambda").list_functions()["Functions"] == []
    assert aws("sqs").list_queues().get("QueueUrls", []) == []
    assert aws("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/sage")["logGroups"] == []
    buckets = [b["Name"] for b in aws("s3").list_buckets()["Buckets"]]
    assert "sage-backups" not in buckets, "an empty backup bucket is removed"

    # Whatever the listings above do not name: nothing tagged by the stack is left but what is kept on purpose
    # (the final snapshot, the secrets in their recovery window) and what AWS too lists a while after removal.
    tagged = aws("resourcegroupstaggingapi").get_resources(TagFilters=[{"Key": "ManagedBy", "Values": ["ansible"]}])
    listed = [m["ResourceARN"] for m in tagged["ResourceTagMappingList"]]
    assert [arn for arn in listed if still_there(aws, arn)] == [], listed

    second = run_playbook("playbooks/teardown.yml", empty.endpoint, extra_vars=unprotected).assert_ok()
    assert second.changed == 0, second.output

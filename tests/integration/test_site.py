"""site.yml on the local inventory: converge, re-run with changed=0, check mode, the AWS state it leaves."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.harness.operator import operator_session
from tests.harness.playbook import run_playbook
from tests.integration.test_inventories import inventory_vars
from tests.test_booleans import booleans

STACK = "sage"


def vpc_id(aws):
    vpcs = aws("ec2").describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{STACK}-vpc"]}])["Vpcs"]
    assert len(vpcs) == 1, vpcs
    return vpcs[0]["VpcId"]


def test_rerun_changes_nothing(converged, emulator):
    emulator.reset_calls()
    second = run_playbook("site.yml", emulator.endpoint).assert_ok()
    assert second.changed == 0, second.output
    assert emulator.mutating_calls() == []


def test_check_mode_on_a_converged_stack_changes_nothing(converged, emulator):
    emulator.reset_calls()
    check = run_playbook("site.yml", emulator.endpoint, "--check", "--diff").assert_ok()
    assert check.changed == 0, check.output
    assert emulator.mutating_calls() == []


def test_outputs_are_printed(converged, aws):
    """The converge is the README's `make demo` (conftest.py): it ends with the stack's outputs."""
    assert "AWS emulator already answering on" in converged.output and "ansible-playbook site.yml" in converged.output
    assert vpc_id(aws) in converged.output
    for output in ("alb_dns_name: sage-alb", "database_endpoint: sage-postgres.", "valkey_endpoint: master.sage-"):
        assert output in converged.output
    for name in (
        "anthropic-api-key",
        "discord-webhook-errors",
        "discord-webhook-performance",
        "discord-webhook-business",
    ):
        assert f"secret:{STACK}/{name}" in converged.output


def test_vpc_has_dns_and_the_specified_cidr(converged, aws):
    ec2 = aws("ec2")
    vpc = vpc_id(aws)
    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["CidrBlock"] == "10.0.0.0/16"
    for attribute, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
        assert ec2.describe_vpc_attribute(VpcId=vpc, Attribute=attribute)[key]["Value"] is True


def test_one_subnet_per_tier_and_zone(converged, aws):
    subnets = aws("ec2").describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id(aws)]}])["Subnets"]
    layout = {}
    for subnet in subnets:
        tags = {t["Key"]: t["Value"] for t in subnet["Tags"]}
        layout[tags["Name"]] = (subnet["CidrBlock"], subnet["AvailabilityZone"], tags["Tier"])
    assert layout == {
        "sage-public-1": ("10.0.1.0/24", "us-west-2a", "public"),
        "sage-public-2": ("10.0.2.0/24", "us-west-2b", "public"),
        "sage-private-1": ("10.0.11.0/24", "us-west-2a", "private"),
        "sage-private-2": ("10.0.12.0/24", "us-west-2b", "private"),
        "sage-database-1": ("10.0.21.0/24", "us-west-2a", "database"),
        "sage-database-2": ("10.0.22.0/24", "us-west-2b", "database"),
    }


def route_tables(aws):
    tables = aws("ec2").describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id(aws)]}])["RouteTables"]
    named = {}
    for table in tables:
        name = {t["Key"]: t["Value"] for t in table.get("Tags", [])}.get("Name")
        if name:
            named[name] = table
    return named


def subnet_ids(aws, tier):
    subnets = aws("ec2").describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id(aws)]}, {"Name": "tag:Tier", "Values": [tier]}]
    )["Subnets"]
    return sorted(s["SubnetId"] for s in subnets)


def default_routes(table):
    return [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]


def test_routing_per_tier(converged, aws):
    tables = route_tables(aws)
    assert set(tables) == {"sage-public-rt", "sage-private-rt-1", "sage-private-rt-2", "sage-database-rt"}

    public = tables["sage-public-rt"]
    assert [r["GatewayId"][:4] for r in default_routes(public)] == ["igw-"]
    assert sorted(a["SubnetId"] for a in public["Associations"]) == subnet_ids(aws, "public")

    nats = aws("ec2").describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc_id(aws)]}])["NatGateways"]
    assert len(nats) == 1, "the local inventory shares one NAT gateway"
    for name in ("sage-private-rt-1", "sage-private-rt-2"):
        assert [r["NatGatewayId"] for r in default_routes(tables[name])] == [nats[0]["NatGatewayId"]]

    database = tables["sage-database-rt"]
    assert sorted(a["SubnetId"] for a in database["Associations"]) == subnet_ids(aws, "database")
    assert [r for r in database["Routes"] if r.get("GatewayId") != "local"] == [], "no route out of the VPC"


def test_s3_gateway_endpoint_serves_the_private_route_tables(converged, aws):
    endpoints = aws("ec2").describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id(aws)]}])["VpcEndpoints"]
    assert [e["ServiceName"] for e in endpoints] == ["com.amazonaws.us-west-2.s3"]
    tables = route_tables(aws)
    assert sorted(endpoints[0]["RouteTableIds"]) == sorted(
        tables[n]["RouteTableId"] for n in ("sage-private-rt-1", "sage-private-rt-2")
    )
    # Through it: ECR's image layers (read only), and the stack's bucket for this account's principals only.
    account = aws("sts").get_caller_identity()["Account"]
    statements = {s["Sid"]: s for s in json.loads(endpoints[0]["PolicyDocument"])["Statement"]}
    assert set(statements) == {"EcrImageLayers", "TheStacksBuckets"}
    layers = statements["EcrImageLayers"]
    assert (layers["Action"], layers["Resource"]) == (
        "s3:GetObject",
        "arn:aws:s3:::prod-us-west-2-starport-layer-bucket/*",
    )
    ours = statements["TheStacksBuckets"]
    assert sorted(ours["Resource"]) == ["arn:aws:s3:::sage-backups", "arn:aws:s3:::sage-backups/*"]
    assert ours["Condition"] == {"StringEquals": {"aws:PrincipalAccount": account}}


def security_groups(aws):
    groups = aws("ec2").describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id(aws)]}])[
        "SecurityGroups"
    ]
    return {g["GroupName"]: g for g in groups}


def ingress(group, by_id):
    """(protocol, from, to, source) for every ingress permission, source a CIDR or a group name."""
    rules = set()
    for perm in group["IpPermissions"]:
        key = (perm["IpProtocol"], perm.get("FromPort"), perm.get("ToPort"))
        rules |= {(*key, r["CidrIp"]) for r in perm.get("IpRanges", [])}
        rules |= {(*key, r["CidrIpv6"]) for r in perm.get("Ipv6Ranges", [])}
        rules |= {(*key, by_id[p["GroupId"]]) for p in perm.get("UserIdGroupPairs", [])}
    return rules


def test_security_groups_are_least_privilege(converged, aws):
    groups = security_groups(aws)
    by_id = {g["GroupId"]: name for name, g in groups.items()}
    assert set(groups) == {"default", "sage-alb-sg", "sage-ecs-sg", "sage-rds-sg", "sage-valkey-sg"}
    assert ingress(groups["sage-alb-sg"], by_id) == {
        ("tcp", 80, 80, "0.0.0.0/0"),
        ("tcp", 443, 443, "0.0.0.0/0"),
        ("tcp", 80, 80, "::/0"),
        ("tcp", 443, 443, "::/0"),
    }
    assert ingress(groups["sage-ecs-sg"], by_id) == {("tcp", 3000, 3000, "sage-alb-sg")}
    assert ingress(groups["sage-rds-sg"], by_id) == {("tcp", 5432, 5432, "sage-ecs-sg")}
    assert ingress(groups["sage-valkey-sg"], by_id) == {("tcp", 6379, 6379, "sage-ecs-sg")}
    assert groups["default"]["IpPermissions"] == [] and groups["default"]["IpPermissionsEgress"] == []
    assert groups["sage-rds-sg"]["IpPermissionsEgress"] == []
    assert groups["sage-valkey-sg"]["IpPermissionsEgress"] == []


def test_network_drift_is_repaired_where_it_is_and_nowhere_else(converged, aws, emulator):
    """A no-op run reads subnets, route tables and security groups once each and runs their modules only for
    what differs from the plan: drift made by hand is found and repaired, and only there."""
    ec2 = aws("ec2")
    subnet = aws("ec2").describe_subnets(Filters=[{"Name": "tag:Name", "Values": ["sage-database-2"]}])["Subnets"][0]
    ec2.delete_tags(Resources=[subnet["SubnetId"]], Tags=[{"Key": "Tier"}])
    tables = route_tables(aws)
    ec2.delete_route(RouteTableId=tables["sage-private-rt-2"]["RouteTableId"], DestinationCidrBlock="0.0.0.0/0")
    database_association = tables["sage-database-rt"]["Associations"][0]
    ec2.disassociate_route_table(AssociationId=database_association["RouteTableAssociationId"])
    groups = security_groups(aws)
    ec2.authorize_security_group_ingress(
        GroupId=groups["sage-rds-sg"]["GroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    ec2.authorize_security_group_egress(
        GroupId=groups["sage-valkey-sg"]["GroupId"],
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )

    emulator.reset_calls()
    repair = run_playbook("site.yml", emulator.endpoint, "--tags", "network").assert_ok()
    assert repair.changed == 3, repair.output  # the subnet, the two route tables (one loop task), the two groups
    touched = {c["action"] for c in emulator.mutating_calls()}
    assert touched <= {
        "CreateTags",
        "DeleteTags",
        "CreateRoute",
        "AssociateRouteTable",
        "RevokeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
    }, touched
    repaired_subnet = ec2.describe_subnets(SubnetIds=[subnet["SubnetId"]])["Subnets"][0]
    assert {"Key": "Tier", "Value": "database"} in repaired_subnet["Tags"]
    test_routing_per_tier(converged, aws)
    test_security_groups_are_least_privilege(converged, aws)

    emulator.reset_calls()
    again = run_playbook("site.yml", emulator.endpoint, "--tags", "network").assert_ok()
    assert again.changed == 0, again.output
    assert emulator.mutating_calls() == []
    described = [c["action"] for c in emulator.calls()]
    for action in ("DescribeSubnets", "DescribeRouteTables", "DescribeSecurityGroups"):
        assert described.count(action) == 1, (action, described)


def test_flow_logs_go_to_a_log_group_with_retention(converged, aws):
    logs = aws("ec2").describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id(aws)]}])["FlowLogs"]
    assert [(f["LogGroupName"], f["TrafficType"]) for f in logs] == [("/aws/vpc/sage-flow-logs", "ALL")]
    group = aws("logs").describe_log_groups(logGroupNamePrefix="/aws/vpc/sage-flow-logs")["logGroups"]
    assert group[0]["retentionInDays"] == 1


def test_everything_is_tagged(converged, aws):
    ec2 = aws("ec2")
    vpc = vpc_id(aws)
    wanted = {"Project": "sage", "Environment": "local", "ManagedBy": "ansible"}
    resources = {
        "vpc": ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"],
        "subnet": ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"],
        "igw": ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])[
            "InternetGateways"
        ],
        "nat": ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NatGateways"],
        "eip": ec2.describe_addresses()["Addresses"],
        "route table": list(route_tables(aws).values()),
        "endpoint": ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"],
        "security group": [g for n, g in security_groups(aws).items() if n != "default"],
        "flow log": ec2.describe_flow_logs()["FlowLogs"],
    }
    for kind, items in resources.items():
        assert items, f"no {kind} found"
        for item in items:
            tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
            assert wanted.items() <= tags.items(), f"{kind} {tags}"
            assert tags.get("Name", "").startswith("sage-"), f"{kind} {tags}"


def test_secrets_exist_without_values_when_the_vault_gives_none(converged, aws):
    secrets = aws("secretsmanager")
    for name in (
        "anthropic-api-key",
        "discord-webhook-errors",
        "discord-webhook-performance",
        "discord-webhook-business",
    ):
        described = secrets.describe_secret(SecretId=f"{STACK}/{name}")
        assert not described.get("VersionIdsToStages"), "no value was given, none may be invented"
        assert {"Key": "Environment", "Value": "local"} in described["Tags"]
    assert "have no value yet" in converged.output


def resource_policy(aws, name):
    document = aws("secretsmanager").get_resource_policy(SecretId=name).get("ResourcePolicy")
    return json.loads(document) if document else None


def test_secret_resource_policies_name_only_their_readers_and_the_operators(converged, aws, emulator):
    operator, connection = operator_session(emulator.endpoint)
    as_operator = {"sage_aws_connection": connection}
    secrets = [secret["Name"] for secret in aws("secretsmanager").list_secrets()["SecretList"]]
    assert len(secrets) == 8 and all(resource_policy(aws, name) is None for name in secrets)

    # A list that misses who runs the play would shut it out: refused, nothing changed.
    emulator.reset_calls()
    someone_else = "arn:aws:iam::123456789012:role/someone-else"
    refused = run_playbook(
        "site.yml", emulator.endpoint, extra_vars={**as_operator, "secrets_operator_principal_arns": [someone_else]}
    )
    assert refused.returncode != 0
    session = "arn:aws:sts::123456789012:assumed-role/platform-operator/operator"
    assert f"secrets_operator_principal_arns must name the identity running this play ({session}" in refused.output
    assert emulator.mutating_calls() == []

    given = {**as_operator, "secrets_operator_principal_arns": [operator]}
    assert run_playbook("site.yml", emulator.endpoint, extra_vars=given).assert_ok().changed == 1
    app = "arn:aws:iam::123456789012:role/sage-ecs-task-execution"
    alert_lambda = "arn:aws:iam::123456789012:role/sage-discord-alert"
    readers = {
        "sage/anthropic-api-key": [app],
        "sage/discord-webhook-errors": [alert_lambda, app],
        "sage/discord-webhook-performance": [alert_lambda, app],
        "sage/discord-webhook-business": [alert_lambda, app],
        "sage/database-url": [app],
        "sage/valkey-url": [app],
        "sage/database-master": [],
        "sage/valkey-auth-token": [],
    }
    assert sorted(readers) == sorted(secrets)
    for name, its_readers in readers.items():
        deny_all, *only_reads = resource_policy(aws, name)["Statement"]
        assert deny_all["Effect"] == "Deny" and deny_all["Principal"] == "*"
        assert deny_all["Action"] == "secretsmanager:*" and deny_all["Resource"] == "*"
        assert deny_all["Condition"] == {"StringNotEquals": {"aws:PrincipalArn": sorted([*its_readers, operator])}}
        assert [(s["Effect"], s["Principal"], s["NotAction"]) for s in only_reads] == [
            ("Deny", {"AWS": reader}, "secretsmanager:GetSecretValue") for reader in its_readers
        ], name

    emulator.reset_calls()
    again = run_playbook("site.yml", emulator.endpoint, extra_vars=given).assert_ok()
    assert again.changed == 0, again.output
    assert emulator.mutating_calls() == []

    # Another operator: the preview shows the eight policies to update, and changes nothing.
    emulator.reset_calls()
    more = {**given, "secrets_operator_principal_arns": [operator, "arn:aws:iam::123456789012:user/alice"]}
    preview = run_playbook("site.yml", emulator.endpoint, "--check", "--diff", extra_vars=more).assert_ok()
    assert "8 to change" in preview.output, preview.output
    assert emulator.mutating_calls() == []

    for name in secrets:  # back to the shared stack as converged
        aws("secretsmanager").delete_resource_policy(SecretId=name)


def secret_value(aws, name):
    return aws("secretsmanager").get_secret_value(SecretId=name)["SecretString"]


def test_rds_postgres_as_specified(converged, aws):
    rds = aws("rds")
    (db,) = rds.describe_db_instances(DBInstanceIdentifier="sage-postgres")["DBInstances"]
    assert (db["Engine"], db["EngineVersion"].split(".")[0], db["DBInstanceClass"]) == ("postgres", "18", "db.t3.micro")
    assert (db["AllocatedStorage"], db["MaxAllocatedStorage"], db["StorageType"]) == (20, 100, "gp3")
    assert db["StorageEncrypted"] and not db["PubliclyAccessible"] and not db["MultiAZ"]
    assert (db["BackupRetentionPeriod"], db["PreferredBackupWindow"]) == (7, "03:00-04:00")
    assert db["PreferredMaintenanceWindow"] == "sun:04:30-sun:05:30"
    assert db["CopyTagsToSnapshot"] and db["EnabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == "sage-db-subnets"
    assert sorted(s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]) == subnet_ids(aws, "database")
    rds_sg = security_groups(aws)["sage-rds-sg"]["GroupId"]
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [rds_sg]
    assert [g["DBParameterGroupName"] for g in db["DBParameterGroups"]] == ["sage-postgres-postgres18"]
    params = {
        p["ParameterName"]: p
        for p in rds.describe_db_parameters(DBParameterGroupName="sage-postgres-postgres18")["Parameters"]
    }
    assert params["max_connections"]["ParameterValue"] == "100"
    assert params["max_connections"]["ApplyMethod"] == "pending-reboot"
    assert params["rds.force_ssl"]["ParameterValue"] == "1"
    assert params["log_min_duration_statement"]["ParameterValue"] == "1000"


def test_database_url_sizes_each_task_pool_within_max_connections(converged, aws):
    (db,) = aws("rds").describe_db_instances(DBInstanceIdentifier="sage-postgres")["DBInstances"]
    master = json.loads(secret_value(aws, "sage/database-master"))
    assert master["username"] == "sage_admin" and len(master["password"]) == 32
    url = urlsplit(secret_value(aws, "sage/database-url"))
    query = parse_qs(url.query)
    assert (url.scheme, url.hostname, url.port, url.path) == ("postgresql", db["Endpoint"]["Address"], 5432, "/sage")
    assert (url.username, url.password) == (master["username"], master["password"])
    assert query["sslmode"] == ["require"]
    # 4 tasks (database_app_max_tasks) x 20 = 80: max_connections 100 less 20 % headroom.
    assert query["connection_limit"] == ["20"]


def test_valkey_replication_group_as_specified(converged, aws):
    (group,) = aws("elasticache").describe_replication_groups(ReplicationGroupId="sage-valkey")["ReplicationGroups"]
    assert group["Status"] == "available"
    assert group["TransitEncryptionEnabled"] and group["AtRestEncryptionEnabled"] and group["AuthTokenEnabled"]
    assert group["AutomaticFailover"] == "disabled" and group["MultiAZ"] == "disabled"
    assert (group["SnapshotRetentionLimit"], group["SnapshotWindow"]) == (1, "05:00-06:00")
    assert group["CacheNodeType"] == "cache.t3.micro"
    assert group["AutoMinorVersionUpgrade"] is True, "minor and patch releases (security fixes) are applied"
    (member,) = aws("elasticache").describe_cache_clusters(CacheClusterId=group["MemberClusters"][0])["CacheClusters"]
    assert member["Engine"] == "valkey" and member["EngineVersion"].startswith("8.0")
    assert member["CacheSubnetGroupName"] == "sage-cache-subnets"
    valkey_sg = security_groups(aws)["sage-valkey-sg"]["GroupId"]
    assert [g["SecurityGroupId"] for g in member["SecurityGroups"]] == [valkey_sg]
    assert member["PreferredMaintenanceWindow"] == "sun:06:30-sun:07:30"
    subnets = aws("elasticache").describe_cache_subnet_groups(CacheSubnetGroupName="sage-cache-subnets")
    assert sorted(s["SubnetIdentifier"] for s in subnets["CacheSubnetGroups"][0]["Subnets"]) == subnet_ids(
        aws, "database"
    )


def test_valkey_url_uses_tls_and_the_auth_token(converged, aws):
    (group,) = aws("elasticache").describe_replication_groups(ReplicationGroupId="sage-valkey")["ReplicationGroups"]
    endpoint = group["NodeGroups"][0]["PrimaryEndpoint"]
    token = json.loads(secret_value(aws, "sage/valkey-auth-token"))["auth_token"]
    url = urlsplit(secret_value(aws, "sage/valkey-url"))
    assert (url.scheme, url.hostname, url.port, url.password) == ("rediss", endpoint["Address"], 6379, token)
    assert len(token) == 64


def generated_secrets(aws):
    return [
        json.loads(secret_value(aws, "sage/database-master"))["password"],
        json.loads(secret_value(aws, "sage/valkey-auth-token"))["auth_token"],
        secret_value(aws, "sage/database-url"),
        secret_value(aws, "sage/valkey-url"),
    ]


def test_generated_secrets_never_appear_in_vvv_output(converged, aws):
    assert "<localhost> EXEC" in converged.output, "the converge ran at -vvv"
    for value in generated_secrets(aws):
        assert value not in converged.output


def test_generated_secrets_are_not_regenerated(converged, aws, emulator):
    before = [secret_value(aws, n) for n in ("sage/database-master", "sage/valkey-auth-token", "sage/database-url")]
    # Without the network role in the play, the data roles find the network by name and tags.
    partial = run_playbook("site.yml", emulator.endpoint, "--tags", "database,cache").assert_ok()
    assert partial.changed == 0, partial.output
    assert "database_endpoint: sage-postgres." in partial.output
    after = [secret_value(aws, n) for n in ("sage/database-master", "sage/valkey-auth-token", "sage/database-url")]
    assert after == before


def _site_booleans_as_given_on_the_command_line(forms: tuple[str, str]) -> list[str]:
    """`-e name=value` for every boolean of the roles site.yml runs, each at the value the converged stack has, in the
    given spelling (true/false or yes/no): strings, as the command line gives them."""
    hostvars = inventory_vars("local")
    given = []
    for role in ("network", "secrets", "log_bucket", "backup_bucket", "database", "cache", "ecs", "monitoring"):
        for name, default in sorted(booleans(role, "main").items()):
            value = hostvars.get(name, default)
            assert isinstance(value, bool), (name, value)
            given.append(f"{name}={forms[0] if value else forms[1]}")
    return given


@pytest.mark.parametrize("forms", [("true", "false"), ("yes", "no")], ids=["true-false", "yes-no"])
def test_every_boolean_works_as_a_string_from_the_command_line(converged, emulator, forms):
    given = _site_booleans_as_given_on_the_command_line(forms)
    assert len(given) >= 25 and "cache_parameter_group_enabled=" + forms[1] in given
    emulator.reset_calls()
    check = run_playbook("site.yml", emulator.endpoint, "--check", "-e", " ".join(given)).assert_ok()
    assert check.changed == 0, check.output
    assert emulator.mutating_calls() == []

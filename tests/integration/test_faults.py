"""site.yml through a fault-injecting proxy (tests/harness/fault_proxy.py): a fifth of the calls throttled (in each
protocol's shape) or answered 500/503, and the endpoint cut in the middle of a converge.

One converge serves both, on an empty account: a run is cut (it fails, naming the endpoint; what it created
before the cut must be found again), then a throttled run converges the rest of the stack, and a throttled
re-run changes nothing. The retries are the inventory's (`sage_aws_connection.aws_config`, botocore's
standard mode), nothing per task.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.harness import fault_proxy
from tests.harness.playbook import run_playbook

PER_AZ = {"network_nat_gateway_mode": "per_az"}  # one NAT gateway per zone: two to find again
PER_AZ_NATS = 2


@pytest.fixture(scope="module")
def proxy(emulator):
    emulator.reset_state()
    with fault_proxy.running(emulator.endpoint) as running:
        # Secret values are read with sage.infra.secretsmanager_secret, which takes the inventory's retries
        # (amazon.aws's lookup takes no botocore configuration): GetSecretValue is throttled like the rest.
        running.configure(share=0.2, faults=fault_proxy.FAULTS, seed=8)
        yield running


@pytest.fixture(scope="module")
def left_igw(proxy, aws):
    """What a run cut when it created the internet gateway leaves (the answer lost): the gateway, named and
    tagged, never attached. ec2_vpc_igw alone finds gateways by attachment and would create a second one."""
    tags = [{"Key": "Name", "Value": "sage-igw"}, {"Key": "ManagedBy", "Value": "ansible"}]
    spec = [{"ResourceType": "internet-gateway", "Tags": tags}]
    return aws("ec2").create_internet_gateway(TagSpecifications=spec)["InternetGateway"]["InternetGatewayId"]


def converge(proxy):
    proxy.reset_counts()
    return run_playbook("site.yml", proxy.endpoint, extra_vars=PER_AZ)


def test_a_cut_fails_the_run_naming_the_endpoint(proxy, left_igw):
    """The worst cut: the emulator creates the first NAT gateway, its answer is lost and the endpoint stops
    answering. The VPC, subnets, gateway and both Elastic IPs exist; the second NAT gateway does not."""
    proxy.cut_at("CreateNatGateway")
    try:
        run = converge(proxy)
    finally:
        cut = proxy.cut_event.is_set()
        proxy.restore()
    assert cut, "the run never reached CreateNatGateway"
    assert run.returncode != 0
    closed = f'Connection was closed before we received a valid response from endpoint URL: "{proxy.endpoint}/"'
    assert re.search(f"Task failed: Module failed: Failed to create nat gateway: {re.escape(closed)}", run.output), (
        run.output[-4000:]
    )
    assert "Traceback (most recent call last)" not in run.output
    assert "PLAY RECAP" in run.output


def test_then_a_throttled_run_converges(proxy):
    run = converge(proxy).assert_ok()
    assert run.changed > 0
    counts = proxy.counts()
    assert 0.1 < counts["faulted"] / counts["total"] < 0.3, counts
    assert all(counts.get(fault, 0) > 0 for fault in fault_proxy.FAULTS), counts
    throttled_services = {call.service for call in proxy.calls if call.outcome == "throttle"}
    assert len(throttled_services) >= 5, throttled_services


def test_nothing_was_created_twice(proxy, aws, left_igw):
    ec2 = aws("ec2")
    vpcs = [v for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]]
    assert [tag_name(v) for v in vpcs] == ["sage-vpc"]
    in_vpc = [{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}]

    (igw,) = ec2.describe_internet_gateways()["InternetGateways"]
    assert igw["InternetGatewayId"] == left_igw, "the gateway an interrupted run left is the one attached"
    assert igw["Attachments"] == [{"State": "available", "VpcId": vpcs[0]["VpcId"]}]
    nats = [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] not in ("deleted", "failed")]
    assert len({n["SubnetId"] for n in nats}) == len(nats) == PER_AZ_NATS
    addresses = ec2.describe_addresses()["Addresses"]
    assert len(addresses) == PER_AZ_NATS and all("AssociationId" in a for a in addresses), "no Elastic IP leaked"
    assert_unique(tag_name(s) for s in ec2.describe_subnets(Filters=in_vpc)["Subnets"])
    tables = ec2.describe_route_tables(Filters=in_vpc)["RouteTables"]
    assert_unique(tag_name(t) for t in tables if not any(a.get("Main") for a in t["Associations"]))
    assert_unique(g["GroupName"] for g in ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"])
    assert len(ec2.describe_vpc_endpoints()["VpcEndpoints"]) == 1
    assert len(ec2.describe_flow_logs()["FlowLogs"]) == 1

    secrets = aws("secretsmanager").list_secrets()["SecretList"]
    assert_unique(s["Name"] for s in secrets)
    assert [d["DBInstanceIdentifier"] for d in aws("rds").describe_db_instances()["DBInstances"]] == ["sage-postgres"]
    groups = aws("elasticache").describe_replication_groups()["ReplicationGroups"]
    assert [g["ReplicationGroupId"] for g in groups] == ["sage-valkey"]
    assert [lb["LoadBalancerName"] for lb in aws("elbv2").describe_load_balancers()["LoadBalancers"]] == ["sage-alb"]
    assert len(aws("ecs").list_services(cluster="sage-cluster")["serviceArns"]) == 1
    assert len(aws("lambda").list_functions()["Functions"]) == 1
    assert len(aws("sns").list_topics()["Topics"]) == 1

    # Whatever the listings above do not name: no two resources of a kind carry the same Name tag.
    tagged = aws("resourcegroupstaggingapi").get_resources(TagFilters=[{"Key": "ManagedBy", "Values": ["ansible"]}])
    assert_unique(
        (m["ResourceARN"].split(":")[2], m["ResourceARN"].split(":")[5].split("/")[0], tag_name(m))
        for m in tagged["ResourceTagMappingList"]
        if tag_name(m)
    )


def test_a_throttled_rerun_changes_nothing(proxy):
    run = converge(proxy).assert_ok()
    assert run.changed == 0, run.output[-4000:]
    assert proxy.counts()["faulted"] > 0


def tag_name(resource: dict) -> str | None:
    return next((t["Value"] for t in resource.get("Tags", []) if t["Key"] == "Name"), None)


def assert_unique(names) -> None:
    names = list(names)
    assert names, "nothing found"
    duplicates = [name for name, count in Counter(names).items() if count > 1]
    assert duplicates == [], f"created twice: {duplicates}"

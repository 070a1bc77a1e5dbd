# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""sage.infra.stack_info against moto in-process: what it reads (IAM roles with their inline policies, log groups,
the network), that it never writes, how many calls it makes, and that a kind it cannot read is reported apart."""

import json

import boto3
import pytest
from ansible_collections.sage.infra.plugins.module_utils import stack
from ansible_collections.sage.infra.plugins.modules import stack_info as mod
from moto import mock_aws

REGION = "us-west-2"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}
MUTATING = ("Create", "Put", "Delete", "Update", "Modify", "Attach", "Detach", "Tag", "Untag", "Authorize", "Revoke")


@pytest.fixture(autouse=True)
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def run(module_runner):
    return module_runner(mod.main, region=REGION, expect={"changed": False})


def client(service):
    return boto3.client(service, region_name=REGION)


def make_role(name="sage-backend-execution", **policies):
    iam = client("iam")
    iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(TRUST),
        Description="Pulls the image",
        Tags=[{"Key": "Project", "Value": "sage"}],
    )
    for policy_name, document in policies.items():
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))


def test_roles_are_read_with_every_inline_policy_and_missing_ones_are_null(run, requests):
    make_role(app=POLICY)
    requests.clear()
    result = run(resources={"iam_role": ["sage-backend-execution", "sage-missing"]})
    role = result["stack"]["iam_role"]["sage-backend-execution"]
    assert result["stack"]["iam_role"]["sage-missing"] is None
    assert role["description"] == "Pulls the image"
    assert role["tags"] == {"Project": "sage"}
    assert stack.canonical_policy(role["trust_policy"]) == stack.canonical_policy(TRUST)
    assert stack.canonical_policy(role["inline_policies"]["app"]) == stack.canonical_policy(POLICY)
    assert result["errors"] == {}
    assert not [name for name, _params in requests if name.startswith(MUTATING)]
    # GetRole for each, then the role found: its policy names and each policy.
    assert sorted(name for name, _params in requests) == ["GetRole", "GetRole", "GetRolePolicy", "ListRolePolicies"]


def test_an_extra_inline_policy_is_a_difference_and_named_for_removal(run):
    make_role(
        **{
            "app": POLICY,
            "added-by-hand": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}],
            },
        }
    )
    read = run(resources={"iam_role": ["sage-backend-execution"]})["stack"]
    desired = {
        "description": "Pulls the image",
        "trust_policy": TRUST,
        "tags": {"Project": "sage"},
        "inline_policies": {"app": POLICY},
    }
    entry = stack.plan_entry("iam_role", "sage-backend-execution", desired, read)
    assert entry["action"] == "update"
    assert [change["attribute"] for change in entry["changes"]] == ["inline_policies"]
    from ansible_collections.sage.infra.plugins.module_utils.stack_iam import extra_inline_policies

    assert extra_inline_policies(entry) == ["added-by-hand"]


def test_log_groups_are_read_by_exact_name_with_retention_and_tags(run):
    logs = client("logs")
    logs.create_log_group(logGroupName="/ecs/sage-backend", tags={"Project": "sage"})
    logs.put_retention_policy(logGroupName="/ecs/sage-backend", retentionInDays=14)
    logs.create_log_group(logGroupName="/ecs/sage-backend-old")
    read = run(resources={"log_group": ["/ecs/sage-backend", "/ecs/sage"]})["stack"]["log_group"]
    assert read["/ecs/sage"] is None
    assert read["/ecs/sage-backend"]["retention"] == 14
    assert read["/ecs/sage-backend"]["tags"] == {"Project": "sage"}


def build_network():
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": "sage-vpc"}])
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-west-2a")["Subnet"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.create_tags(Resources=[igw], Tags=[{"Key": "Name", "Value": "sage-igw"}])
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet["SubnetId"])
    ec2.create_security_group(GroupName="sage-alb-sg", Description="ALB", VpcId=vpc)
    address = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.create_tags(Resources=[address], Tags=[{"Key": "Name", "Value": "sage-nat-eip-1"}])
    ec2.allocate_address(Domain="vpc")  # not the stack's
    return vpc, subnet["SubnetId"], igw, table


NETWORK = {
    "vpc_name": "sage-vpc",
    "vpc_cidr": "10.0.0.0/16",
    "igw_name": "sage-igw",
    "eip_name_prefix": "sage-nat-eip-",
}


def test_the_network_is_read_in_the_shapes_of_the_info_modules(run):
    vpc, subnet, igw, table = build_network()
    network = run(resources={"network": NETWORK})["stack"]["network"]
    assert [v["id"] for v in network["vpcs"]] == [vpc]
    assert network["vpcs"][0]["enable_dns_support"] is True
    assert network["vpcs"][0]["tags"] == {"Name": "sage-vpc"}
    assert [s["id"] for s in network["subnets"]] == [subnet]
    assert network["subnets"][0]["cidr_block"] == "10.0.1.0/24"
    assert [g["internet_gateway_id"] for g in network["internet_gateways"]] == [igw]
    (ours,) = [t for t in network["route_tables"] if t["id"] == table]
    assert [r["destination_cidr_block"] for r in ours["routes"] if r.get("gateway_id") == igw] == ["0.0.0.0/0"]
    assert [a["subnet_id"] for a in ours["associations"]] == [subnet]
    assert "sage-alb-sg" in [g["group_name"] for g in network["security_groups"]]
    assert network["nat_gateways"] == [] and network["flow_logs"] == [] and network["vpc_endpoints"] == []
    assert [address["tags"] for address in network["addresses"]] == [{"Name": "sage-nat-eip-1"}]


def test_no_vpc_means_nothing_inside_it_was_read(run, requests):
    network = run(resources={"network": NETWORK})["stack"]["network"]
    assert network == {
        "vpcs": [],
        "subnets": [],
        "internet_gateways": [],
        "nat_gateways": [],
        "route_tables": [],
        "security_groups": [],
        "vpc_endpoints": [],
        "flow_logs": [],
        "addresses": [],
    }
    called = sorted(name for name, _params in requests)
    assert called == ["DescribeAddresses", "DescribeInternetGateways", "DescribeVpcs"]


def test_a_converged_network_costs_one_call_per_kind_and_two_for_the_dns_attributes(run, requests):
    build_network()
    requests.clear()
    run(resources={"network": NETWORK})
    assert sorted(name for name, _params in requests) == sorted(
        [
            "DescribeVpcs",
            "DescribeVpcAttribute",
            "DescribeVpcAttribute",
            "DescribeSubnets",
            "DescribeInternetGateways",
            "DescribeNatGateways",
            "DescribeRouteTables",
            "DescribeSecurityGroups",
            "DescribeVpcEndpoints",
            "DescribeFlowLogs",
            "DescribeAddresses",
        ]
    )


def test_an_unknown_kind_fails_before_any_call(run, requests):
    message = run.fail(resources={"iam_rolez": ["x"]})
    assert "iam_rolez" in message and "iam_role" in message
    assert requests == []


def test_a_kind_that_cannot_be_read_is_reported_and_left_out(run, monkeypatch):
    make_role(app=POLICY)

    def denied(_client, _names):
        raise mod.botocore.exceptions.ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not authorized to perform iam:GetRole"}}, "GetRole"
        )

    monkeypatch.setitem(mod.READERS, "iam_role", ("iam", denied))
    result = run(resources={"iam_role": ["sage-backend-execution"], "log_group": []})
    assert "iam_role" not in result["stack"]
    assert "AccessDenied" in result["errors"]["iam_role"]
    assert result["stack"]["log_group"] == {}
    assert stack.plan_entry("iam_role", "sage-backend-execution", {}, result["stack"])["action"] == "unread"


def test_every_kind_it_reads_is_documented_and_compared():
    assert [kind for kind in mod.READERS if f"V({kind})" not in mod.DOCUMENTATION] == []
    assert [kind for kind in mod.READERS if kind != "network" and kind not in stack.KINDS] == []


def test_every_client_comes_from_one_session_with_the_modules_settings(run, monkeypatch):
    sessions, clients = [], []

    class CountedSession(mod.boto3.session.Session):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            sessions.append(self)

        def client(self, *args, **kwargs):
            made = super().client(*args, **kwargs)
            clients.append(made)
            return made

    monkeypatch.setattr(mod.boto3.session, "Session", CountedSession)
    run(
        resources={"iam_role": ["sage-backend-execution"], "log_group": ["/ecs/sage"], "sqs_queue": ["sage-dlq"]},
        aws_config={"retries": {"mode": "standard", "total_max_attempts": 7}},
    )
    assert len(sessions) == 1
    assert sorted(made.meta.service_model.service_name for made in clients) == ["iam", "logs", "sqs"]
    assert {made.meta.region_name for made in clients} == {REGION, "aws-global"}  # IAM is global
    assert {made.meta.config.retries["total_max_attempts"] for made in clients} == {7}

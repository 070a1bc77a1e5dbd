# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.vpc_endpoint_policy, run against moto in-process."""

import json

import boto3
import pytest
from ansible_collections.sage.infra.plugins.modules import vpc_endpoint_policy as mod
from moto import mock_aws

REGION = "us-east-1"
LAYERS = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::layers/*"}
POLICY = {"Version": "2012-10-17", "Statement": [LAYERS]}


@pytest.fixture
def endpoint(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        created = ec2.create_vpc_endpoint(
            VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3", RouteTableIds=[table], VpcEndpointType="Gateway"
        )["VpcEndpoint"]
        yield ec2, created["VpcEndpointId"]


def stored(ec2, endpoint_id):
    return json.loads(ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["PolicyDocument"])


@pytest.fixture
def run(module_runner):
    return module_runner(mod.main, region=REGION)


def test_the_full_access_policy_is_replaced_then_kept(run, endpoint, calls):
    ec2, endpoint_id = endpoint
    result = run(vpc_endpoint_id=endpoint_id, policy=POLICY, diff=True)
    assert result["changed"] is True
    assert result["diff"]["before"]["policy"]["Statement"][0]["Action"] == "*"
    assert calls == ["DescribeVpcEndpoints", "ModifyVpcEndpoint"]
    assert stored(ec2, endpoint_id) == POLICY

    calls.clear()
    same_meaning = {"Version": "2012-10-17", "Statement": dict(LAYERS, Action=["s3:GetObject"])}
    assert run(vpc_endpoint_id=endpoint_id, policy=json.dumps(same_meaning))["changed"] is False
    assert calls == ["DescribeVpcEndpoints"]


def test_check_mode_changes_nothing(run, endpoint):
    ec2, endpoint_id = endpoint
    assert run(vpc_endpoint_id=endpoint_id, policy=POLICY, check_mode=True)["changed"] is True
    assert stored(ec2, endpoint_id)["Statement"][0]["Action"] == "*"


def test_bad_input_is_refused_before_any_call(run, endpoint, calls):
    assert "vpc_endpoint_id must be a VPC endpoint ID" in run.fail(vpc_endpoint_id="s3", policy=POLICY)
    assert "policy must be a policy document" in run.fail(vpc_endpoint_id=endpoint[1], policy={"Effect": "Allow"})
    assert calls == []

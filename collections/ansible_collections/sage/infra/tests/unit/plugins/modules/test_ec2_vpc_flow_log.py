# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.ec2_vpc_flow_log, run against moto in-process."""

import json

import boto3
import botocore.client
import pytest
from ansible_collections.sage.infra.plugins.modules import ec2_vpc_flow_log
from botocore.exceptions import ClientError
from moto import mock_aws

REGION = "us-east-1"
ROLE_NAME = "vpc-flow-logs"
LOG_GROUP = "/sage/vpc-flow-logs"
BUCKET = "sage-flow-logs"
MUTATING = ("CreateFlowLogs", "DeleteFlowLogs", "CreateTags", "DeleteTags")


@pytest.fixture(autouse=True)
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


@pytest.fixture
def vpc_id(aws):
    return aws.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]


@pytest.fixture
def role_arn():
    iam = boto3.client("iam", region_name=REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    return iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


@pytest.fixture
def run(module_runner):
    return module_runner(ec2_vpc_flow_log.main, diff=True, region=REGION)


@pytest.fixture
def cw_args(vpc_id, role_arn):
    return {"resource_id": vpc_id, "log_group_name": LOG_GROUP, "deliver_logs_permission_arn": role_arn}


def flow_logs(client, resource_id):
    return client.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [resource_id]}])["FlowLogs"]


def tags_of(flow_log):
    return {tag["Key"]: tag["Value"] for tag in flow_log.get("Tags", [])}


def test_create(run, aws, cw_args, role_arn, vpc_id):
    result = run(tags={"Project": "sage"}, **cw_args)

    assert result["changed"] is True
    flow_log = result["flow_log"]
    assert flow_log["flow_log_id"].startswith("fl-")
    assert flow_log["resource_id"] == vpc_id
    assert flow_log["traffic_type"] == "ALL"
    assert flow_log["log_destination_type"] == "cloud-watch-logs"
    assert flow_log["log_group_name"] == LOG_GROUP
    assert flow_log["deliver_logs_permission_arn"] == role_arn
    assert flow_log["max_aggregation_interval"] == 600
    assert flow_log["tags"] == {"Project": "sage"}
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["log_group_name"] == LOG_GROUP

    [stored] = flow_logs(aws, vpc_id)
    assert stored["FlowLogId"] == flow_log["flow_log_id"]
    assert tags_of(stored) == {"Project": "sage"}


@pytest.mark.parametrize("kind", ["subnet", "eni"])
def test_create_for_subnet_and_eni(run, aws, cw_args, vpc_id, kind):
    subnet_id = aws.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    resource_id = subnet_id
    if kind == "eni":
        resource_id = aws.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]["NetworkInterfaceId"]

    result = run(**dict(cw_args, resource_id=resource_id, traffic_type="REJECT"))

    assert result["changed"] is True
    [stored] = flow_logs(aws, resource_id)
    assert stored["TrafficType"] == "REJECT"
    assert result["flow_log"]["flow_log_id"] == stored["FlowLogId"]


def test_rerun_is_unchanged_with_a_single_api_call(run, cw_args, calls):
    first = run(tags={"Project": "sage"}, **cw_args)
    calls.clear()

    second = run(tags={"Project": "sage"}, **cw_args)

    assert second["changed"] is False
    assert calls == ["DescribeFlowLogs"]
    assert second["flow_log"]["flow_log_id"] == first["flow_log"]["flow_log_id"]
    assert second["flow_log"]["tags"] == {"Project": "sage"}
    assert second["diff"]["before"] == second["diff"]["after"]


def test_tags_are_updated_in_place(run, aws, cw_args, vpc_id, calls):
    created = run(tags={"keep": "1", "drop": "2"}, **cw_args)["flow_log"]
    calls.clear()

    result = run(tags={"keep": "1", "new": "3"}, **cw_args)

    assert result["changed"] is True
    assert "CreateFlowLogs" not in calls and "DeleteFlowLogs" not in calls
    assert result["flow_log"]["flow_log_id"] == created["flow_log_id"]
    assert result["flow_log"]["tags"] == {"keep": "1", "new": "3"}
    assert result["diff"]["before"]["tags"] == {"keep": "1", "drop": "2"}
    assert result["diff"]["after"]["tags"] == {"keep": "1", "new": "3"}
    [stored] = flow_logs(aws, vpc_id)
    assert tags_of(stored) == {"keep": "1", "new": "3"}

    merged = run(tags={"extra": "4"}, purge_tags=False, **cw_args)
    assert merged["changed"] is True
    assert tags_of(flow_logs(aws, vpc_id)[0]) == {"keep": "1", "new": "3", "extra": "4"}

    untouched = run(**cw_args)
    assert untouched["changed"] is False
    assert untouched["flow_log"]["tags"] == {"keep": "1", "new": "3", "extra": "4"}


@pytest.mark.parametrize(
    "change",
    [
        {"max_aggregation_interval": 60},
        {"log_format": "${version} ${interface-id} ${srcaddr} ${dstaddr} ${action}"},
        {"deliver_logs_permission_arn": "arn:aws:iam::123456789012:role/other-flow-logs-role"},
    ],
    ids=["max_aggregation_interval", "log_format", "deliver_logs_permission_arn"],
)
def test_immutable_change_replaces_the_flow_log(run, aws, cw_args, vpc_id, change):
    old = run(tags={"Project": "sage"}, **cw_args)["flow_log"]

    result = run(**dict(cw_args, **change))

    assert result["changed"] is True
    new = result["flow_log"]
    assert new["flow_log_id"] != old["flow_log_id"]
    [key] = change
    assert new[key] == change[key]
    assert new["tags"] == {"Project": "sage"}  # tags carried over when not given
    assert result["diff"]["before"][key] == old[key]
    assert result["diff"]["after"][key] == change[key]
    [stored] = flow_logs(aws, vpc_id)
    assert stored["FlowLogId"] == new["flow_log_id"]
    assert tags_of(stored) == {"Project": "sage"}

    assert run(**dict(cw_args, **change))["changed"] is False


def test_check_mode_makes_no_change(run, aws, cw_args, vpc_id, calls):
    created = run(check_mode=True, tags={"Project": "sage"}, **cw_args)
    assert created["changed"] is True
    assert "flow_log_id" not in created["flow_log"]
    assert created["flow_log"]["tags"] == {"Project": "sage"}
    assert flow_logs(aws, vpc_id) == []

    existing = run(tags={"Project": "sage"}, **cw_args)["flow_log"]
    calls.clear()
    retagged = run(check_mode=True, tags={"Project": "other"}, **cw_args)
    replaced = run(check_mode=True, max_aggregation_interval=60, **cw_args)
    removed = run(check_mode=True, state="absent", **cw_args)

    assert [r["changed"] for r in (retagged, replaced, removed)] == [True, True, True]
    assert retagged["flow_log"]["tags"] == {"Project": "other"}
    assert replaced["diff"]["after"]["max_aggregation_interval"] == 60
    assert not [call for call in calls if call in MUTATING]
    [stored] = flow_logs(aws, vpc_id)
    assert stored["FlowLogId"] == existing["flow_log_id"]
    assert stored["MaxAggregationInterval"] == 600
    assert tags_of(stored) == {"Project": "sage"}


def test_absent_deletes_then_is_unchanged(run, aws, cw_args, vpc_id):
    created = run(**cw_args)["flow_log"]

    removed = run(state="absent", resource_id=vpc_id, log_group_name=LOG_GROUP)
    assert removed["changed"] is True
    assert removed["diff"]["before"]["log_group_name"] == LOG_GROUP
    assert removed["diff"]["after"] == {}
    assert flow_logs(aws, vpc_id) == []
    assert created["flow_log_id"]

    again = run(state="absent", resource_id=vpc_id, log_group_name=LOG_GROUP)
    assert again["changed"] is False


def test_absent_leaves_other_flow_logs_alone(run, aws, cw_args, vpc_id):
    kept = run(**dict(cw_args, log_group_name="/sage/other"))["flow_log"]
    run(**cw_args)

    assert run(state="absent", resource_id=vpc_id, log_group_name=LOG_GROUP)["changed"] is True
    assert [fl["FlowLogId"] for fl in flow_logs(aws, vpc_id)] == [kept["flow_log_id"]]


def test_s3_destination_create_and_rerun(run, aws, vpc_id, calls):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    args = {"resource_id": vpc_id, "log_destination_type": "s3", "log_destination": f"arn:aws:s3:::{BUCKET}"}

    created = run(traffic_type="REJECT", **args)
    assert created["changed"] is True
    assert created["flow_log"]["log_destination"] == f"arn:aws:s3:::{BUCKET}"
    assert created["flow_log"]["log_destination_type"] == "s3"

    calls.clear()
    again = run(traffic_type="REJECT", **args)
    assert again["changed"] is False
    assert calls == ["DescribeFlowLogs"]


def test_unsuccessful_creation_fails_with_the_aws_message(run, aws, vpc_id):
    result = run.failure(
        resource_id=vpc_id,
        log_destination_type="s3",
        log_destination="arn:aws:s3:::missing-bucket",
    )

    assert "Failed to create flow log for " + vpc_id in result["msg"]
    assert "missing-bucket does not exist" in result["msg"]
    assert result["unsuccessful"][0]["resource_id"] == vpc_id
    assert flow_logs(aws, vpc_id) == []


def test_bad_resource_id_prefix_fails(run, calls):
    msg = run.fail(
        resource_id="igw-0123456789abcdef0",
        log_group_name=LOG_GROUP,
        deliver_logs_permission_arn="arn:aws:iam::123456789012:role/x",
    )

    assert "resource_id" in msg
    assert "igw-0123456789abcdef0" in msg
    assert calls == []


def test_missing_log_group_name_fails(run, vpc_id, role_arn, calls):
    msg = run.fail(resource_id=vpc_id, deliver_logs_permission_arn=role_arn)

    assert "log_group_name" in msg
    assert calls == []


def test_missing_role_fails_for_cloudwatch(run, vpc_id, calls):
    msg = run.fail(resource_id=vpc_id, log_group_name=LOG_GROUP)

    assert "deliver_logs_permission_arn" in msg
    assert calls == []


def test_aws_error_gives_a_clear_message(run, cw_args, vpc_id, monkeypatch):
    def denied(self, operation_name, api_params):
        raise ClientError(
            {
                "Error": {
                    "Code": "UnauthorizedOperation",
                    "Message": "You are not authorized to perform this operation.",
                }
            },
            operation_name,
        )

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", denied)

    result = run.failure(**cw_args)

    assert result["msg"].startswith(f"Failed to describe flow logs of {vpc_id}")
    assert "not authorized" in result["msg"]
    assert result["error"]["code"] == "UnauthorizedOperation"


def test_unknown_vpc_fails_with_the_aws_error(run, cw_args):
    result = run.failure(**dict(cw_args, resource_id="vpc-0000000000000000f"))

    assert result["msg"].startswith("Failed to create flow log for vpc-0000000000000000f")
    assert result["error"]["code"] == "InvalidVpcID.NotFound"

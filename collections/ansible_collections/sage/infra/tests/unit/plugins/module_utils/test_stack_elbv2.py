# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Target groups and application load balancers as read and compared: the health check, the deregistration delay,
the attributes the stack sets, the listeners (the whole set, by port) and the tags."""

import boto3
import pytest
from ansible_collections.sage.infra.plugins.module_utils.stack import plan_entry
from ansible_collections.sage.infra.plugins.module_utils.stack_elbv2 import (
    listeners_equal,
    read_load_balancers,
    read_target_groups,
)
from moto import mock_aws

REGION = "us-west-2"
TG_ARN = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/sage-backend-tg/1"
TARGET_GROUP = {
    "protocol": "HTTP",
    "port": 3000,
    "vpc_id": "vpc-1",
    "target_type": "ip",
    "health_check_protocol": "HTTP",
    "health_check_path": "/health",
    "health_check_interval": 15,
    "health_check_timeout": 5,
    "healthy_threshold_count": 2,
    "unhealthy_threshold_count": 3,
    "successful_response_codes": "200",
    "deregistration_delay_timeout": 30,
    "tags": {"Project": "sage", "Name": "sage-backend-tg"},
}
FORWARD = [{"Type": "forward", "TargetGroupArn": TG_ARN}]
HTTP = {"Protocol": "HTTP", "Port": 80, "DefaultActions": FORWARD}
LOAD_BALANCER = {
    "scheme": "internet-facing",
    "subnets": ["subnet-a", "subnet-b"],
    "security_groups": ["sg-alb"],
    "http_drop_invalid_header_fields": True,
    "deletion_protection": False,
    "idle_timeout": 60,
    "listeners": [HTTP],
    "tags": {"Project": "sage", "Name": "sage-alb"},
}


def entry(kind, desired, current, name="x"):
    return plan_entry(kind, name, desired, {kind: {name: current}})


def changed(kind, desired, current):
    return [change["attribute"] for change in entry(kind, desired, current)["changes"]]


def test_a_target_group_in_sync_and_each_setting_drifting():
    assert entry("target_group", TARGET_GROUP, dict(TARGET_GROUP, arn=TG_ARN))["action"] == "unchanged"
    assert changed("target_group", dict(TARGET_GROUP, successful_response_codes="200,302"),
                   dict(TARGET_GROUP, successful_response_codes="302,200")) == []  # fmt: skip
    for attribute, value in [
        ("health_check_path", "/"),
        ("health_check_interval", 30),
        ("successful_response_codes", "200-299"),
        ("deregistration_delay_timeout", 300),
        ("port", 8080),
        ("tags", {"Project": "sage"}),
    ]:
        assert changed("target_group", TARGET_GROUP, dict(TARGET_GROUP, **{attribute: value})) == [attribute]


def test_a_load_balancer_in_sync_and_each_setting_drifting():
    read = dict(LOAD_BALANCER, subnets=["subnet-b", "subnet-a"], listeners=[dict(HTTP, ListenerArn="arn:l")])
    assert entry("load_balancer", LOAD_BALANCER, read)["action"] == "unchanged"
    for attribute, value in [
        ("listeners", []),
        ("subnets", ["subnet-a"]),
        ("security_groups", ["sg-other"]),
        ("http_drop_invalid_header_fields", False),
        ("deletion_protection", True),
        ("idle_timeout", 120),
        ("scheme", "internal"),
    ]:
        assert changed("load_balancer", LOAD_BALANCER, dict(read, **{attribute: value})) == [attribute]


def test_listeners_compare_as_the_module_does():
    https = {
        "Protocol": "HTTPS",
        "Port": 443,
        "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "Certificates": [{"CertificateArn": "arn:cert"}],
        "DefaultActions": FORWARD,
    }
    redirect = {
        "Protocol": "HTTP",
        "Port": "80",
        "DefaultActions": [
            {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}
        ],
    }
    # What AWS answers: the redirect's defaults filled in, a TLS policy on HTTP listeners, Order, a ForwardConfig.
    described = [
        {
            "Protocol": "HTTP",
            "Port": 80,
            "SslPolicy": "ELBSecurityPolicy-2016-08",
            "DefaultActions": [
                {
                    "Type": "redirect",
                    "Order": 1,
                    "RedirectConfig": {
                        "Protocol": "HTTPS",
                        "Port": "443",
                        "Host": "#{host}",
                        "Path": "/#{path}",
                        "Query": "#{query}",
                        "StatusCode": "HTTP_301",
                    },
                }
            ],
        },
        dict(https, DefaultActions=[dict(FORWARD[0], ForwardConfig={"TargetGroups": [{"TargetGroupArn": TG_ARN}]})]),
    ]
    assert listeners_equal([redirect, https], described)
    assert not listeners_equal([redirect, https], described[:1])
    assert not listeners_equal([redirect, dict(https, SslPolicy="ELBSecurityPolicy-2016-08")], described)
    assert not listeners_equal([redirect, dict(https, Certificates=[{"CertificateArn": "arn:other"}])], described)
    assert not listeners_equal(
        [HTTP], [dict(HTTP, DefaultActions=[{"Type": "forward", "TargetGroupArn": "arn:other"}])]
    )
    assert not listeners_equal([HTTP], None)


@pytest.fixture
def network(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
                "SubnetId"
            ]
            for i, zone in enumerate("ab")
        ]
        group = ec2.create_security_group(GroupName="alb", Description="alb", VpcId=vpc)["GroupId"]
        yield vpc, subnets, group


def test_the_readers_against_moto(network, calls):
    vpc, subnets, group = network
    elbv2 = boto3.client("elbv2", region_name=REGION)
    tags = [{"Key": "Project", "Value": "sage"}]
    target_group = elbv2.create_target_group(
        Name="sage-backend-tg",
        Protocol="HTTP",
        Port=3000,
        VpcId=vpc,
        TargetType="ip",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=15,
        Matcher={"HttpCode": "200"},
        Tags=tags,
    )["TargetGroups"][0]
    arn = target_group["TargetGroupArn"]
    elbv2.modify_target_group_attributes(
        TargetGroupArn=arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]
    )
    balancer = elbv2.create_load_balancer(
        Name="sage-alb", Subnets=subnets, SecurityGroups=[group], Scheme="internet-facing", Tags=tags
    )["LoadBalancers"][0]
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=balancer["LoadBalancerArn"], Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "60"}]
    )
    elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}],
    )
    calls.clear()
    groups = read_target_groups(elbv2, ["sage-backend-tg", "missing"])
    balancers = read_load_balancers(elbv2, ["sage-alb", "missing"])
    assert groups["missing"] is None and balancers["missing"] is None
    group_view = groups["sage-backend-tg"]
    assert group_view["arn"] == arn
    assert (group_view["health_check_path"], group_view["deregistration_delay_timeout"]) == ("/health", 30)
    assert group_view["tags"] == {"Project": "sage"}
    view = balancers["sage-alb"]
    assert view["subnets"] == sorted(subnets) and view["security_groups"] == [group]
    assert view["dns_name"] == balancer["DNSName"] and view["idle_timeout"] == 60
    assert view["deletion_protection"] is False
    assert listeners_equal(
        [{"Protocol": "HTTP", "Port": 80, "DefaultActions": [{"Type": "forward", "TargetGroupArn": arn}]}],
        view["listeners"],
    )
    assert not [call for call in calls if not call.startswith("Describe")], "the readers never write"

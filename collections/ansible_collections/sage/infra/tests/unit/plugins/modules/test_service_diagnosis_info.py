# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.service_diagnosis_info, run against moto in-process.

The log events and metric data are put with boto3 (moto's GetMetricData answers from PutMetricData, per
period, for Sum/Average/Maximum). moto lists the stopped tasks of the whole cluster (it ignores ListTasks'
serviceName), has no stoppedAt and cannot set a container's exit code: the task's group and reason are set
through RunTask and StopTask as ECS does for a service's task killed for memory. moto keeps no ECS service
events of its own; the test puts one where DescribeServices reads them.
"""

import functools
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from ansible_collections.sage.infra.plugins.modules import service_diagnosis_info as mod
from ansible_collections.sage.infra.tests.unit import moto_elasticache
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecs.models import ecs_backends

REGION = "us-west-2"
GROUP = "/ecs/sage-backend"
END = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
SECRET = "Sup3rS3cretPw"
STACK = {
    "log_group_name": GROUP,
    "end_time": END.isoformat(),
    "window_minutes": 30,
    "inventory": "inventories/staging",
    "ecs": {"cluster_name": "sage-cluster", "service_name": "sage-backend", "task_cpu": 512, "task_memory": 1024},
    "load_balancer": {"name": "sage-alb", "target_group_name": "sage-backend-tg"},
    "database": {"instance_identifier": "sage-postgres", "max_connections": 100, "connection_limit": 20},
    "cache": {"replication_group_id": "sage-valkey", "node_type": "cache.t3.micro"},
}


def at(minutes_before_end, seconds=0):
    return END - timedelta(minutes=minutes_before_end) + timedelta(seconds=seconds)


def ms(moment):
    return int(moment.timestamp() * 1000)


class Env:
    def __init__(self):
        self.logs = boto3.client("logs", region_name=REGION)
        self.cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        self.ecs = boto3.client("ecs", region_name=REGION)
        self.logs.create_log_group(logGroupName=GROUP)

    def put_lines(self, stream, lines, start):
        self.logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        events = [{"timestamp": ms(start) + i * 1000, "message": line} for i, line in enumerate(lines)]
        self.logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)

    def put_metric(self, namespace, name, dimensions, values, start):
        self.cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                    "Timestamp": start + timedelta(minutes=i),
                    "Value": float(value),
                }
                for i, value in enumerate(values)
            ],
        )


@pytest.fixture(autouse=True)
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    moto_elasticache.patch_moto_gaps(functools.partial(monkeypatch.setattr, raising=False))
    with mock_aws():
        yield Env()


@pytest.fixture
def stack(aws):
    """The load balancer, target group, replication group and ECS service of STACK, as moto resources."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate("ab")
    ]
    elbv2 = boto3.client("elbv2", region_name=REGION)
    alb = elbv2.create_load_balancer(Name="sage-alb", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elbv2.create_target_group(Name="sage-backend-tg", Protocol="HTTP", Port=3000, VpcId=vpc)["TargetGroups"][0]
    boto3.client("elasticache", region_name=REGION).create_replication_group(
        ReplicationGroupId="sage-valkey",
        ReplicationGroupDescription="cache",
        Engine="valkey",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=2,
    )
    aws.ecs.create_cluster(clusterName="sage-cluster")
    definition = aws.ecs.register_task_definition(
        family="sage-backend", containerDefinitions=[{"name": "sage-backend", "image": "backend:1", "memory": 1024}]
    )["taskDefinition"]["taskDefinitionArn"]
    aws.ecs.create_service(
        cluster="sage-cluster", serviceName="sage-backend", taskDefinition=definition, desiredCount=1
    )
    return {
        "load_balancer": alb.split(":loadbalancer/")[1],
        "target_group": tg["TargetGroupArn"].split(":")[-1],
        "definition": definition,
    }


@pytest.fixture
def run(module_runner):
    return module_runner(mod.main, expect={"changed": False}, region=REGION, secrets=(SECRET,), **STACK)


def stop_task(aws, definition, reason, group="service:sage-backend"):
    (task,) = aws.ecs.run_task(cluster="sage-cluster", taskDefinition=definition, launchType="FARGATE", group=group)[
        "tasks"
    ]
    aws.ecs.stop_task(cluster="sage-cluster", task=task["taskArn"], reason=reason)
    return task["taskArn"].rsplit("/", 1)[-1]


def test_every_signature_from_logs_metrics_service_events_and_stopped_tasks(aws, stack, run, requests):
    aws.put_lines(
        "ecs/sage-backend/task-1",
        [
            "[info] GET /api/chat 200",
            f"[error] prisma: FATAL: too many connections for postgresql://sage_admin:{SECRET}@db:5432/sage (53300)",
            "[error] Repeated 47 times",
            "[error] ReplyError: OOM command not allowed when used memory > 'maxmemory'.",
        ],
        at(20),
    )
    rds = {"DBInstanceIdentifier": "sage-postgres"}
    aws.put_metric("AWS/RDS", "DatabaseConnections", rds, [60, 98, 97], at(10))
    aws.put_metric(
        "AWS/ECS", "MemoryUtilization", {"ClusterName": "sage-cluster", "ServiceName": "sage-backend"}, [50], at(10)
    )
    alb = {"LoadBalancer": stack["load_balancer"]}
    aws.put_metric("AWS/ApplicationELB", "RequestCount", alb, [200, 100], at(10))
    aws.put_metric("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", alb, [1, 30], at(10))
    target_group = {**alb, "TargetGroup": stack["target_group"]}
    aws.put_metric("AWS/ApplicationELB", "UnHealthyHostCount", target_group, [0, 1], at(10))
    aws.put_metric(
        "AWS/ElastiCache", "DatabaseMemoryUsagePercentage", {"CacheClusterId": "sage-valkey-002"}, [97], at(10)
    )
    killed = stop_task(aws, stack["definition"], "OutOfMemoryError: Container killed due to memory usage")
    stop_task(aws, stack["definition"], "OutOfMemoryError: Container killed due to memory usage", group="family:other")
    service = ecs_backends[DEFAULT_ACCOUNT_ID][REGION].services["sage-cluster:sage-backend"]
    service.events.append(
        {"id": "e1", "createdAt": at(3), "message": "(service sage-backend) (task 1a2b) failed ELB health checks"}
    )
    service.events.append(
        {"id": "e0", "createdAt": at(40), "message": "(service sage-backend) failed ELB health checks"}
    )

    requests.clear()
    result = run()

    by_id = {f["id"]: f for f in result["findings"]}
    assert list(by_id) == [
        "db_connections_exhausted",
        "ecs_task_oom",
        "alb_health_check_failures",
        "valkey_oom",
        "error_rate_spike",  # high like the two before it, but from metrics only (no line counted)
    ]
    db = by_id["db_connections_exhausted"]
    assert db["evidence"]["count"] == 48
    assert db["evidence"]["metrics"]["db_connections"]["peak"] == 98.0
    assert db["evidence"]["samples"] == [
        "[error] prisma: FATAL: too many connections for postgresql://sage_admin:***@db:5432/sage (53300)"
    ]
    assert db["immediate_fix"]["commands"][0].startswith(
        "ansible-playbook site.yml -i inventories/staging --tags network,database -e database_max_connections=200"
    )
    oom = by_id["ecs_task_oom"]
    assert oom["evidence"]["count"] == 1  # the other group's task is not the service's
    assert oom["evidence"]["samples"][0].startswith(f"task {killed} stopped: OutOfMemoryError: Container killed")
    health = by_id["alb_health_check_failures"]
    assert health["evidence"]["count"] == 1  # the event before the window is not counted
    assert health["evidence"]["metrics"]["alb_unhealthy_hosts"]["peak"] == 1.0
    assert by_id["error_rate_spike"]["evidence"]["metrics"]["error_rate"]["rate_percent"] == 30.0
    assert by_id["valkey_oom"]["evidence"]["metrics"]["valkey_memory"]["node"] == "sage-valkey-002"

    assert result["events_read"] == 4 and result["events_truncated"] is False and result["missing"] == []
    assert result["window"] == {
        "start": (END - timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
        "end": END.isoformat().replace("+00:00", "Z"),
        "minutes": 30,
        "period_seconds": 60,
    }
    assert result["metrics"]["ecs_memory"]["peak"] == 50.0
    assert result["summary"][0].endswith("4 log events read, 5 finding(s)")

    (metric_call,) = [params for name, params in requests if name == "GetMetricData"]
    dimensions = {
        q["Id"]: {d["Name"]: d["Value"] for d in q["MetricStat"]["Metric"]["Dimensions"]}
        for q in metric_call["MetricDataQueries"]
    }
    assert len(dimensions) == 12  # 8 of the service, database and load balancer, 2 x 2 of the cache nodes
    assert dimensions["alb_unhealthy_hosts_0"] == target_group
    assert dimensions["valkey_memory_1"] == {"CacheClusterId": "sage-valkey-002"}
    assert all(name.startswith(("Describe", "List", "Get", "Filter")) for name, _params in requests)


def test_check_mode_reads_the_same(aws, stack, run):
    aws.put_lines("s", ["FATAL: remaining connection slots are reserved for superuser"], at(5))
    assert [f["id"] for f in run(check_mode=True)["findings"]] == ["db_connections_exhausted"]


def test_a_window_before_the_events_finds_nothing(aws, stack, run):
    aws.put_lines("s", ["FATAL: too many connections"] * 3, at(5))
    earlier = run(end_time=str(int(at(10).timestamp())), window_minutes=60)
    assert (earlier["events_read"], earlier["findings"]) == (0, [])
    assert earlier["summary"][-1] == "No known failure signature in this window."


def test_missing_resources_are_reported_not_failed(aws, run, calls):
    aws.logs.delete_log_group(logGroupName=GROUP)
    calls.clear()
    result = run()
    assert result["findings"] == []
    assert result["missing"] == [
        f"log group {GROUP}",
        "ECS service sage-backend in cluster sage-cluster",
        "load balancer sage-alb",
        "replication group sage-valkey",
    ]
    assert "not found (not diagnosed): log group /ecs/sage-backend" in result["summary"]
    assert calls.count("GetMetricData") == 1  # the database's metrics are still read


def test_events_read_page_by_page_up_to_the_cap(aws, run, monkeypatch, requests):
    monkeypatch.setattr(mod, "PAGE_SIZE", 2)
    aws.put_lines("s", [f"[info] line {n}" for n in range(5)], at(5))
    capped = run(max_events=3, ecs=None, load_balancer=None, database=None, cache=None)
    assert (capped["events_read"], capped["events_truncated"]) == (3, True)
    assert [p["limit"] for name, p in requests if name == "FilterLogEvents"] == [2, 1]
    assert "(the cap: later events were not read - narrow the window)" in capped["summary"][0]
    requests.clear()
    everything = run(ecs=None, load_balancer=None, database=None, cache=None)
    assert (everything["events_read"], everything["events_truncated"]) == (5, False)
    assert len([name for name, _p in requests if name == "FilterLogEvents"]) == 3
    assert [name for name, _p in requests if name != "FilterLogEvents"] == []  # nothing named, nothing asked


@pytest.mark.parametrize(
    "args, message",
    [
        ({"window_minutes": 0}, "window_minutes must be 1 to 10080 (7 days), got 0"),
        ({"window_minutes": 10081}, "window_minutes must be 1 to 10080"),
        ({"max_events": 0}, "max_events must be at least 1"),
        ({"sample_lines": 51}, "sample_lines must be 0 to 50"),
        (
            {"end_time": "yesterday"},
            "end_time must be ISO 8601 (2026-11-29T03:00:00Z) or epoch seconds, got 'yesterday'",
        ),
        ({"thresholds": {"cpu": 5}}, "thresholds.cpu is not a threshold"),
        ({"thresholds": {"error_rate_percent": -1}}, "thresholds.error_rate_percent must be a number of at least 0"),
        ({"database": {"max_connections": 0}}, "database.max_connections must be at least 1, got 0"),
    ],
)
def test_bad_options_fail_naming_the_option_before_any_call(run, calls, args, message):
    assert message in run.fail(**args)
    assert calls == []

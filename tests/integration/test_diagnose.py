"""playbooks/diagnose.yml on the converged stack: log events and metric data put on the emulator, the findings read.

The incident's log streams are removed afterwards. Metric data cannot be removed from moto: the incident's
datapoints lie in the last minutes (no other test reads metrics) and the quiet window lies hours before them.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.harness.playbook import run_playbook

GROUP = "/ecs/sage-backend"
SECRET = "Diagn0se-Pw-must-not-leak"
INCIDENT_LINES = [
    "2026-11-29 10:30:14 [info] GET /api/chat 200 35ms",
    "2026-11-29 10:30:15 [error] PrismaClientKnownRequestError:",
    'ConnectorError(ConnectorError { user_facing_error: None, kind: QueryError(PostgresError { code: "53300", '
    f'message: "too many connections", severity: "FATAL" }}) }}) url=postgresql://sage_admin:{SECRET}@db:5432/sage',
    "2026-11-29 10:30:16 [error] Repeated 47 times",
    "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
    "2026-11-29 10:30:30 [error] ReplyError: OOM command not allowed when used memory > 'maxmemory'.",
    "(service sage-backend) (task 5e6f) failed ELB health checks in (target-group sage-backend-tg)",
]
QUIET_LINES = [
    "2026-11-29 07:00:01 [info] Server listening on port 3000",
    "2026-11-29 07:00:02 [info] GET /health 200 2ms",
    "2026-11-29 07:00:03 [warn] Anthropic API retry 1/3 after 529",
]


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def put_lines(logs, stream: str, lines: list[str], start: datetime) -> None:
    logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    events = [{"timestamp": ms(start) + i * 1000, "message": line} for i, line in enumerate(lines)]
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)


def put_metric(cloudwatch, namespace: str, name: str, dimensions: dict, values: list[float], start: datetime) -> None:
    cloudwatch.put_metric_data(
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


@pytest.fixture(scope="module")
def incident(converged, aws):
    """An incident of the last minutes and a quiet hour three hours ago, in the stack's log group and metrics."""
    now = datetime.now(UTC).replace(microsecond=0)
    quiet_end = now - timedelta(hours=3)
    logs, cloudwatch = aws("logs"), aws("cloudwatch")
    streams = {
        "incident": f"ecs/sage-backend/diagnose-{uuid.uuid4().hex[:8]}",
        "quiet": f"ecs/quiet-{uuid.uuid4().hex[:8]}",
    }
    (alb,) = aws("elbv2").describe_load_balancers(Names=["sage-alb"])["LoadBalancers"]
    (group,) = aws("elbv2").describe_target_groups(Names=["sage-backend-tg"])["TargetGroups"]
    (cache,) = aws("elasticache").describe_replication_groups(ReplicationGroupId="sage-valkey")["ReplicationGroups"]
    balancer = {"LoadBalancer": alb["LoadBalancerArn"].split(":loadbalancer/")[1]}
    node = cache["MemberClusters"][-1]
    service = {"ClusterName": "sage-cluster", "ServiceName": "sage-backend"}
    target_group = {**balancer, "TargetGroup": group["TargetGroupArn"].split(":")[-1]}
    # namespace, metric, dimensions, the incident's values (from 8 minutes ago), the quiet hour's values
    metrics = [
        ("AWS/RDS", "DatabaseConnections", {"DBInstanceIdentifier": "sage-postgres"}, [60, 98, 97], [10, 12, 11]),
        ("AWS/ECS", "MemoryUtilization", service, [70, 99], [40, 41]),
        ("AWS/ApplicationELB", "RequestCount", balancer, [300, 200], [300, 300]),
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", balancer, [3, 50], [1, 0]),
        ("AWS/ApplicationELB", "UnHealthyHostCount", target_group, [0, 1], [0, 0]),
        ("AWS/ElastiCache", "DatabaseMemoryUsagePercentage", {"CacheClusterId": node}, [90, 97], [20, 21]),
        ("AWS/ElastiCache", "Evictions", {"CacheClusterId": node}, [5, 7], [0, 0]),
    ]
    for namespace, name, dimensions, busy, calm in metrics:
        put_metric(cloudwatch, namespace, name, dimensions, busy, now - timedelta(minutes=8))
        put_metric(cloudwatch, namespace, name, dimensions, calm, quiet_end - timedelta(minutes=30))
    put_lines(logs, streams["incident"], INCIDENT_LINES, now - timedelta(minutes=6))
    put_lines(logs, streams["quiet"], QUIET_LINES, quiet_end - timedelta(minutes=20))
    yield {"node": node, "quiet_end": quiet_end.isoformat().replace("+00:00", "Z")}
    for stream in streams.values():
        logs.delete_log_stream(logGroupName=GROUP, logStreamName=stream)


def test_incident_is_diagnosed_with_evidence_and_fixes(emulator, incident, tmp_path):
    report = tmp_path / "diagnosis.json"
    emulator.reset_calls()
    run = run_playbook(
        "playbooks/diagnose.yml",
        emulator.endpoint,
        "-vvv",
        extra_vars={"diagnose_window_minutes": 30, "diagnose_report_file": str(report)},
    ).assert_ok()
    assert run.changed == 0
    assert emulator.mutating_calls() == []
    assert SECRET not in run.output and SECRET not in report.read_text(), "masked in samples, even at -vvv"
    assert "1. [CRITICAL] Database connection pool exhausted (db_connections_exhausted)" in run.output

    result = json.loads(report.read_text())
    by_id = {finding["id"]: finding for finding in result["findings"]}
    assert list(by_id) == [
        "db_connections_exhausted",
        "ecs_task_oom",
        "alb_health_check_failures",
        "valkey_oom",
        "error_rate_spike",
    ]
    db = by_id["db_connections_exhausted"]
    assert db["evidence"]["count"] == 48
    assert (
        db["evidence"]["metrics"]["db_connections"] | {"peak": 98.0, "max_connections": 100}
        == db["evidence"]["metrics"]["db_connections"]
    )
    assert db["root_cause"]["details"][0].startswith("98/100 connections used at the peak (98%)")
    assert "connection_limit=20" in db["root_cause"]["details"][2]  # 100 x 80% / 4 tasks, from the database role
    (sample,) = db["evidence"]["samples"]
    assert "postgresql://sage_admin:***@db:5432/sage" in sample
    assert db["immediate_fix"]["commands"][:2] == [
        "ansible-playbook site.yml -i inventories/local --tags network,database "
        "-e database_max_connections=200 -e database_app_max_tasks=8",
        "aws rds reboot-db-instance --db-instance-identifier sage-postgres",
    ]
    assert "parameter group" in db["immediate_fix"]["action"]
    assert not any("ALTER SYSTEM" in command for command in db["immediate_fix"]["commands"])

    oom = by_id["ecs_task_oom"]
    assert (oom["severity"], oom["evidence"]["count"]) == ("critical", 1)
    assert oom["evidence"]["metrics"]["ecs_memory"]["peak"] == 99.0
    assert oom["immediate_fix"]["commands"] == [
        "ansible-playbook site.yml -i inventories/local -e ecs_task_memory=2048"
    ]
    health = by_id["alb_health_check_failures"]
    assert health["evidence"]["metrics"]["alb_unhealthy_hosts"]["peak"] == 1.0
    valkey = by_id["valkey_oom"]
    assert (
        valkey["evidence"]["metrics"]["valkey_memory"] | {"peak": 97.0, "node": incident["node"]}
        == valkey["evidence"]["metrics"]["valkey_memory"]
    )
    assert valkey["evidence"]["metrics"]["valkey_evictions"] == {"total": 12.0}
    # 100 * 50 / 200 in the second minute
    assert by_id["error_rate_spike"]["evidence"]["metrics"]["error_rate"]["rate_percent"] == 25.0

    assert result["events_read"] == len(INCIDENT_LINES)
    assert result["missing"] == []
    assert result["window"]["minutes"] == 30


def test_quiet_window_has_no_finding_and_check_mode_fails_nothing(emulator, incident, tmp_path):
    report = tmp_path / "quiet.json"
    run = run_playbook(
        "playbooks/diagnose.yml",
        emulator.endpoint,
        "--check",
        extra_vars={
            "diagnose_end_time": incident["quiet_end"],
            "diagnose_window_minutes": 60,
            "diagnose_fail_on_findings": True,
            "diagnose_report_file": str(report),
        },
    ).assert_ok()
    assert "No known failure signature in this window." in run.output
    result = json.loads(report.read_text())  # written in check mode too: a report, not a change
    assert (result["findings"], result["events_read"]) == ([], len(QUIET_LINES))
    assert result["metrics"]["db_connections"]["peak"] == 12.0  # the quiet hour's metrics were read


def test_findings_fail_the_play_when_asked(emulator, incident):
    run = run_playbook(
        "playbooks/diagnose.yml",
        emulator.endpoint,
        extra_vars={"diagnose_window_minutes": 30, "diagnose_fail_on_findings": True},
    )
    assert run.returncode != 0
    assert "5 finding(s): Database connection pool exhausted; ECS tasks killed for memory;" in run.output


@pytest.mark.parametrize(
    "value, expected",
    [
        (0, "diagnose_window_minutes must be a whole number of minutes from 1 to 10080 (7 days), got 0"),
        (10081, "diagnose_window_minutes must be a whole number of minutes from 1 to 10080 (7 days), got 10081"),
        ("an hour", "diagnose_window_minutes"),
    ],
)
def test_bad_window_fails_before_any_aws_call(emulator, value, expected):
    emulator.reset_calls()
    run = run_playbook("playbooks/diagnose.yml", emulator.endpoint, extra_vars={"diagnose_window_minutes": value})
    assert run.returncode != 0
    assert expected in run.output, run.output[-3000:]
    assert emulator.calls() == [], "no AWS API call may happen before the input is valid"

# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for module_utils/diagnosis.py: the failure signatures over log lines and metric series."""

import pytest
from ansible_collections.sage.infra.plugins.module_utils import diagnosis as d

T0 = 1_764_410_400_000  # 2025-11-29T10:00:00Z, in ms
MINUTE = 60_000
STACK = {
    "inventory": "inventories/prod",
    "cluster_name": "sage-cluster",
    "service_name": "sage-backend",
    "task_cpu": 512,
    "task_memory": 1024,
    "target_group_name": "sage-backend-tg",
    "db_instance_identifier": "sage-postgres",
    "max_connections": 100,
    "connection_limit": 20,
    "app_max_tasks": 4,
    "replication_group_id": "sage-valkey",
    "node_type": "cache.t3.micro",
}

# The specification's sample ("Log Analysis Process"), one CloudWatch event per line as awslogs sends them.
SPEC_LINES = [
    "2024-01-15 10:30:15 [error] PrismaClientKnownRequestError:",
    "Invalid `prisma.chat.findMany()` invocation:",
    "Error occurred during query execution:",
    'ConnectorError(ConnectorError { user_facing_error: None, kind: QueryError(PostgresError { code: "53300", '
    'message: "too many connections", severity: "FATAL", detail: None, column: None, hint: None }) })',
    "2024-01-15 10:30:16 [error] Repeated 47 times",
    "2024-01-15 10:30:20 [info] ECS CPU: 95%",
]
HEALTHY_LINES = [
    "2025-11-29 10:00:01 [info] Server listening on port 3000",
    "2025-11-29 10:00:02 [info] Connected to PostgreSQL (pool size 20)",
    '{"level":30,"msg":"GET /health 200 3ms"}',
    '{"level":40,"msg":"slow request GET /api/chat 1200ms"}',
    "2025-11-29 10:00:05 [info] cache hit market:price:BTC",
    "2025-11-29 10:00:06 [warn] Anthropic API retry 1/3 after 529",
    "2025-11-29 10:00:07 [info] ECS task exit code 0 after deploy drain",
]


def events(lines, start=T0, step=1000, source="ecs/sage-backend/abc"):
    return [{"timestamp": start + i * step, "message": line, "source": source} for i, line in enumerate(lines)]


def series(*values, start=T0, step=MINUTE):
    return [(start + i * step, float(v)) for i, v in enumerate(values)]


def only(findings, finding_id):
    matching = [f for f in findings if f["id"] == finding_id]
    assert len(matching) == 1, [f["id"] for f in findings]
    return matching[0]


# --- the specification's case -------------------------------------------------------------------------------


def test_spec_sample_with_connections_near_max_is_pool_exhaustion_fixed_through_the_parameter_group():
    findings = d.diagnose(events(SPEC_LINES), {"db_connections": series(90, 98, 97)}, STACK)
    assert [f["id"] for f in findings] == ["db_connections_exhausted"]
    finding = findings[0]
    assert finding["severity"] == "critical"
    assert finding["root_cause"]["issue"] == "Database connection pool exhausted"
    details = finding["root_cause"]["details"]
    assert details[0].startswith("98/100 connections used at the peak (98%), 97 at the latest datapoint")
    assert any("48 'too many connections' (SQLSTATE 53300)" in line for line in details)
    assert any("connection_limit=20" in line and "5 tasks fill max_connections=100" in line for line in details)
    evidence = finding["evidence"]
    assert evidence["count"] == 48  # 1 + "Repeated 47 times"
    assert evidence["first"] == "2025-11-29T10:00:03Z"
    assert evidence["last"] == "2025-11-29T10:00:04Z"
    assert evidence["samples"] == [SPEC_LINES[3]]
    assert evidence["metrics"]["db_connections"]["peak"] == 98.0
    assert evidence["metrics"]["db_connections"]["max_connections"] == 100
    fix = finding["immediate_fix"]
    assert fix["commands"][0] == (
        "ansible-playbook site.yml -i inventories/prod --tags network,database "
        "-e database_max_connections=200 -e database_app_max_tasks=8"
    )
    assert fix["commands"][1] == "aws rds reboot-db-instance --db-instance-identifier sage-postgres"
    assert "force-new-deployment" in fix["commands"][2]
    assert "parameter group" in fix["action"] and "not ALTER SYSTEM" in fix["action"]
    assert not any("ALTER SYSTEM" in command for command in fix["commands"])
    assert any("RDS Proxy" in s and "PgBouncer" in s for s in finding["long_term_fix"])
    assert any("pool size per ECS task" in s for s in finding["long_term_fix"])


def test_connections_near_max_without_errors_is_a_warning_and_below_the_threshold_nothing():
    near = d.diagnose([], {"db_connections": series(40, 85, 60)}, STACK)
    assert [(f["id"], f["severity"]) for f in near] == [("db_connections_exhausted", "medium")]
    assert near[0]["root_cause"]["issue"] == "Database connections near max_connections"
    assert near[0]["evidence"]["count"] == 0
    assert d.diagnose([], {"db_connections": series(40, 79, 60)}, STACK) == []
    assert d.diagnose([], {"db_connections": series(40, 79)}, STACK, {"db_connections_percent": 70}) != []


def test_repeats_count_for_the_previous_line_of_the_same_stream_only():
    lines = events(["FATAL: sorry, too many clients already"], source="a") + events(
        ["[info] request done", "[error] Repeated 9 times"], start=T0 + 500, source="b"
    )
    (finding,) = d.diagnose(sorted(lines, key=lambda e: e["timestamp"]), {}, STACK)
    assert finding["evidence"]["count"] == 1
    lines.append({"timestamp": T0 + 9000, "message": "last message repeated 4 times", "source": "a"})
    (finding,) = d.diagnose(lines, {}, STACK)
    assert finding["evidence"]["count"] == 5
    assert finding["evidence"]["last"] == "2025-11-29T10:00:09Z"


# --- a healthy service -------------------------------------------------------------------------------------


def test_healthy_logs_and_metrics_give_no_finding():
    metrics = {
        "db_connections": series(12, 15),
        "ecs_cpu": series(35, 40),
        "ecs_memory": series(55, 60),
        "alb_requests": series(500, 600),
        "alb_target_5xx": series(2, 3),
        "alb_unhealthy_hosts": series(0, 0),
        "valkey_memory.sage-valkey-001": series(30, 31),
        "valkey_evictions.sage-valkey-001": series(0, 0),
    }
    assert d.diagnose(events(HEALTHY_LINES), metrics, STACK) == []
    lines = d.summary_lines([], {"start": "a", "end": "b", "minutes": 60}, 7)
    assert lines == [
        "Diagnosis of a to b (60 min): 7 log events read, 0 finding(s)",
        "No known failure signature in this window.",
    ]


# --- each signature ----------------------------------------------------------------------------------------


def test_tasks_killed_for_memory_from_logs_stopped_tasks_and_memory_metric():
    lines = [
        "<--- Last few GCs --->",
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
        "task 0f1e stopped: OutOfMemoryError: Container killed due to memory usage (stop code EssentialContainerExited;"
        " container sage-backend exit code 137)",
        "Essential container in task exited with exitCode: 137",
    ]
    findings = d.diagnose(events(lines), {"ecs_memory": series(70, 99.5)}, STACK)
    finding = only(findings, "ecs_task_oom")
    assert finding["severity"] == "critical"
    assert finding["evidence"]["count"] == 3
    assert finding["evidence"]["metrics"]["ecs_memory"]["peak"] == 99.5
    assert "MemoryUtilization peaked at 99.5% of the task's 1024 MiB" in finding["root_cause"]["details"]
    assert finding["immediate_fix"]["commands"] == [
        "ansible-playbook site.yml -i inventories/prod -e ecs_task_memory=2048"
    ]
    assert any("max-old-space-size" in s for s in finding["long_term_fix"])
    # memory high alone: a warning; an exit code 0 or 1370 is no kill
    assert only(d.diagnose([], {"ecs_memory": series(95)}, STACK), "ecs_task_oom")["severity"] == "medium"
    assert d.diagnose(events(["container exited with code 1370", "exit code 0"]), {}, STACK) == []


def test_health_check_failures_from_service_events_and_unhealthy_targets():
    lines = [
        "(service sage-backend) (task 7a3b) failed ELB health checks in (target-group arn:aws:...:targetgroup/tg/1)",
        "Health checks failed with these codes: [503]",
    ]
    finding = only(
        d.diagnose(events(lines), {"alb_unhealthy_hosts": series(0, 2, 1)}, STACK), "alb_health_check_failures"
    )
    assert finding["severity"] == "high"
    assert finding["evidence"]["count"] == 2
    assert finding["evidence"]["metrics"]["alb_unhealthy_hosts"]["peak"] == 2.0
    assert finding["root_cause"]["details"][0] == "up to 2 target(s) of sage-backend-tg unhealthy"
    assert any(
        "deploy.yml -i inventories/prod -e image_tag=<previous tag>" in c for c in finding["immediate_fix"]["commands"]
    )
    assert d.diagnose([], {"alb_unhealthy_hosts": series(0, 0)}, STACK) == []


def test_valkey_out_of_memory_with_the_fullest_node_and_evictions():
    lines = ["[error] ReplyError: OOM command not allowed when used memory > 'maxmemory'."] * 3
    metrics = {
        "valkey_memory.sage-valkey-001": series(70, 99),
        "valkey_memory.sage-valkey-002": series(60, 65),
        "valkey_evictions.sage-valkey-001": series(10, 30),
    }
    finding = only(d.diagnose(events(lines), metrics, STACK), "valkey_oom")
    assert finding["severity"] == "high"
    assert finding["evidence"]["count"] == 3
    assert finding["evidence"]["samples"] == [lines[0]]  # the same line once
    assert finding["evidence"]["metrics"]["valkey_memory"]["node"] == "sage-valkey-001"
    assert finding["evidence"]["metrics"]["valkey_evictions"] == {"total": 40.0}
    assert "40 keys evicted in the window" in finding["root_cause"]["details"]
    assert finding["immediate_fix"]["commands"] == [
        "ansible-playbook site.yml -i inventories/prod --tags network,cache -e cache_node_type=cache.t3.small"
    ]
    # the OOM lines are explained: no error spike from them
    assert "error_rate_spike" not in [f["id"] for f in d.diagnose(events(lines * 20, step=100), {}, STACK)]


def test_error_rate_spike_from_the_alarms_math_only_in_busy_periods():
    metrics = {
        "alb_requests": series(400, 10, 300),
        "alb_target_5xx": series(4, 10, 45),
        "alb_elb_5xx": series(0, 0, 5),
    }
    finding = only(d.diagnose([], metrics, STACK), "error_rate_spike")
    rate = finding["evidence"]["metrics"]["error_rate"]
    # 100 * (45 + 5) / (300 + 5); the period of 10 requests, all failed, is below error_rate_min_requests
    assert rate == {"rate_percent": 16.4, "at": "2025-11-29T10:02:00Z", "failed": 50.0, "requests": 305.0}
    quiet = {"alb_requests": series(400, 10), "alb_target_5xx": series(4, 10)}
    assert d.diagnose([], quiet, STACK) == []


def test_error_rate_spike_from_unexplained_error_lines_lists_the_commonest():
    lines = [f"[error] TypeError: Cannot read properties of undefined (reading 'id') at chat.ts:{n}" for n in range(25)]
    lines += [f"[error] Anthropic API 500 for request {n}" for n in range(10)]
    findings = d.diagnose(events(lines, step=1000), {}, STACK)
    finding = only(findings, "error_rate_spike")
    assert finding["evidence"]["count"] == 35
    assert finding["root_cause"]["details"][0] == "35 error lines in the minute from 2025-11-29T10:00:00Z"
    assert finding["root_cause"]["details"][1].startswith("25 x TypeError: Cannot read properties of undefined")
    assert len(finding["evidence"]["samples"]) == 5
    assert d.diagnose(events(lines[:29]), {}, STACK) == []
    assert d.diagnose(events(lines[:29]), {}, STACK, {"error_lines_per_minute": 10}) != []


def test_findings_most_severe_first_and_the_spike_points_at_the_others():
    lines = ["[error] ReplyError: OOM command not allowed"] + SPEC_LINES + ["[error] boom"] * 40
    findings = d.diagnose(events(lines, step=100), {}, STACK)
    assert [f["id"] for f in findings] == ["db_connections_exhausted", "error_rate_spike", "valkey_oom"]
    assert findings[1]["root_cause"]["details"][-1] == "see also: db_connections_exhausted, valkey_oom"


def test_fix_commands_without_stack_settings_use_placeholders():
    (finding,) = d.diagnose(events(SPEC_LINES), {}, {})
    assert finding["immediate_fix"]["commands"][0] == (
        "ansible-playbook site.yml -i inventories/prod --tags network,database "
        "-e database_max_connections=<2 x the current value>"
    )


# --- redaction, thresholds, summary ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, secret",
    [
        ("connect postgresql://sage_admin:S3cr3tPw@db.internal:5432/sage failed: too many connections", "S3cr3tPw"),
        ("valkey rediss://:AuthT0ken123@cache:6379 OOM command not allowed", "AuthT0ken123"),
        ("POST https://discord.com/api/webhooks/123/not-a-real-token failed", "not-a-real-token"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("anthropic key sk-ant-api03-abcdefghijklmnopqrstuvwxyz rejected", "abcdefghijklmnop"),
        ('{"password":"hunter2hunter2","msg":"login"}', "hunter2hunter2"),
        ("api_key=K3yK3yK3y&x=1", "K3yK3yK3y"),
        # AWS's documented example key, joined here so that secret scanners do not take the file for a leak.
        ("aws key " + "AKIA" + "IOSFODNN7EXAMPLE used", "IOSFODNN7EXAMPLE"),
    ],
)
def test_secret_looking_values_are_redacted(line, secret):
    redacted = d.redact(line)
    assert secret not in redacted
    assert "***" in redacted


def test_sample_lines_are_redacted_and_cut():
    line = "FATAL: too many connections for postgresql://u:pw-9-secret@h/db " + "x" * 1000
    (finding,) = d.diagnose(events([line]), {}, STACK)
    (sample,) = finding["evidence"]["samples"]
    assert "pw-9-secret" not in sample and "postgresql://u:***@h/db" in sample
    assert len(sample) == d.MAX_LINE and sample.endswith("...")


def test_thresholds_are_checked_naming_the_bad_one():
    assert d.merged_thresholds({"error_rate_percent": "2.5"})["error_rate_percent"] == 2.5
    with pytest.raises(d.InvalidThreshold, match=r"thresholds.error_rate is not a threshold \(known: "):
        d.merged_thresholds({"error_rate": 5})
    for bad in (-1, "many", None, True, float("nan")):
        with pytest.raises(d.InvalidThreshold, match=r"thresholds.ecs_memory_percent must be a number of at least 0"):
            d.merged_thresholds({"ecs_memory_percent": bad})


def test_summary_lines_for_people():
    findings = d.diagnose(events(SPEC_LINES), {"db_connections": series(98)}, STACK)
    window = {"start": "2025-11-29T09:00:00Z", "end": "2025-11-29T10:00:00Z", "minutes": 60}
    lines = d.summary_lines(findings, window, 6, truncated=True, missing=["log group /ecs/x"])
    assert lines[0] == (
        "Diagnosis of 2025-11-29T09:00:00Z to 2025-11-29T10:00:00Z (60 min): 6 log events read "
        "(the cap: later events were not read - narrow the window), 1 finding(s)"
    )
    assert lines[1] == "not found (not diagnosed): log group /ecs/x"
    assert lines[2] == "1. [CRITICAL] Database connection pool exhausted (db_connections_exhausted)"
    assert "   metric: RDS connections: peak 98 at 2025-11-29T10:00:00Z, latest 98" in lines
    assert any(line.startswith("   sample: ConnectorError") for line in lines)
    assert any(line.startswith("     $ ansible-playbook site.yml") for line in lines)
    assert any(line.startswith("   long-term: ") for line in lines)

# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Known failure signatures of the Sage.ai backend, matched over log lines and metric series. No AWS here.

``diagnose(events, metrics, stack, thresholds)`` returns findings, most severe first, each shaped like the
specification's DebugResponse: ``root_cause`` {issue, details}, ``evidence`` {count, first, last, samples,
metrics}, ``immediate_fix`` {action, commands} and ``long_term_fix`` (a list). ``summary_lines`` renders them.

- events: dicts with ``timestamp`` (epoch ms), ``message`` and ``source`` (a log stream, or the ECS service),
  oldest first. A "Repeated N times" line adds N occurrences of whatever the line before it (same source)
  matched, as in the specification's sample.
- metrics: name -> [(epoch ms, value), ...] oldest first; names are those of METRICS, per node ones with
  ``.<node id>`` appended (``valkey_memory.sage-valkey-001``).
- stack: the names and settings the fixes are written with (see STACK_DEFAULTS).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import datetime, timezone

SEVERITIES = ("critical", "high", "medium")

# The thresholds, the same as roles/monitoring's alarms where there is one.
DEFAULT_THRESHOLDS = {
    "db_connections_percent": 80,  # DatabaseConnections of max_connections (rds_connections alarm)
    "ecs_memory_percent": 90,  # MemoryUtilization of the task size
    "unhealthy_hosts": 0,  # UnHealthyHostCount above this (alb_unhealthy_hosts alarm)
    "valkey_memory_percent": 80,  # DatabaseMemoryUsagePercentage (valkey_memory alarm)
    "error_rate_percent": 5,  # 100 * (target + ALB 5xx) / requests in a period (api_error_rate alarm)
    "error_rate_min_requests": 20,  # periods with fewer requests are not judged
    "error_lines_per_minute": 30,  # error lines no other signature explains, in one minute
}

STACK_DEFAULTS = {
    "inventory": "inventories/prod",
    "cluster_name": "<cluster>",
    "service_name": "<service>",
    "task_cpu": None,
    "task_memory": None,
    "health_check_path": "/health",
    "target_group_name": "<target group>",
    "db_instance_identifier": "<db instance>",
    "max_connections": None,
    "connection_limit": None,
    "app_max_tasks": None,
    "replication_group_id": "<replication group>",
    "node_type": None,
}

# What GetMetricData is asked for: name -> (namespace, metric, statistic, dimension tier, label).
METRICS = {
    "db_connections": ("AWS/RDS", "DatabaseConnections", "Maximum", "database", "RDS connections"),
    "ecs_cpu": ("AWS/ECS", "CPUUtilization", "Maximum", "service", "ECS CPU (%)"),
    "ecs_memory": ("AWS/ECS", "MemoryUtilization", "Maximum", "service", "ECS memory (%)"),
    "alb_requests": ("AWS/ApplicationELB", "RequestCount", "Sum", "load_balancer", "ALB requests"),
    "alb_target_5xx": ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", "load_balancer", "Target 5xx"),
    "alb_elb_5xx": ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", "load_balancer", "ALB 5xx"),
    "alb_unhealthy_hosts": ("AWS/ApplicationELB", "UnHealthyHostCount", "Maximum", "target_group", "Unhealthy targets"),
    "alb_response_time": ("AWS/ApplicationELB", "TargetResponseTime", "Average", "load_balancer", "Response time (s)"),
    "valkey_memory": ("AWS/ElastiCache", "DatabaseMemoryUsagePercentage", "Maximum", "cache_node", "Valkey memory (%)"),
    "valkey_evictions": ("AWS/ElastiCache", "Evictions", "Sum", "cache_node", "Valkey evictions"),
}

_REPEATED = re.compile(r"\b(?:last message )?repeated (\d+) times?\b", re.IGNORECASE)
_ERROR_LEVEL = re.compile(
    r"\[(?:error|fatal|crit(?:ical)?)\]|\"level\"\s*:\s*(?:\"(?:error|fatal)\"|50|60)\b|\b(?:ERROR|FATAL)\b"
)
_PATTERNS = {
    "db_connections_exhausted": re.compile(
        r"\b53300\b|too many (?:database )?connections|remaining connection slots are reserved"
        r"|sorry, too many clients already|\bP2037\b",
        re.IGNORECASE,
    ),
    "ecs_task_oom": re.compile(
        r"OutOfMemoryError|\bexit(?:ed)?[ _]?(?:with )?code[\"']?\s*[:=]?\s*137\b|JavaScript heap out of memory"
        r"|Reached heap limit|\bOOMKilled\b|Out of memory: Killed process",
        re.IGNORECASE,
    ),
    "alb_health_check_failures": re.compile(
        r"failed (?:ELB|load balancer|ALB) health checks?|health ?checks? failed|unhealthy in target-group"
        r"|Target\.(?:ResponseCodeMismatch|Timeout|FailedHealthChecks)",
        re.IGNORECASE,
    ),
    "valkey_oom": re.compile(
        r"OOM command not allowed|used memory > 'maxmemory'|ReplyError: OOM",
        re.IGNORECASE,
    ),
}

# Values that must never reach a report: passwords in URLs, tokens, keys, webhook URLs.
_REDACTIONS = (
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE), r"\1***@"),
    (re.compile(r"(discord(?:app)?\.com/api/webhooks/\d+/)[\w-]+", re.IGNORECASE), r"\1***"),
    (re.compile(r"\b(Bearer|Basic)\s+[\w.~+/=-]+", re.IGNORECASE), r"\1 ***"),
    (re.compile(r"\bsk-[a-z]*-?[\w-]{16,}", re.IGNORECASE), "sk-***"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "AKIA***"),
    (
        re.compile(
            r"((?:password|passwd|pwd|secret|token|api[_-]?key|auth(?:orization)?)[\"']?\s*[:=]\s*[\"']?)"
            r"[^\s\"',;&}]+",
            re.IGNORECASE,
        ),
        r"\1***",
    ),
)
MAX_LINE = 400
UTC = timezone.utc  # noqa: UP017 - modules may run on a Python older than 3.11 (no datetime.UTC)


class InvalidThreshold(ValueError):
    """A threshold that is unknown or not a non-negative number; the message names it."""


def redact(line):
    """The line with secret-looking values replaced by ***, cut to MAX_LINE characters."""
    for pattern, replacement in _REDACTIONS:
        line = pattern.sub(replacement, line)
    line = line.rstrip()
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 3] + "..."


def merged_thresholds(overrides):
    """DEFAULT_THRESHOLDS with the overrides; InvalidThreshold naming the first bad one."""
    unknown = sorted(set(overrides or {}) - set(DEFAULT_THRESHOLDS))
    if unknown:
        raise InvalidThreshold(
            f"thresholds.{unknown[0]} is not a threshold (known: {', '.join(sorted(DEFAULT_THRESHOLDS))})"
        )
    merged = dict(DEFAULT_THRESHOLDS)
    for key, value in (overrides or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = -1.0
        if isinstance(value, bool) or not math.isfinite(number) or number < 0:
            raise InvalidThreshold(f"thresholds.{key} must be a number of at least 0, got {value!r}")
        merged[key] = number
    return merged


def iso(ms):
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def fmt(value):
    """A number without a pointless .0, at most one decimal."""
    return f"{value:.1f}".removesuffix(".0")


# --- logs ----------------------------------------------------------------------------------------------


class Hits:
    """Occurrences of one signature (or of unexplained errors): count with repeats, times, sample lines."""

    def __init__(self):
        self.count = 0
        self.first = None
        self.last = None
        self.samples = []
        self.per_minute = Counter()

    def add(self, timestamp, times=1, line=None, samples=5):
        self.count += times
        self.first = timestamp if self.first is None else min(self.first, timestamp)
        self.last = timestamp if self.last is None else max(self.last, timestamp)
        self.per_minute[timestamp // 60000] += times
        if line is not None:
            text = redact(line)
            if text not in self.samples and len(self.samples) < samples:
                self.samples.append(text)

    def evidence(self):
        return {
            "count": self.count,
            "first": iso(self.first) if self.first is not None else None,
            "last": iso(self.last) if self.last is not None else None,
            "samples": self.samples,
        }


def scan(events, samples=5):
    """{signature id: Hits} of the log lines, and the Hits of error lines no signature explains."""
    hits = {name: Hits() for name in _PATTERNS}
    unexplained = Hits()
    unexplained_messages = Counter()
    previous = {}  # source -> (signature ids, unexplained message) of its last line
    for event in events:
        message, timestamp, source = event["message"], int(event["timestamp"]), event.get("source", "")
        repeated = _REPEATED.search(message)
        if repeated:
            names, error = previous.get(source, ((), None))
            for name in names:
                hits[name].add(timestamp, int(repeated.group(1)))
            if error is not None:
                unexplained.add(timestamp, int(repeated.group(1)))
                unexplained_messages[error] += int(repeated.group(1))
            continue
        names = tuple(name for name, pattern in _PATTERNS.items() if pattern.search(message))
        for name in names:
            hits[name].add(timestamp, line=message, samples=samples)
        error = None
        if not names and _ERROR_LEVEL.search(message):
            error = re.sub(r"\d+", "#", redact(message.split("] ", 1)[-1]).strip())[:160]
            unexplained.add(timestamp, line=message, samples=samples)
            unexplained_messages[error] += 1
        previous[source] = (names, error)
    return hits, unexplained, unexplained_messages


# --- metrics -------------------------------------------------------------------------------------------


def series_of(metrics, name):
    """The series of a metric, the per-node ones (name.<node>) merged: [(ms, value, node or None)]."""
    merged = [(t, v, None) for t, v in metrics.get(name) or []]
    for key, values in metrics.items():
        if key.startswith(name + "."):
            merged += [(t, v, key[len(name) + 1 :]) for t, v in values]
    return sorted(merged)


def peak(metrics, name):
    """{peak, peak_at, latest, latest_at[, node]} of a metric, None when it has no datapoint."""
    points = series_of(metrics, name)
    if not points:
        return None
    top = max(points, key=lambda p: p[1])
    last = points[-1]
    result = {"peak": top[1], "peak_at": iso(top[0]), "latest": last[1], "latest_at": iso(last[0])}
    if top[2]:
        result["node"] = top[2]
    return result


def total(metrics, name):
    return sum(v for _t, v, _n in series_of(metrics, name))


def worst_error_rate(metrics, min_requests):
    """The period with the highest 5xx rate among periods of at least min_requests (the alarm's math)."""
    by_time = {}
    for position, name in enumerate(("alb_requests", "alb_target_5xx", "alb_elb_5xx")):
        for t, v, _node in series_of(metrics, name):
            by_time.setdefault(t, [0.0, 0.0, 0.0])[position] += v
    worst = None
    for t, (requests, target5xx, elb5xx) in sorted(by_time.items()):
        answered = requests + elb5xx
        if answered >= max(min_requests, 1):
            rate = 100 * (target5xx + elb5xx) / answered
            if worst is None or rate > worst["rate_percent"]:
                worst = {
                    "rate_percent": round(rate, 1),
                    "at": iso(t),
                    "failed": target5xx + elb5xx,
                    "requests": answered,
                }
    return worst


# --- the signatures ------------------------------------------------------------------------------------
# Each takes (log hits, metrics, stack, thresholds) and returns None or the parts of its finding.


def _size_up(node_type):
    """cache.t3.micro -> cache.t3.small; None when the size is unknown."""
    sizes = ["nano", "micro", "small", "medium", "large", "xlarge"] + [f"{n}xlarge" for n in (2, 4, 8, 12, 16, 24)]
    prefix, size = (node_type or "").rpartition(".")[::2]
    return f"{prefix}.{sizes[sizes.index(size) + 1]}" if prefix and size in sizes[:-1] else None


def db_connections_exhausted(hits, metrics, stack, thresholds):
    logs, connections = hits["db_connections_exhausted"], peak(metrics, "db_connections")
    maximum, limit, tasks = stack["max_connections"], stack["connection_limit"], stack["app_max_tasks"]
    percent = 100 * connections["peak"] / maximum if connections and maximum else None
    near = percent is not None and percent >= thresholds["db_connections_percent"]
    if not logs.count and not near:
        return None
    details = []
    if percent is not None:
        details.append(
            f"{fmt(connections['peak'])}/{maximum} connections used at the peak ({fmt(percent)}%), "
            f"{fmt(connections['latest'])} at the latest datapoint"
        )
    if logs.count:
        details.append(
            f"{logs.count} 'too many connections' (SQLSTATE 53300) errors "
            f"between {iso(logs.first)} and {iso(logs.last)}"
        )
    if limit and maximum:
        details.append(
            f"each task's pool may open connection_limit={limit} connections: {maximum // limit} tasks fill "
            f"max_connections={maximum}, and a rolling deploy runs old and new tasks side by side"
        )
    details.append("ECS tasks creating too many connections, or connections held instead of reused")
    metrics_evidence = {"db_connections": {**connections, "max_connections": maximum}} if connections else {}
    new_max = 2 * maximum if maximum else "<2 x the current value>"
    surge = f" -e database_app_max_tasks={2 * tasks}" if tasks else ""
    return {
        "severity": "critical" if logs.count else "medium",
        "issue": "Database connection pool exhausted" if logs.count else "Database connections near max_connections",
        "details": details,
        "metrics": metrics_evidence,
        "action": (
            f"Raise max_connections to {new_max} through the RDS parameter group (the database role's "
            "database_max_connections; a static parameter, applied at the reboot) - not ALTER SYSTEM, which RDS "
            "refuses. Keep the value in the inventory's group_vars so later runs keep it. "
            + (
                "Doubling database_app_max_tasks too lowers each task's connection_limit so that the old and new "
                "tasks of a rolling deploy fit. "
                if tasks
                else ""
            )
            + "The tasks read the new DATABASE_URL (connection_limit) when they start."
        ),
        "commands": [
            f"ansible-playbook site.yml -i {stack['inventory']} --tags network,database "
            f"-e database_max_connections={new_max}{surge}",
            f"aws rds reboot-db-instance --db-instance-identifier {stack['db_instance_identifier']}",
            f"aws ecs update-service --cluster {stack['cluster_name']} --service {stack['service_name']} "
            "--force-new-deployment",
        ],
        "long_term": [
            "Put a connection pooler between the tasks and PostgreSQL: RDS Proxy, or PgBouncer in transaction mode",
            "One PrismaClient per process, never one per request; disconnect it on shutdown",
            "Set the connection pool size per ECS task (connection_limit in DATABASE_URL, sized by the database "
            "role from max_connections and database_app_max_tasks), counting deploy surges "
            "(ecs_max_count x ecs_deployment_maximum_percent / 100)",
        ],
        "hits": logs,
    }


def ecs_task_oom(hits, metrics, stack, thresholds):
    logs, memory = hits["ecs_task_oom"], peak(metrics, "ecs_memory")
    high = memory is not None and memory["peak"] >= thresholds["ecs_memory_percent"]
    if not logs.count and not high:
        return None
    size = stack["task_memory"]
    details = []
    if logs.count:
        details.append(
            f"{logs.count} out-of-memory kills or errors (exit code 137, OutOfMemoryError, heap limit) "
            f"between {iso(logs.first)} and {iso(logs.last)}"
        )
    if memory:
        details.append(f"MemoryUtilization peaked at {fmt(memory['peak'])}% of the task's {size or '?'} MiB")
    new_size = 2 * int(size) if size else "<twice the current MiB>"
    return {
        "severity": "critical" if logs.count else "medium",
        "issue": "ECS tasks killed for memory" if logs.count else "ECS tasks close to their memory limit",
        "details": details,
        "metrics": {"ecs_memory": memory} if memory else {},
        "action": (
            f"Give each task more memory: ecs_task_memory {size or '?'} -> {new_size} MiB (site.yml checks the pair "
            f"with ecs_task_cpu {stack['task_cpu'] or '?'} before any AWS call); the service rolls to the new size. "
            "Keep the value in the inventory."
        ),
        "commands": [f"ansible-playbook site.yml -i {stack['inventory']} -e ecs_task_memory={new_size}"],
        "long_term": [
            "Cap V8's heap below the task size (NODE_OPTIONS=--max-old-space-size at about 75% of the task's "
            "memory, through ecs_extra_environment) so the process fails with a stack trace instead of a SIGKILL",
            "Find what grows: heap snapshots of a task under load; bound in-process caches and request bodies "
            "(cache in Valkey instead)",
            "Alarm on ECS MemoryUtilization as well as CPU",
        ],
        "hits": logs,
    }


def alb_health_check_failures(hits, metrics, stack, thresholds):
    logs, unhealthy = hits["alb_health_check_failures"], peak(metrics, "alb_unhealthy_hosts")
    failing = unhealthy is not None and unhealthy["peak"] > thresholds["unhealthy_hosts"]
    if not logs.count and not failing:
        return None
    details = []
    if unhealthy:
        details.append(f"up to {fmt(unhealthy['peak'])} target(s) of {stack['target_group_name']} unhealthy")
    if logs.count:
        details.append(f"{logs.count} health check failures in the logs and service events")
    details.append(
        f"the load balancer takes a task out when GET {stack['health_check_path']} does not answer 200 in time"
    )
    return {
        "severity": "high",
        "issue": "Tasks failing the load balancer's health checks",
        "details": details,
        "metrics": {"alb_unhealthy_hosts": unhealthy} if unhealthy else {},
        "action": (
            f"Find why {stack['health_check_path']} fails: the service's events and the task logs around the "
            "failures (samples here), and the database and cache it depends on (other findings). If it began with "
            "a deploy, deploy the previous image tag."
        ),
        "commands": [
            f"aws ecs describe-services --cluster {stack['cluster_name']} --services {stack['service_name']} "
            "--query 'services[0].events[:10]'",
            f"ansible-playbook playbooks/deploy.yml -i {stack['inventory']} -e image_tag=<previous tag>",
        ],
        "long_term": [
            "Keep the health check cheap and within its timeout: report a slow dependency, do not wait for it",
            "Give a new task enough time to start (ecs_health_check_grace_period_seconds) before it is judged",
            "Run the image's health check in CI before it is deployed",
        ],
        "hits": logs,
    }


def valkey_oom(hits, metrics, stack, thresholds):
    logs, memory = hits["valkey_oom"], peak(metrics, "valkey_memory")
    evictions = total(metrics, "valkey_evictions")
    full = memory is not None and memory["peak"] >= thresholds["valkey_memory_percent"]
    if not logs.count and not full:
        return None
    details = []
    if logs.count:
        details.append(f"{logs.count} writes refused with OOM (used memory > maxmemory)")
    if memory:
        details.append(f"DatabaseMemoryUsagePercentage peaked at {fmt(memory['peak'])}% on {memory.get('node', '?')}")
    if series_of(metrics, "valkey_evictions"):
        details.append(f"{fmt(evictions)} keys evicted in the window")
    bigger = _size_up(stack["node_type"]) or "<a larger node type>"
    evidence = {"valkey_memory": memory} if memory else {}
    if series_of(metrics, "valkey_evictions"):
        evidence["valkey_evictions"] = {"total": evictions}
    return {
        "severity": "high" if logs.count else "medium",
        "issue": "Valkey out of memory" if logs.count else "Valkey memory near full",
        "details": details,
        "metrics": evidence,
        "action": (
            f"Give the cache room: a larger node (cache_node_type {stack['node_type'] or '?'} -> {bigger}) and an "
            "evicting maxmemory policy (cache_maxmemory_policy allkeys-lru, the cache role's default) so a full "
            "cache drops old keys instead of refusing writes"
        ),
        "commands": [
            f"ansible-playbook site.yml -i {stack['inventory']} --tags network,cache -e cache_node_type={bigger}",
        ],
        "long_term": [
            "A TTL on every key the application writes (cache_ttl_seconds)",
            "Smaller values: compress or trim cached AI responses",
            "More nodes or a larger class when the working set keeps growing (valkey_memory alarm at 80%)",
        ],
        "hits": logs,
    }


def error_rate_spike(hits, metrics, stack, thresholds, unexplained=None, messages=None):
    worst = worst_error_rate(metrics, thresholds["error_rate_min_requests"])
    by_rate = worst is not None and worst["rate_percent"] > thresholds["error_rate_percent"]
    busiest = max(unexplained.per_minute.items(), key=lambda item: item[1]) if unexplained.per_minute else None
    by_lines = busiest is not None and busiest[1] >= thresholds["error_lines_per_minute"]
    if not by_rate and not by_lines:
        return None
    details = []
    if worst:
        details.append(
            f"{fmt(worst['rate_percent'])}% of requests failed with a 5xx in the period from {worst['at']} "
            f"({fmt(worst['failed'])} of {fmt(worst['requests'])})"
        )
    if busiest:
        details.append(f"{busiest[1]} error lines in the minute from {iso(busiest[0] * 60000)}")
    details += [f"{count} x {message}" for message, count in messages.most_common(3)]
    evidence = {"error_rate": worst} if worst else {}
    return {
        "severity": "high",
        "issue": "Error rate spike",
        "details": details,
        "metrics": evidence,
        "action": (
            "Find the change behind it: the most frequent errors are listed, and a deploy in the window is the first "
            "suspect - deploy the previous image tag if so"
        ),
        "commands": [
            f"ansible-playbook playbooks/deploy.yml -i {stack['inventory']} -e image_tag=<previous tag>",
        ],
        "long_term": [
            "Every error logged once with its cause (structured JSON lines with a level) so it can be counted",
            "A canary or staging run of each image before production",
            "Retries with backoff for calls to Anthropic and other APIs that fail transiently",
        ],
        "hits": unexplained,
    }


SIGNATURES = (
    ("db_connections_exhausted", db_connections_exhausted),
    ("ecs_task_oom", ecs_task_oom),
    ("alb_health_check_failures", alb_health_check_failures),
    ("valkey_oom", valkey_oom),
    ("error_rate_spike", error_rate_spike),
)


def diagnose(events, metrics, stack=None, thresholds=None, samples=5):
    """The findings of the events and metrics, most severe (then most frequent) first."""
    stack = {**STACK_DEFAULTS, **{k: v for k, v in (stack or {}).items() if v not in (None, "")}}
    limits = merged_thresholds(thresholds)
    hits, unexplained, messages = scan(events, samples)
    findings = []
    for name, check in SIGNATURES:
        extra = {"unexplained": unexplained, "messages": messages} if name == "error_rate_spike" else {}
        parts = check(hits, metrics, stack, limits, **extra)
        if parts is None:
            continue
        findings.append(
            {
                "id": name,
                "severity": parts["severity"],
                "root_cause": {"issue": parts["issue"], "details": parts["details"]},
                "evidence": {**parts["hits"].evidence(), "metrics": parts["metrics"]},
                "immediate_fix": {"action": parts["action"], "commands": parts["commands"]},
                "long_term_fix": parts["long_term"],
            }
        )
    others = [f["id"] for f in findings if f["id"] != "error_rate_spike"]
    for finding in findings:
        if finding["id"] == "error_rate_spike" and others:
            finding["root_cause"]["details"].append(f"see also: {', '.join(others)}")
    findings.sort(key=lambda f: (SEVERITIES.index(f["severity"]), -f["evidence"]["count"]))
    return findings


def metric_line(name, values):
    label = METRICS[name][4] if name in METRICS else name
    if "peak" in values:
        where = f" on {values['node']}" if values.get("node") else ""
        return f"{label}: peak {fmt(values['peak'])}{where} at {values['peak_at']}, latest {fmt(values['latest'])}"
    if "rate_percent" in values:
        return f"5xx rate: {fmt(values['rate_percent'])}% at {values['at']}"
    return f"{label}: {fmt(values['total'])} in the window"


def summary_lines(findings, window, events_read, truncated=False, missing=()):
    """The report as lines for people."""
    lines = [
        f"Diagnosis of {window['start']} to {window['end']} ({window['minutes']} min): {events_read} log events read"
        + (" (the cap: later events were not read - narrow the window)" if truncated else "")
        + f", {len(findings)} finding(s)"
    ]
    lines += [f"not found (not diagnosed): {what}" for what in missing]
    if not findings:
        lines.append("No known failure signature in this window.")
    for number, finding in enumerate(findings, 1):
        evidence = finding["evidence"]
        lines.append(f"{number}. [{finding['severity'].upper()}] {finding['root_cause']['issue']} ({finding['id']})")
        lines += [f"   - {detail}" for detail in finding["root_cause"]["details"]]
        lines += [f"   metric: {metric_line(name, values)}" for name, values in evidence["metrics"].items()]
        lines += [f"   sample: {sample}" for sample in evidence["samples"]]
        lines.append(f"   immediate fix: {finding['immediate_fix']['action']}")
        lines += [f"     $ {command}" for command in finding["immediate_fix"]["commands"]]
        lines += [f"   long-term: {solution}" for solution in finding["long_term_fix"]]
    return lines

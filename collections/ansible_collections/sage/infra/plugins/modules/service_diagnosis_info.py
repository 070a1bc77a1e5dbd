#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: service_diagnosis_info
version_added: 0.1.0
short_description: Diagnose the backend service from its recent logs and metrics
description:
  - Reads the events of the service's CloudWatch log group in a time window, the current metrics of the
    database, the service, the load balancer and the cache, and the service's ECS events and stopped tasks,
    then matches known failure signatures and reports each finding with its root cause, the evidence (counts,
    first and last time, sample lines, metric values), an immediate fix and long-term fixes.
  - "Signatures: PostgreSQL C(too many connections) (SQLSTATE 53300) and RDS C(DatabaseConnections) near
    C(max_connections); tasks killed for memory (exit code 137, C(OutOfMemoryError)); load balancer health
    check failures; Valkey out of memory or nearly full (evictions counted); error-rate spikes (5xx rate of
    the load balancer, or error lines no other signature explains)."
  - Read-only; changes nothing and never reports a change. Supports check mode.
  - "API calls: C(FilterLogEvents) (paginated, at most O(max_events) events read), one C(GetMetricData) call,
    C(DescribeLoadBalancers), C(DescribeTargetGroups), C(DescribeReplicationGroups), C(DescribeServices),
    C(ListTasks) and C(DescribeTasks), each only when the options name its resource."
  - Every resource is optional, so a partly built stack can still be diagnosed; a named resource that does not
    exist is listed in RV(missing) and in RV(summary) rather than failing the module.
  - Sample lines are redacted (passwords in URLs, tokens, keys and webhook URLs become C(***)).
author:
  - sage-infra developers (!UNKNOWN)
options:
  log_group_name:
    description:
      - The service's log group, for example V(/ecs/sage-backend). No logs are read when not set.
    type: str
  window_minutes:
    description:
      - Length of the time window, in minutes, 1 to 10080 (7 days).
    type: int
    default: 60
  end_time:
    description:
      - End of the window, ISO 8601 (V(2026-11-29T03:00:00Z)) or seconds since the epoch; now when not set.
      - A window in the past diagnoses an incident after the fact.
    type: str
  max_events:
    description:
      - At most this many log events are read (the oldest of the window first); RV(events_truncated) tells
        whether there were more.
    type: int
    default: 10000
  sample_lines:
    description:
      - Sample lines kept per finding, 0 to 50.
    type: int
    default: 5
  thresholds:
    description:
      - Changes to the thresholds, by name, each a number of at least 0.
      - "V(db_connections_percent) (80): C(DatabaseConnections) of O(database.max_connections);
        V(ecs_memory_percent) (90); V(unhealthy_hosts) (0, more fires); V(valkey_memory_percent) (80);
        V(error_rate_percent) (5) in periods of at least V(error_rate_min_requests) (20) requests;
        V(error_lines_per_minute) (30)."
    type: dict
    default: {}
  inventory:
    description:
      - The inventory the suggested commands name.
    type: str
    default: inventories/prod
  ecs:
    description:
      - The ECS service.
    type: dict
    suboptions:
      cluster_name:
        description: The cluster.
        type: str
      service_name:
        description: The service.
        type: str
      task_cpu:
        description: CPU units of a task, for the fixes.
        type: int
      task_memory:
        description: Memory of a task in MiB, for the fixes.
        type: int
      health_check_path:
        description: The path of the load balancer's health check, for the findings.
        type: str
        default: /health
  load_balancer:
    description:
      - The application load balancer in front of the service.
    type: dict
    suboptions:
      name:
        description: Name of the load balancer.
        type: str
      target_group_name:
        description: Name of the service's target group.
        type: str
  database:
    description:
      - The RDS PostgreSQL instance.
    type: dict
    suboptions:
      instance_identifier:
        description: The DB instance identifier.
        type: str
      max_connections:
        description: The C(max_connections) of its parameter group.
        type: int
      connection_limit:
        description: The pool size of each task (C(connection_limit) in C(DATABASE_URL)), for the findings.
        type: int
      app_max_tasks:
        description: The number of tasks the pools are sized for, for the fixes.
        type: int
  cache:
    description:
      - The ElastiCache Valkey replication group.
    type: dict
    suboptions:
      replication_group_id:
        description: The replication group; the metrics of each of its nodes are read.
        type: str
      node_type:
        description: Its node type, for the fixes.
        type: str
notes:
  - GetMetricData is asked once for every metric, in periods of 60 seconds or longer (at most 1440 per
    metric), C(TargetResponseTime) as an average.
  - Stopped tasks are visible in ECS for about an hour after they stop.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Diagnose the last hour
  sage.infra.service_diagnosis_info:
    log_group_name: /ecs/sage-backend
    ecs: {cluster_name: sage-cluster, service_name: sage-backend, task_cpu: 512, task_memory: 1024}
    load_balancer: {name: sage-alb, target_group_name: sage-backend-tg}
    database: {instance_identifier: sage-postgres, max_connections: 100, connection_limit: 20, app_max_tasks: 4}
    cache: {replication_group_id: sage-valkey, node_type: cache.t3.micro}
    inventory: inventories/prod
  register: diagnosis

- name: Report
  ansible.builtin.debug:
    msg: "{{ diagnosis.summary }}"

- name: Last night's incident, from the logs only
  sage.infra.service_diagnosis_info:
    log_group_name: /ecs/sage-backend
    end_time: "2026-11-29T03:00:00Z"
    window_minutes: 120
    thresholds: {error_lines_per_minute: 10}
"""

RETURN = r"""
findings:
  description: The findings, most severe first (V(critical), V(high), V(medium)), then most frequent.
  type: list
  elements: dict
  returned: always
  contains:
    id:
      description: >-
        The signature, one of V(db_connections_exhausted), V(ecs_task_oom), V(alb_health_check_failures),
        V(valkey_oom), V(error_rate_spike).
      type: str
      sample: db_connections_exhausted
    severity:
      description: V(critical), V(high) or V(medium).
      type: str
      sample: critical
    root_cause:
      description: C(issue) (one line) and C(details) (a list of facts).
      type: dict
      sample: {"issue": "Database connection pool exhausted", "details": ["98/100 connections used at the peak (98%)"]}
    evidence:
      description: >-
        C(count) of occurrences (repeats included), C(first) and C(last) time, redacted C(samples), and
        C(metrics), each with its peak, latest value and their times.
      type: dict
      sample: {"count": 48, "first": "2026-11-29T10:30:15Z", "last": "2026-11-29T10:30:16Z",
               "samples": ["ConnectorError(... code \"53300\" ...)"],
               "metrics": {"db_connections": {"peak": 98.0, "latest": 97.0, "max_connections": 100}}}
    immediate_fix:
      description: C(action) (what to do) and C(commands) (with this project's playbooks and variables).
      type: dict
      sample: {"action": "Raise max_connections to 200 through the RDS parameter group ...",
               "commands": ["ansible-playbook site.yml -i inventories/prod --tags network,database
                            -e database_max_connections=200"]}
    long_term_fix:
      description: Lasting solutions.
      type: list
      elements: str
      sample: ["Put a connection pooler between the tasks and PostgreSQL: RDS Proxy, or PgBouncer in transaction mode"]
summary:
  description: The report as lines for people.
  type: list
  elements: str
  returned: always
  sample: ["Diagnosis of 2026-11-29T09:31:00Z to 2026-11-29T10:31:00Z (60 min): 52 log events read, 1 finding(s)"]
window:
  description: >-
    The window diagnosed, C(start) and C(end) (ISO 8601, UTC), C(minutes), and the metrics' C(period_seconds).
  type: dict
  returned: always
  sample: {"start": "2026-11-29T09:31:00Z", "end": "2026-11-29T10:31:00Z", "minutes": 60, "period_seconds": 60}
events_read:
  description: How many log events were read.
  type: int
  returned: always
  sample: 52
events_truncated:
  description: Whether the window held more events than O(max_events) (the later ones were not read).
  type: bool
  returned: always
  sample: false
metrics:
  description: Peak and latest value of each metric that had datapoints in the window.
  type: dict
  returned: always
  sample: {"db_connections": {"peak": 98.0, "peak_at": "2026-11-29T10:30:00Z", "latest": 97.0,
           "latest_at": "2026-11-29T10:31:00Z"}}
missing:
  description: The named resources that were not found (their signals were not diagnosed).
  type: list
  elements: str
  returned: always
  sample: ["log group /ecs/sage-backend"]
"""

import math
from datetime import datetime, timedelta

try:
    import botocore
except ImportError:
    pass  # caught by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.sage.infra.plugins.module_utils import diagnosis

MAX_WINDOW_MINUTES = 7 * 24 * 60
MAX_POINTS_PER_METRIC = 1440
PAGE_SIZE = 10000  # FilterLogEvents returns at most this many events a call


class InvalidOption(Exception):
    """A bad option value; the message names the option."""


def parse_end_time(value):
    if not value:
        return datetime.now(diagnosis.UTC)
    try:
        if value.strip().isdigit():
            return datetime.fromtimestamp(int(value), tz=diagnosis.UTC)
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError) as e:
        raise InvalidOption(f"end_time must be ISO 8601 (2026-11-29T03:00:00Z) or epoch seconds, got {value!r}") from e
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=diagnosis.UTC)


def check_options(params):
    """The options' errors as InvalidOption; returns the merged thresholds."""
    if not 1 <= params["window_minutes"] <= MAX_WINDOW_MINUTES:
        raise InvalidOption(
            f"window_minutes must be 1 to {MAX_WINDOW_MINUTES} (7 days), got {params['window_minutes']}"
        )
    if params["max_events"] < 1:
        raise InvalidOption(f"max_events must be at least 1, got {params['max_events']}")
    if not 0 <= params["sample_lines"] <= 50:
        raise InvalidOption(f"sample_lines must be 0 to 50, got {params['sample_lines']}")
    for group, key in (
        ("database", "max_connections"),
        ("database", "connection_limit"),
        ("database", "app_max_tasks"),
        ("ecs", "task_cpu"),
        ("ecs", "task_memory"),
    ):
        value = (params[group] or {}).get(key)
        if value is not None and value < 1:
            raise InvalidOption(f"{group}.{key} must be at least 1, got {value}")
    try:
        return diagnosis.merged_thresholds(params["thresholds"])
    except diagnosis.InvalidThreshold as e:
        raise InvalidOption(str(e)) from e


def epoch_ms(moment):
    return int(moment.timestamp() * 1000)


class Reader:
    """The AWS reads; a resource that is not there is noted in `missing`."""

    def __init__(self, module, start, end):
        self.module, self.start, self.end = module, start, end
        self.missing = []

    def client(self, service):
        return self.module.client(service, retry_decorator=AWSRetry.jittered_backoff())

    def fail(self, error, what):
        self.module.fail_json_aws(error, msg=f"Failed to read {what}")

    def log_events(self, group, cap):
        """(events oldest first, truncated) of the log group in the window."""
        client, events, token = self.client("logs"), [], None
        while True:
            args = {"logGroupName": group, "startTime": epoch_ms(self.start), "endTime": epoch_ms(self.end)}
            args.update(limit=min(PAGE_SIZE, cap - len(events)), **({"nextToken": token} if token else {}))
            try:
                page = client.filter_log_events(aws_retry=True, **args)
            except is_boto3_error_code("ResourceNotFoundException"):
                self.missing.append(f"log group {group}")
                return [], False
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
                self.fail(e, f"the events of log group {group}")
            events += [
                {"timestamp": e["timestamp"], "message": e.get("message", ""), "source": e.get("logStreamName", "")}
                for e in page.get("events", [])
            ]
            token = page.get("nextToken")
            if not token or len(events) >= cap:
                return sorted(events[:cap], key=lambda e: e["timestamp"]), bool(token)

    def described(self, what, call, not_found, key, **args):
        """The first item of a Describe* answer, None (noted missing) when not found."""
        try:
            items = call(aws_retry=True, **args).get(key) or []
        except is_boto3_error_code(not_found):
            items = []
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            self.fail(e, what)
        if not items:
            self.missing.append(what)
        return items[0] if items else None

    def dimensions(self, params):
        """CloudWatch dimensions per tier, for the resources that exist."""
        ecs, alb, database, cache = (params[k] or {} for k in ("ecs", "load_balancer", "database", "cache"))
        found = {}
        if database.get("instance_identifier"):
            found["database"] = [[{"Name": "DBInstanceIdentifier", "Value": database["instance_identifier"]}]]
        if ecs.get("cluster_name") and ecs.get("service_name"):
            found["service"] = [
                [
                    {"Name": "ClusterName", "Value": ecs["cluster_name"]},
                    {"Name": "ServiceName", "Value": ecs["service_name"]},
                ]
            ]
        elbv2 = self.client("elbv2") if alb.get("name") else None
        balancer = alb.get("name") and self.described(
            f"load balancer {alb['name']}",
            elbv2.describe_load_balancers,
            "LoadBalancerNotFound",
            "LoadBalancers",
            Names=[alb["name"]],
        )
        if balancer:
            found["load_balancer"] = [
                [{"Name": "LoadBalancer", "Value": balancer["LoadBalancerArn"].split(":loadbalancer/")[1]}]
            ]
        group = (
            balancer
            and alb.get("target_group_name")
            and self.described(
                f"target group {alb['target_group_name']}",
                elbv2.describe_target_groups,
                "TargetGroupNotFound",
                "TargetGroups",
                Names=[alb["target_group_name"]],
            )
        )
        if group:
            found["target_group"] = [
                found["load_balancer"][0] + [{"Name": "TargetGroup", "Value": group["TargetGroupArn"].split(":")[-1]}]
            ]
        replication = cache.get("replication_group_id") and self.described(
            f"replication group {cache['replication_group_id']}",
            self.client("elasticache").describe_replication_groups,
            "ReplicationGroupNotFoundFault",
            "ReplicationGroups",
            ReplicationGroupId=cache["replication_group_id"],
        )
        if replication:
            found["cache_node"] = [
                [{"Name": "CacheClusterId", "Value": n}] for n in replication.get("MemberClusters", [])
            ]
        return found

    def metrics(self, dimensions, period):
        """name -> [(epoch ms, value)] of one GetMetricData call (per node names: name.<node id>)."""
        queries, names = [], {}
        for name, (namespace, metric, stat, tier, label) in diagnosis.METRICS.items():
            for index, dims in enumerate(dimensions.get(tier, [])):
                node = dims[0]["Value"] if tier == "cache_node" else None
                query_id = f"{name}_{index}"
                names[query_id] = f"{name}.{node}" if node else name
                queries.append(
                    {
                        "Id": query_id,
                        "Label": label,
                        "MetricStat": {
                            "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims},
                            "Period": period,
                            "Stat": stat,
                        },
                    }
                )
        if not queries:
            return {}
        try:
            answer = self.client("cloudwatch").get_metric_data(
                aws_retry=True,
                MetricDataQueries=queries,
                StartTime=self.start,
                EndTime=self.end,
                ScanBy="TimestampAscending",
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail(e, "the metrics (GetMetricData)")
        series = {}
        for result in answer.get("MetricDataResults", []):
            points = sorted(
                (epoch_ms(t), float(v))
                for t, v in zip(result.get("Timestamps", []), result.get("Values", []), strict=True)
                if v is not None
            )
            if points:
                series[names[result["Id"]]] = points
        return series

    def ecs_events(self, cluster, service):
        """The service's events and stopped tasks in the window, as log events (source: ecs)."""
        client = self.client("ecs")
        found = self.described(
            f"ECS service {service} in cluster {cluster}",
            client.describe_services,
            "ClusterNotFoundException",
            "services",
            cluster=cluster,
            services=[service],
        )
        if not found or found.get("status") == "INACTIVE":
            return []
        lines = [
            {"timestamp": epoch_ms(e["createdAt"]), "message": e.get("message", ""), "source": "ecs service events"}
            for e in found.get("events", [])
            if self.start <= e["createdAt"] <= self.end
        ]
        try:
            arns = [
                arn
                for page in client.get_paginator("list_tasks").paginate(
                    cluster=cluster, serviceName=service, desiredStatus="STOPPED"
                )
                for arn in page.get("taskArns", [])
            ]
            tasks = [
                task
                for chunk in range(0, len(arns), 100)
                for task in client.describe_tasks(aws_retry=True, cluster=cluster, tasks=arns[chunk : chunk + 100])[
                    "tasks"
                ]
            ]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail(e, f"the stopped tasks of ECS service {service}")
        for task in tasks:
            stopped = task.get("stoppedAt") or self.end
            if task.get("group", f"service:{service}") != f"service:{service}" or not self.start <= stopped <= self.end:
                continue
            containers = "; ".join(
                f"container {c.get('name')} exit code {c.get('exitCode')}"
                + (f": {c['reason']}" if c.get("reason") else "")
                for c in task.get("containers", [])
            )
            lines.append(
                {
                    "timestamp": epoch_ms(stopped),
                    "message": f"task {task['taskArn'].rsplit('/', 1)[-1]} stopped: {task.get('stoppedReason', '')} "
                    f"(stop code {task.get('stopCode', '?')}; {containers})",
                    "source": "ecs stopped tasks",
                }
            )
        return lines


def main():
    argument_spec = {
        "log_group_name": {"type": "str"},
        "window_minutes": {"type": "int", "default": 60},
        "end_time": {"type": "str"},
        "max_events": {"type": "int", "default": 10000},
        "sample_lines": {"type": "int", "default": 5},
        "thresholds": {"type": "dict", "default": {}},
        "inventory": {"type": "str", "default": "inventories/prod"},
        "ecs": {
            "type": "dict",
            "options": {
                "cluster_name": {"type": "str"},
                "service_name": {"type": "str"},
                "task_cpu": {"type": "int"},
                "task_memory": {"type": "int"},
                "health_check_path": {"type": "str", "default": "/health"},
            },
        },
        "load_balancer": {
            "type": "dict",
            "options": {"name": {"type": "str"}, "target_group_name": {"type": "str"}},
        },
        "database": {
            "type": "dict",
            "options": {
                "instance_identifier": {"type": "str"},
                "max_connections": {"type": "int"},
                "connection_limit": {"type": "int"},
                "app_max_tasks": {"type": "int"},
            },
        },
        "cache": {
            "type": "dict",
            "options": {"replication_group_id": {"type": "str"}, "node_type": {"type": "str"}},
        },
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    try:
        thresholds = check_options(params)
        end = parse_end_time(params["end_time"]).replace(microsecond=0)
    except InvalidOption as e:
        module.fail_json(msg=str(e))
    start = end - timedelta(minutes=params["window_minutes"])
    period = max(60, math.ceil(params["window_minutes"] / MAX_POINTS_PER_METRIC) * 60)
    reader = Reader(module, start, end)

    events, truncated = [], False
    if params["log_group_name"]:
        events, truncated = reader.log_events(params["log_group_name"], params["max_events"])
    events_read = len(events)
    ecs, alb, database, cache = (params[k] or {} for k in ("ecs", "load_balancer", "database", "cache"))
    if ecs.get("cluster_name") and ecs.get("service_name"):
        events = sorted(
            events + reader.ecs_events(ecs["cluster_name"], ecs["service_name"]), key=lambda e: e["timestamp"]
        )
    series = reader.metrics(reader.dimensions(params), period)

    stack = {
        "inventory": params["inventory"],
        **{k: ecs.get(k) for k in ("cluster_name", "service_name", "task_cpu", "task_memory", "health_check_path")},
        "target_group_name": alb.get("target_group_name"),
        "db_instance_identifier": database.get("instance_identifier"),
        **{k: database.get(k) for k in ("max_connections", "connection_limit", "app_max_tasks")},
        **{k: cache.get(k) for k in ("replication_group_id", "node_type")},
    }
    findings = diagnosis.diagnose(events, series, stack, thresholds, params["sample_lines"])
    window = {
        "start": diagnosis.iso(epoch_ms(start)),
        "end": diagnosis.iso(epoch_ms(end)),
        "minutes": params["window_minutes"],
        "period_seconds": period,
    }
    module.exit_json(
        changed=False,
        findings=findings,
        summary=diagnosis.summary_lines(findings, window, events_read, truncated, reader.missing),
        window=window,
        events_read=events_read,
        events_truncated=truncated,
        metrics={name: values for name in diagnosis.METRICS if (values := diagnosis.peak(series, name))},
        missing=reader.missing,
    )


if __name__ == "__main__":
    main()

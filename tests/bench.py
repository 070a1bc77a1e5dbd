"""`make bench`: what a user waits for and what it costs in AWS API calls, on the local emulator.

Figures: where a task's time goes (controller, running a module, importing boto3, the API call); wall time
of plan.yml on an empty account and on the converged stack, a full converge of site.yml from empty, a no-op
re-run and a check-mode run (--check --diff); AWS API calls each makes (counted at the emulator), mutating ones,
per managed resource, per action and per task; module runs; the slowest tasks.

SAGE_BENCH_BASELINE=<git ref> measures that commit's playbooks too, back to back with these (each on its own
emulator, run for run alternately), for a before/after of one machine at one hour.
SAGE_BENCH_TASKS=<file> writes every task of the no-op re-run there, with its seconds and calls.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.harness import emulator as emulator_harness
from tests.harness.ecr import push_image
from tests.harness.playbook import ROOT, run_playbook

# A callback that notes when each task starts, on the clock the emulator stamps each call with (the machine's
# monotonic clock): a call that starts between two marks is the task's (localhost runs one task at a time; the
# calls of a background job, the cache's creation or update, count to the tasks that run meanwhile). It asks the
# emulator nothing while the playbook runs, so the wall times measured are those of the playbook alone.
RECORDER = """
import json, os, time
from ansible.plugins.callback import CallbackBase

# Actions that Ansible carries out in its own process: every other task that is not skipped runs a module.
IN_ANSIBLE = {"set_fact", "debug", "assert", "fail", "include_tasks", "include_role", "include_vars",
              "validate_argument_spec", "meta", "set_stats", "add_host", "group_by", "pause"}

class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "sage_bench"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.marks = []
        self.module_tasks = []

    def mark(self, name):
        self.marks.append([name, time.monotonic()])

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.mark(task.get_name())

    def ran(self, result):
        if result._task.action.rsplit(".", 1)[-1] not in IN_ANSIBLE and len(self.marks) - 1 not in self.module_tasks:
            self.module_tasks.append(len(self.marks) - 1)

    v2_runner_on_ok = v2_runner_on_failed = ran

    def v2_playbook_on_stats(self, stats):
        self.mark("(end)")
        with open(os.environ["SAGE_BENCH_MARKS"], "w") as out:
            json.dump({"marks": self.marks, "module_tasks": self.module_tasks}, out)
"""

# Twenty runs each of: a task that runs no module; the smallest module; an AWS module making one call.
OVERHEAD_PLAYBOOK = """
- name: Per-task overhead
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/sage.infra.aws: "{{ sage_aws_connection }}"
  tasks:
    - name: controller
      ansible.builtin.debug: {msg: "{{ item }}"}
      loop: "{{ range(20) | list }}"
    - name: module
      ansible.builtin.ping:
      loop: "{{ range(20) | list }}"
    - name: aws
      sage.infra.cloudwatch_metric_alarm: {name: sage-bench-none, state: absent}
      loop: "{{ range(20) | list }}"
"""


aws_client = emulator_harness.client


def managed_resources(endpoint: str) -> dict[str, int]:
    def client(service):
        return aws_client(endpoint, service)

    ec2 = client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["sage-vpc"]}])["Vpcs"]
    in_vpc = [{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}]
    return {
        "vpc": len(vpcs),
        "subnets": len(ec2.describe_subnets(Filters=in_vpc)["Subnets"]),
        "internet gateway": len(
            ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpcs[0]["VpcId"]]}])[
                "InternetGateways"
            ]
        ),
        "NAT gateways": len(ec2.describe_nat_gateways(Filters=in_vpc)["NatGateways"]),
        "Elastic IPs": len(ec2.describe_addresses()["Addresses"]),
        "route tables": len(
            ec2.describe_route_tables(Filters=[*in_vpc, {"Name": "tag-key", "Values": ["Tier"]}])["RouteTables"]
        ),
        "VPC endpoints": len(ec2.describe_vpc_endpoints(Filters=in_vpc)["VpcEndpoints"]),
        "security groups": len(ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"]),
        "flow logs": len(ec2.describe_flow_logs()["FlowLogs"]),
        "log groups": sum(
            len(client("logs").describe_log_groups(logGroupNamePrefix=prefix)["logGroups"])
            for prefix in ("/aws/vpc/sage", "/ecs/sage", "/aws/lambda/sage")
        ),
        "IAM roles + inline policies": sum(
            1 + len(client("iam").list_role_policies(RoleName=r["RoleName"])["PolicyNames"])
            for r in client("iam").list_roles()["Roles"]
            if r["RoleName"].startswith("sage-")
        ),
        "secrets": len(client("secretsmanager").list_secrets()["SecretList"]),
        "RDS instance + parameter group + subnet group": len(client("rds").describe_db_instances()["DBInstances"])
        + len(
            [
                g
                for g in client("rds").describe_db_parameter_groups()["DBParameterGroups"]
                if g["DBParameterGroupName"].startswith("sage")
            ]
        )
        + len(client("rds").describe_db_subnet_groups()["DBSubnetGroups"]),
        "Valkey group + subnet group": len(client("elasticache").describe_replication_groups()["ReplicationGroups"])
        + len(
            [
                g
                for g in client("elasticache").describe_cache_subnet_groups()["CacheSubnetGroups"]
                if g["CacheSubnetGroupName"].startswith("sage")
            ]
        ),
        **compute_resources(client),
        **monitoring_resources(client),
    }


def compute_resources(client) -> dict[str, int]:
    elbv2, ecs = client("elbv2"), client("ecs")
    albs = elbv2.describe_load_balancers(Names=["sage-alb"])["LoadBalancers"]
    scaling = client("application-autoscaling")
    return {
        "ECR repository": len(client("ecr").describe_repositories()["repositories"]),
        "ALB + listeners + target group": len(albs)
        + len(elbv2.describe_listeners(LoadBalancerArn=albs[0]["LoadBalancerArn"])["Listeners"])
        + len(elbv2.describe_target_groups(Names=["sage-backend-tg"])["TargetGroups"]),
        "ECS cluster + task definition + service": len(ecs.list_clusters()["clusterArns"])
        + len(ecs.list_task_definitions(familyPrefix="sage-backend", status="ACTIVE")["taskDefinitionArns"])
        + len(ecs.list_services(cluster="sage-cluster")["serviceArns"]),
        "scalable target + policy": len(scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"])
        + len(scaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]),
    }


def timed(emulator, *args, playbook="site.yml", env=None, cwd=ROOT):
    """(wall seconds, the run, the calls, [(task, seconds, its calls)], the indexes of the tasks that ran a module)
    of one ansible-playbook run."""
    emulator.reset_calls()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "sage_bench.py").write_text(RECORDER)
        marks_file = Path(tmp, "marks.json")
        recorder = {
            "ANSIBLE_CALLBACK_PLUGINS": tmp,
            "ANSIBLE_CALLBACKS_ENABLED": "sage_bench",
            "SAGE_BENCH_MARKS": str(marks_file),
        }
        start = time.monotonic()
        run = run_playbook(playbook, emulator.endpoint, *args, env={**recorder, **(env or {})}, cwd=cwd).assert_ok()
        wall = time.monotonic() - start
        recorded = json.loads(marks_file.read_text())
    marks = recorded["marks"]
    calls = emulator.calls()
    tasks = [
        (name, end - begin, [call for call in calls if begin <= call["start"] < end])
        for (name, begin), (_, end) in itertools.pairwise(marks)
    ]
    return wall, run, calls, tasks, recorded["module_tasks"]


def command_seconds(*command: str) -> float:
    """Median wall time of five runs of a command."""
    times = []
    for _ in range(5):
        start = time.monotonic()
        subprocess.run(command, check=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT / "collections")))
        times.append(time.monotonic() - start)
    return statistics.median(times)


def overhead(emulator) -> None:
    """Where the time of one task goes: per task, from 20 runs of each kind."""
    with tempfile.TemporaryDirectory() as tmp:
        playbook = Path(tmp, "overhead.yml")
        playbook.write_text(OVERHEAD_PLAYBOOK)
        _, _, _, tasks, _ = timed(emulator, playbook=str(playbook))
    per_task = {name: seconds / 20 for name, seconds, _ in tasks}
    cloudwatch = aws_client(emulator.endpoint, "cloudwatch")
    cloudwatch.describe_alarms(AlarmNames=["sage-bench-none"])
    start = time.monotonic()
    for _ in range(20):
        cloudwatch.describe_alarms(AlarmNames=["sage-bench-none"])
    api = (time.monotonic() - start) / 20
    python = sys.executable
    start_up = command_seconds(python, "-c", "pass")
    basic = command_seconds(python, "-c", "import ansible.module_utils.basic")
    aws = command_seconds(
        python,
        "-c",
        "import ansible_collections.amazon.aws.plugins.module_utils.modules, boto3; boto3.client('cloudwatch', "
        "region_name='us-west-2')",
    )
    print("one task, per task (20 of each):")
    print(f"  {per_task['controller']:6.3f} s  a task that runs no module (debug): templating, callbacks")
    print(f"  {per_task['module']:6.3f} s  the smallest module (ping): + worker fork, AnsiballZ, tmp dir, interpreter")
    print(f"  {per_task['aws']:6.3f} s  an AWS module making one API call: + boto3, amazon.aws, client, the call")
    print("of which, measured alone:")
    print(f"  {start_up:6.3f} s  Python start-up")
    print(f"  {basic - start_up:6.3f} s  importing ansible.module_utils.basic (from site-packages, compiled)")
    print(f"  {aws - basic:6.3f} s  importing boto3 and amazon.aws module_utils, creating a client")
    print(f"  {api:6.3f} s  one DescribeAlarms call to the emulator from a warm client\n")


def monitoring_resources(client) -> dict[str, int]:
    cloudwatch, sns = client("cloudwatch"), client("sns")
    topics = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    return {
        "alarms": len(cloudwatch.describe_alarms(AlarmNamePrefix="sage-")["MetricAlarms"]),
        "dashboard": len(cloudwatch.list_dashboards(DashboardNamePrefix="sage-")["DashboardEntries"]),
        "SNS topic + subscription": len(topics)
        + sum(len(sns.list_subscriptions_by_topic(TopicArn=t)["Subscriptions"]) for t in topics),
        "Lambda + permission + DLQ": len(client("lambda").list_functions()["Functions"])
        + len(client("sqs").list_queues().get("QueueUrls", []))
        + sum(
            len(json.loads(client("lambda").get_policy(FunctionName=f["FunctionName"])["Policy"])["Statement"])
            for f in client("lambda").list_functions()["Functions"]
        ),
        "backup bucket": len([b for b in client("s3").list_buckets()["Buckets"] if b["Name"].startswith("sage-")]),
    }


# Runs of each kind on the converged stack; each figure is the median one.
REPEATS = 5


@dataclasses.dataclass
class Figures:
    """One measured ansible-playbook run."""

    wall: float
    run: object
    calls: list
    tasks: list
    module_tasks: list

    @property
    def mutating(self) -> int:
        return sum(emulator_harness.is_mutating(call["action"]) for call in self.calls)

    @property
    def module_runs(self) -> list:
        """The tasks that ran a module (a worker process and an interpreter each), not only templates."""
        return [self.tasks[index] for index in self.module_tasks]

    def line(self, label: str, resources: int) -> str:
        return (
            f"{label:44} {self.wall:6.1f} s  {len(self.calls):4d} API calls ({len(self.calls) / resources:.1f} per "
            f"resource, {self.mutating} mutating)  {len(self.module_runs):2d} module runs  changed={self.run.changed}"
        )


def measure(emulator, *args, playbook="site.yml", cwd=ROOT) -> Figures:
    return Figures(*timed(emulator, *args, playbook=playbook, cwd=cwd))


def created_by(calls) -> int:
    """Resources a converge created, from its call record (one per call that creates a resource of the plan)."""
    return sum(1 for call in calls if emulator_harness.creates_a_resource(call))


def plan_counts(run) -> dict[str, int]:
    match = re.search(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy", run.output)
    assert match, run.output[-3000:]
    return dict(zip(("add", "change", "destroy"), map(int, match.groups()), strict=True))


@contextlib.contextmanager
def baseline_tree(ref: str):
    """A worktree of the given commit, removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp, "baseline")
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), ref], cwd=ROOT, check=True, capture_output=True
        )
        try:
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)


def seeded_emulator(stack: contextlib.ExitStack):
    """A new emulator as in an account where CI has pushed the backend image: the service starts its task."""
    emulator = stack.enter_context(emulator_harness.running())
    ecr = aws_client(emulator.endpoint, "ecr")
    ecr.create_repository(repositoryName="sage-backend")
    push_image(ecr, "sage-backend", "latest")
    return emulator


def main() -> None:
    print(
        f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; site.yml on inventories/local; plan, no-op "
        f"and check: the median of {REPEATS} runs\n"
    )
    baseline_ref = os.environ.get("SAGE_BENCH_BASELINE")
    with contextlib.ExitStack() as stack:
        emulator = seeded_emulator(stack)
        overhead(emulator)
        trees = {"now": ROOT}
        emulators = {"now": emulator}
        if baseline_ref:
            trees["before"] = stack.enter_context(baseline_tree(baseline_ref))
            emulators["before"] = seeded_emulator(stack)
        figures = {label: {} for label in trees}
        empty_plan = measure(emulator, playbook="playbooks/plan.yml")
        for label, tree in trees.items():
            figures[label]["converge"] = measure(emulators[label], cwd=tree)
        # Each round runs each kind on each tree in turn, so that all see the machine at about the same moment
        # (its speed moves by the minute); each figure is the run of median wall time of REPEATS rounds.
        kinds = (
            ("no-op", (), "site.yml"),
            ("check", ("--check", "--diff"), "site.yml"),
            ("plan", (), "playbooks/plan.yml"),
        )
        runs = {
            (what, label): []
            for what, _, playbook in kinds
            for label, tree in trees.items()
            if (tree / playbook).exists()
        }
        for _ in range(REPEATS):
            for what, args, playbook in kinds:
                for label in trees:
                    if (what, label) in runs:
                        runs[what, label].append(measure(emulators[label], *args, playbook=playbook, cwd=trees[label]))
        for (what, label), measured in runs.items():
            figures[label][what] = sorted(measured, key=lambda run: run.wall)[len(measured) // 2]
        resources = managed_resources(emulator.endpoint)

    total = sum(resources.values())
    print(f"managed resources: {total} ({', '.join(f'{k} {v}' for k, v in resources.items())})\n")
    labels = {
        "plan": "plan.yml on the converged stack",
        "no-op": "site.yml with nothing to do",
        "check": "site.yml --check --diff, converged",
        "converge": "site.yml: full converge from empty",
    }
    for what, label in labels.items():
        for tree in trees:
            if what in figures[tree]:
                print(figures[tree][what].line(f"{label} [{tree}]" if baseline_ref else label, total))
    created = created_by(figures["now"]["converge"].calls)
    counts = plan_counts(empty_plan.run)
    print(
        f"{'plan.yml on an empty account':44} {empty_plan.wall:6.1f} s  {len(empty_plan.calls):4d} API calls "
        f"({empty_plan.mutating} mutating): {counts['add']} to add; the converge then created {created}"
    )
    noop = figures["now"]["no-op"]
    recap = noop.run.recap
    print(f"\nno-op re-run: {len(noop.tasks)} tasks started (ok={recap['ok']} skipped={recap['skipped']})")
    module_seconds = sum(seconds for _, seconds, _ in noop.module_runs)
    other = sum(seconds for _, seconds, _ in noop.tasks) - module_seconds
    print(
        f"no-op re-run: {len(noop.module_runs)} tasks ran a module and took "
        f"{module_seconds:.1f} s, the other {len(noop.tasks) - len(noop.module_runs)} {other:.1f} s"
    )
    if os.environ.get("SAGE_BENCH_TASKS"):
        Path(os.environ["SAGE_BENCH_TASKS"]).write_text(
            "".join(f"{seconds:6.2f} s {len(calls):3d} {name}\n" for name, seconds, calls in noop.tasks)
        )
    print("\nno-op re-run, calls by service and action (the 15 most made):")
    by_action = collections.Counter((c["service"], c["action"]) for c in noop.calls)
    for (service, action), count in by_action.most_common(15):
        print(f"  {count:4d}  {service:16} {action}")
    print("\nno-op re-run, the slowest tasks (seconds, API calls):")
    for name, seconds, calls in sorted(noop.tasks, key=lambda task: -task[1])[:12]:
        print(f"  {seconds:5.2f} s  {len(calls):3d}  {name}")
    print("\nplan.yml on the converged stack, its module runs (seconds, API calls):")
    for name, seconds, calls in figures["now"]["plan"].module_runs:
        print(f"  {seconds:5.2f} s  {len(calls):3d}  {name}")


if __name__ == "__main__":
    main()

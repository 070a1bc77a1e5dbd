"""`make bench`: what a user waits for and what it costs in AWS API calls, on the local emulator.

Figures: wall time of a full converge of site.yml from empty, of a no-op re-run and of a check-mode
run; AWS API calls each makes (counted at the emulator) and per managed resource; the slowest tasks.
"""

from __future__ import annotations

import collections
import json
import os
import re
import time

import boto3

from tests.harness import emulator as emulator_harness
from tests.harness.ecr import push_image
from tests.harness.playbook import run_playbook

PROFILE_LINE = re.compile(r"^(?P<task>.+?) -+ (?P<seconds>\d+\.\d+)s$", re.MULTILINE)


def aws_client(endpoint: str, service: str):
    return boto3.client(
        service,
        region_name="us-west-2",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


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


def timed(emulator, *args):
    emulator.reset_calls()
    start = time.monotonic()
    run = run_playbook(
        "site.yml", emulator.endpoint, *args, env={"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks"}
    ).assert_ok()
    return time.monotonic() - start, run, emulator.calls()


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


def main() -> None:
    print(f"machine: {os.cpu_count()} cores; site.yml on inventories/local against the AWS emulator\n")
    with emulator_harness.running() as emulator:
        # As in an account where CI has pushed the backend image: the service starts its task.
        ecr = aws_client(emulator.endpoint, "ecr")
        ecr.create_repository(repositoryName="sage-backend")
        push_image(ecr, "sage-backend", "latest")
        converge_s, _, converge_calls = timed(emulator)
        noop_s, noop, noop_calls = timed(emulator)
        check_s, _, check_calls = timed(emulator, "--check")
        resources = managed_resources(emulator.endpoint)

    total = sum(resources.values())
    print(f"{'full converge from empty':32} {converge_s:6.1f} s  {len(converge_calls):4d} API calls")
    print(f"{'no-op re-run':32} {noop_s:6.1f} s  {len(noop_calls):4d} API calls  changed={noop.changed}")
    print(
        f"{'check mode on the converged stack':32} {check_s:6.1f} s  {len(check_calls):4d} API calls  "
        f"mutating={sum(emulator_harness.is_mutating(c['action']) for c in check_calls)}"
    )
    print(f"\nmanaged resources: {total} ({', '.join(f'{k} {v}' for k, v in resources.items())})")
    print(f"no-op re-run: {len(noop_calls) / total:.1f} API calls per managed resource (goal: <= 2)")
    print("\nno-op re-run, calls by action:")
    for action, count in collections.Counter(c["action"] for c in noop_calls).most_common(8):
        print(f"  {count:4d}  {action}")
    tasks = sorted(((float(m["seconds"]), m["task"].strip()) for m in PROFILE_LINE.finditer(noop.output)), reverse=True)
    print(f"\nno-op re-run, {len(tasks)} timed tasks, slowest:")
    for seconds, task in tasks[:8]:
        print(f"  {seconds:5.2f} s  {task}")


if __name__ == "__main__":
    main()

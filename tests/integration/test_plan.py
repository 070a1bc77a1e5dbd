"""plan.yml on the converged stack: nothing to do, read in one module run; drift made by hand (what a person does in
the console) named by the plan, resource and attribute, repaired by site.yml and by nothing else; the JSON file and
the Discord summary, without a secret."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from tests.harness import discord_server
from tests.harness.playbook import run_playbook

SUMMARY = re.compile(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy")


def plan(emulator, tmp_path, *args, **extra_vars):
    """(the run, the JSON plan) of plan.yml."""
    plan_file = tmp_path / "plan.json"
    run = run_playbook(
        "playbooks/plan.yml", emulator.endpoint, *args, extra_vars={"plan_file": str(plan_file), **extra_vars}
    ).assert_ok()
    return run, json.loads(plan_file.read_text())


def differing(document) -> dict[tuple[str, str], dict]:
    return {(e["kind"], e["name"]): e for e in document["resources"] if e["action"] != "unchanged"}


def generated_secret_values(aws) -> list[str]:
    manager = aws("secretsmanager")
    values = []
    for secret in manager.list_secrets()["SecretList"]:
        try:
            value = manager.get_secret_value(SecretId=secret["ARN"])["SecretString"]
        except manager.exceptions.ResourceNotFoundException:
            continue
        values.append(value)
        if value.startswith("{"):
            values += [str(v) for v in json.loads(value).values() if len(str(v)) >= 12]
    return [value for value in values if len(value) >= 12]


def test_a_converged_stack_has_nothing_to_plan_and_is_read_without_a_write(converged, emulator, aws, tmp_path):
    emulator.reset_calls()
    run, document = plan(emulator, tmp_path)
    assert SUMMARY.search(run.output).groups() == ("0", "0", "0"), run.output[-4000:]
    assert run.changed == 0
    assert emulator.mutating_calls() == []
    assert document["summary"]["differs"] is False
    assert differing(document) == {}
    kinds = {entry["kind"] for entry in document["resources"]}
    assert kinds >= {"vpc", "subnet", "route_table", "security_group", "iam_role", "log_group"}
    assert document["read_errors"] == {}
    for value in generated_secret_values(aws):
        assert value not in run.output and value not in json.dumps(document)


@dataclass
class Drift:
    """A change made by hand, and what the plan must say of it (an update of that attribute, or a creation)."""

    kind: str
    name: str
    attribute: str | None
    make: Callable


def open_rds_to_the_world(aws):
    ec2 = aws("ec2")
    (group,) = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["sage-rds-sg"]}])[
        "SecurityGroups"
    ]
    ec2.authorize_security_group_ingress(
        GroupId=group["GroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )


def remove_the_private_default_route(aws):
    ec2 = aws("ec2")
    (table,) = ec2.describe_route_tables(Filters=[{"Name": "tag:Name", "Values": ["sage-private-rt-1"]}])["RouteTables"]
    ec2.delete_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0")


def grant_the_execution_role_every_secret(aws):
    aws("iam").put_role_policy(
        RoleName="sage-ecs-task-execution",
        PolicyName="added-by-hand",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]}
        ),
    )


def shorten_the_flow_log_retention(aws):
    aws("logs").put_retention_policy(logGroupName="/aws/vpc/sage-flow-logs", retentionInDays=3)


def raise_an_alarm_threshold(aws):
    cloudwatch = aws("cloudwatch")
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["sage-backend-cpu-high"])["MetricAlarms"]
    settable = (
        "AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions",
        "MetricName", "Namespace", "Statistic", "Dimensions", "Period", "EvaluationPeriods", "DatapointsToAlarm",
        "ComparisonOperator", "TreatMissingData",
    )  # fmt: skip
    cloudwatch.put_metric_alarm(**{key: alarm[key] for key in settable if key in alarm}, Threshold=99.0)


def delete_an_alarm(aws):
    aws("cloudwatch").delete_alarms(AlarmNames=["sage-rds-cpu-high"])


def suspend_bucket_versioning_and_drop_its_public_access_block(aws):
    s3 = aws("s3")
    s3.put_bucket_versioning(Bucket="sage-backups", VersioningConfiguration={"Status": "Suspended"})
    s3.delete_public_access_block(Bucket="sage-backups")


def change_the_lambda_environment(aws):
    function = aws("lambda")
    variables = function.get_function_configuration(FunctionName="sage-discord-alert")["Environment"]["Variables"]
    function.update_function_configuration(
        FunctionName="sage-discord-alert", Environment={"Variables": {**variables, "LOG_LEVEL": "DEBUG"}}
    )


def unsubscribe_the_lambda(aws):
    sns = aws("sns")
    (topic,) = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":sage-alerts")]
    for subscription in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]:
        if subscription["Protocol"] == "lambda":
            sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])


def move_the_health_check(aws):
    elbv2 = aws("elbv2")
    (group,) = elbv2.describe_target_groups(Names=["sage-backend-tg"])["TargetGroups"]
    elbv2.modify_target_group(TargetGroupArn=group["TargetGroupArn"], HealthCheckPath="/")


def delete_the_http_listener(aws):
    elbv2 = aws("elbv2")
    (alb,) = elbv2.describe_load_balancers(Names=["sage-alb"])["LoadBalancers"]
    for listener in elbv2.describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])["Listeners"]:
        if listener["Port"] == 80:
            elbv2.delete_listener(ListenerArn=listener["ListenerArn"])


def expose_the_database(aws):
    aws("rds").modify_db_instance(
        DBInstanceIdentifier="sage-postgres", BackupRetentionPeriod=1, PubliclyAccessible=True, ApplyImmediately=True
    )


def stop_scanning_images(aws):
    aws("ecr").put_image_scanning_configuration(
        repositoryName="sage-backend", imageScanningConfiguration={"scanOnPush": False}
    )


# Every kind of drift the issue names, made at once: the plan must name exactly these, site.yml repair exactly these.
DRIFTS = [
    Drift("security_group", "sage-rds-sg", "ingress", open_rds_to_the_world),
    Drift("route_table", "sage-private-rt-1", "routes", remove_the_private_default_route),
    Drift("iam_role", "sage-ecs-task-execution", "inline_policies", grant_the_execution_role_every_secret),
    Drift("log_group", "/aws/vpc/sage-flow-logs", "retention", shorten_the_flow_log_retention),
    Drift("alarm", "sage-backend-cpu-high", "threshold", raise_an_alarm_threshold),
    Drift("alarm", "sage-rds-cpu-high", None, delete_an_alarm),
    Drift("s3_bucket", "sage-backups", "versioning", suspend_bucket_versioning_and_drop_its_public_access_block),
    Drift("s3_bucket", "sage-backups", "public_access", lambda aws: None),
    Drift("lambda_function", "sage-discord-alert", "environment", change_the_lambda_environment),
    Drift("sns_topic", "sage-alerts", "subscriptions", unsubscribe_the_lambda),
    Drift("target_group", "sage-backend-tg", "health_check_path", move_the_health_check),
    Drift("load_balancer", "sage-alb", "listeners", delete_the_http_listener),
    Drift("db_instance", "sage-postgres", "backup_retention_period", expose_the_database),
    Drift("db_instance", "sage-postgres", "publicly_accessible", lambda aws: None),
    Drift("ecr_repository", "sage-backend", "scan_on_push", stop_scanning_images),
]
DRIFTED = {(drift.kind, drift.name) for drift in DRIFTS}
REPAIRED_BY = {
    "network : Route tables missing or not as planned",
    "network : Security groups missing or not as planned",
    "network : Flow log group with retention",
    "private_bucket : Bucket (private, encrypted, versioned, its policy)",
    "database : The PostgreSQL instance (creation or modification started, awaited in wait.yml)",
    "ecs : ECR repository (scan on push, encrypted, keeps the newest images)",
    # community.aws.ecs_ecr knows no tag excepted from immutability: it sets IMMUTABLE, and this puts latest back.
    "ecs : ECR tag mutability with the tags excepted (ecs_repository_mutable_tags)",
    "ecs : Inline policies the stack did not put on the roles are removed",
    "ecs : Target group (ip targets on the container port, health check on the app's health path)",
    "ecs : Application load balancer in the public subnets",
    "monitoring : The Lambda (updated only when the package or its settings change)",
    "monitoring : Alert topic, delivering to the Lambda",
    "monitoring : Alarms for the resources of this play (disabled ones removed)",
}


def changed_tasks(output: str) -> set[str]:
    """The names of the tasks that reported a change."""
    names, task = set(), None
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK [") : line.rindex("]")]
        elif line.startswith("changed:"):
            names.add(task)
    return names


def test_drift_is_named_by_the_plan_and_repaired_by_site_yml_alone(converged, emulator, aws, tmp_path):
    for drift in DRIFTS:
        drift.make(aws)
    run, document = plan(emulator, tmp_path)
    found = differing(document)
    assert set(found) == DRIFTED, run.output[-5000:]
    for drift in DRIFTS:
        entry = found[(drift.kind, drift.name)]
        if drift.attribute is None:
            assert entry["action"] == "create", entry
        else:
            assert entry["action"] == "update", entry
            assert drift.attribute in [change["attribute"] for change in entry["changes"]], entry
    creations = sum(1 for drift in DRIFTS if drift.attribute is None)
    assert SUMMARY.search(run.output).groups() == (str(creations), str(len(DRIFTED) - creations), "0")

    emulator.reset_calls()
    repair = run_playbook("site.yml", emulator.endpoint).assert_ok()
    # One module run repairs each drifted resource, and no other module changes anything.
    assert changed_tasks(repair.output) == REPAIRED_BY, repair.output[-5000:]
    assert run_playbook("site.yml", emulator.endpoint).assert_ok().changed == 0
    run, document = plan(emulator, tmp_path)
    assert differing(document) == {}, run.output[-4000:]
    policies = aws("iam").list_role_policies(RoleName="sage-ecs-task-execution")["PolicyNames"]
    assert "added-by-hand" not in policies


def test_the_drift_check_posts_to_discord_only_when_something_differs(converged, emulator, aws, tmp_path):
    """The notice goes to the webhook a secret holds: a secret of this test's, so that the stack's own webhook
    secrets keep what they hold (no value: the vault gave none)."""
    secrets = aws("secretsmanager")
    with discord_server.running() as server:
        url = server.create_webhook()
        webhook = url.rsplit("/", 2)[1]
        secrets.create_secret(Name="sage-test/plan-webhook", SecretString=url)
        notify = {
            "plan_notify": True,
            "plan_notify_webhook_secret": "sage-test/plan-webhook",
            "plan_notify_allow_insecure_url": True,
        }
        try:
            plan(emulator, tmp_path, **notify)
            assert server.messages(webhook) == [], "nothing differs: nothing is posted"

            shorten_the_flow_log_retention(aws)
            run, _ = plan(emulator, tmp_path, "-vvv", **notify)
            (message,) = server.messages(webhook)
        finally:
            secrets.delete_secret(SecretId="sage-test/plan-webhook", ForceDeleteWithoutRecovery=True)
    embed = message["embeds"][0]
    assert "differs from its definition" in embed["title"]
    assert "/aws/vpc/sage-flow-logs" in embed["description"] and "retention" in embed["description"]
    assert embed["fields"][0]["value"] == "Plan: 0 to add, 1 to change, 0 to destroy"
    assert server.token(webhook) not in run.output
    run_playbook("site.yml", emulator.endpoint).assert_ok()

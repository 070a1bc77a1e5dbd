"""The monitoring site.yml leaves on the emulator: alarms, the alert topic, the Discord Lambda, the dashboard."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.harness import discord_server
from tests.harness.playbook import run_playbook

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "sage-alerts"
FUNCTION = "sage-discord-alert"
ALARMS = {
    "sage-backend-cpu-high": "performance",
    "sage-backend-tasks-below-desired": "errors",
    "sage-api-error-rate-high": "errors",
    "sage-api-latency-p95-high": "performance",
    "sage-alb-unhealthy-hosts": "errors",
    "sage-rds-cpu-high": "performance",
    "sage-rds-connections-high": "errors",
    "sage-rds-free-storage-low": "errors",
    "sage-valkey-memory-high": "performance",
    "sage-valkey-cpu-high": "performance",
}


def topic_arn(aws):
    arns = [t["TopicArn"] for t in aws("sns").list_topics()["Topics"] if t["TopicArn"].endswith(f":{TOPIC}")]
    assert len(arns) == 1, arns
    return arns[0]


def alarms(aws, *names):
    found = aws("cloudwatch").describe_alarms(AlarmNames=list(names or ALARMS))["MetricAlarms"]
    return {alarm["AlarmName"]: alarm for alarm in found}


def function(aws):
    return aws("lambda").get_function(FunctionName=FUNCTION)["Configuration"]


def load_balancer_dimension(aws):
    (alb,) = aws("elbv2").describe_load_balancers(Names=["sage-alb"])["LoadBalancers"]
    return alb["LoadBalancerArn"].split(":loadbalancer/")[1]


def secret_arn(aws, channel):
    return aws("secretsmanager").describe_secret(SecretId=f"sage/discord-webhook-{channel}")["ARN"]


def test_every_alarm_notifies_the_topic_on_alarm_and_on_recovery(converged, aws):
    found = alarms(aws)
    assert sorted(found) == sorted(ALARMS)
    topic = topic_arn(aws)
    for alarm in found.values():
        assert alarm["AlarmActions"] == [topic], alarm["AlarmName"]
        assert alarm["OKActions"] == [topic], alarm["AlarmName"]
        assert alarm["ActionsEnabled"] is True


def test_cpu_alarms_as_specified(converged, aws):
    found = alarms(aws, "sage-backend-cpu-high", "sage-rds-cpu-high")
    ecs, rds = found["sage-backend-cpu-high"], found["sage-rds-cpu-high"]
    for alarm in (ecs, rds):
        assert (alarm["MetricName"], alarm["Statistic"]) == ("CPUUtilization", "Average")
        assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["Threshold"]) == (300, 2, 80.0)
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert ecs["Namespace"] == "AWS/ECS"
    assert {d["Name"]: d["Value"] for d in ecs["Dimensions"]} == {
        "ClusterName": "sage-cluster",
        "ServiceName": "sage-backend",
    }
    assert rds["Namespace"] == "AWS/RDS"
    assert rds["Dimensions"] == [{"Name": "DBInstanceIdentifier", "Value": "sage-postgres"}]


def test_error_rate_is_metric_math_over_all_5xx_with_a_traffic_guard(converged, aws):
    alarm = alarms(aws, "sage-api-error-rate-high")["sage-api-error-rate-high"]
    assert "MetricName" not in alarm
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    dimension = [{"Name": "LoadBalancer", "Value": load_balancer_dimension(aws)}]
    for query_id, metric in (
        ("target5xx", "HTTPCode_Target_5XX_Count"),
        ("alb5xx", "HTTPCode_ELB_5XX_Count"),
        ("requests", "RequestCount"),
    ):
        stat = queries[query_id]["MetricStat"]
        assert stat["Metric"] == {"Namespace": "AWS/ApplicationELB", "MetricName": metric, "Dimensions": dimension}
        assert (stat["Stat"], stat["Period"], queries[query_id]["ReturnData"]) == ("Sum", 60, False)
    rate = queries["rate"]
    assert rate["ReturnData"] is True
    expression = " ".join(rate["Expression"].split())
    assert "100 * (FILL(target5xx, 0) + FILL(alb5xx, 0)) / (FILL(requests, 0) + FILL(alb5xx, 0))" in expression
    assert expression.startswith("IF((FILL(requests, 0) + FILL(alb5xx, 0)) >= 20,"), "quiet below 20 requests"
    assert (alarm["Threshold"], alarm["EvaluationPeriods"]) == (5.0, 1)
    assert alarm["TreatMissingData"] == "notBreaching"


def test_p95_latency_in_seconds(converged, aws):
    alarm = alarms(aws, "sage-api-latency-p95-high")["sage-api-latency-p95-high"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/ApplicationELB", "TargetResponseTime")
    assert alarm["ExtendedStatistic"] == "p95" and "Statistic" not in alarm
    assert alarm["Threshold"] == 2.0, "TargetResponseTime is in seconds"
    assert alarm["EvaluateLowSampleCountPercentile"] == "ignore"


def test_incident_alarms_follow_the_resources(converged, aws):
    found = alarms(aws)
    connections = found["sage-rds-connections-high"]
    assert (connections["MetricName"], connections["Statistic"]) == ("DatabaseConnections", "Maximum")
    assert connections["Threshold"] == 80.0, "80% of max_connections=100"
    storage = found["sage-rds-free-storage-low"]
    assert storage["ComparisonOperator"] == "LessThanThreshold"
    assert storage["Threshold"] == 20 * 2**30 * 0.10, "10% of the 20 GiB allocated"
    unhealthy = found["sage-alb-unhealthy-hosts"]
    (group,) = aws("elbv2").describe_target_groups(Names=["sage-backend-tg"])["TargetGroups"]
    assert {d["Name"]: d["Value"] for d in unhealthy["Dimensions"]} == {
        "LoadBalancer": load_balancer_dimension(aws),
        "TargetGroup": group["TargetGroupArn"].split(":")[-1],
    }
    assert (unhealthy["Threshold"], unhealthy["ComparisonOperator"]) == (0.0, "GreaterThanThreshold")
    tasks = {q["Id"]: q for q in found["sage-backend-tasks-below-desired"]["Metrics"]}
    assert tasks["missing"]["Expression"] == "FILL(desired, 0) - FILL(running, 0)"
    assert tasks["running"]["MetricStat"]["Metric"]["Namespace"] == "ECS/ContainerInsights"
    (group,) = aws("elasticache").describe_replication_groups(ReplicationGroupId="sage-valkey")["ReplicationGroups"]
    for name, metric in (
        ("sage-valkey-memory-high", "DatabaseMemoryUsagePercentage"),
        ("sage-valkey-cpu-high", "EngineCPUUtilization"),
    ):
        queries = {q["Id"]: q for q in found[name]["Metrics"]}
        nodes = [q["MetricStat"]["Metric"] for q in queries.values() if "MetricStat" in q]
        assert sorted(m["Dimensions"][0]["Value"] for m in nodes) == sorted(group["MemberClusters"])
        assert {m["MetricName"] for m in nodes} == {metric}
        assert queries["worst"]["Expression"].startswith("MAX([m0")


def test_lambda_posts_with_its_own_narrow_role(converged, aws):
    config = function(aws)
    assert (config["Runtime"], config["Handler"], config["Timeout"]) == ("python3.14", "handler.handler", 60)
    env = config["Environment"]["Variables"]
    assert json.loads(env["WEBHOOK_SECRET_ARNS"]) == {
        channel: secret_arn(aws, channel) for channel in ("errors", "performance", "business")
    }
    assert json.loads(env["CHANNEL_BY_ALARM"]) == ALARMS
    assert env["DEFAULT_CHANNEL"] == "errors"
    assert config["DeadLetterConfig"]["TargetArn"].endswith(":sage-discord-alert-dlq")
    role = config["Role"].split("/")[-1]
    iam = aws("iam")
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "lambda.amazonaws.com"}]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    (policy_name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    statements = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert sorted(by_sid["ReadTheWebhookSecrets"]["Resource"]) == sorted(
        secret_arn(aws, channel) for channel in ("errors", "performance", "business")
    )
    assert by_sid["WriteItsLogs"]["Resource"].endswith(":log-group:/aws/lambda/sage-discord-alert:log-stream:*")
    assert by_sid["KeepUndeliveredAlerts"]["Action"] == "sqs:SendMessage"
    assert not any(s["Resource"] == "*" for s in statements)
    (group,) = aws("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/sage-discord-alert")["logGroups"]
    assert group["retentionInDays"] == 30


def test_topic_delivers_to_the_lambda_which_it_may_invoke(converged, aws):
    topic = topic_arn(aws)
    subscriptions = aws("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("lambda", function(aws)["FunctionArn"])]
    (statement,) = json.loads(aws("lambda").get_policy(FunctionName=FUNCTION)["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == topic


def test_deployed_code_is_the_reproducible_package_of_the_sources(converged, aws):
    code_sha = function(aws)["CodeSha256"]
    package = Path("/tmp/sage-infra-build/sage-discord-alert.zip").read_bytes()
    assert base64.b64encode(hashlib.sha256(package).digest()).decode() == code_sha
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert archive.namelist() == ["discord.py", "handler.py"]
        assert archive.read("handler.py") == (ROOT / "files/lambdas/discord_alert/handler.py").read_bytes()
        library = ROOT / "collections/ansible_collections/sage/infra/plugins/module_utils/discord.py"
        assert archive.read("discord.py") == library.read_bytes()
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_dashboard_shows_the_alarmed_signals(converged, aws):
    body = json.loads(aws("cloudwatch").get_dashboard(DashboardName="sage-overview")["DashboardBody"])
    widgets = body["widgets"]
    (status,) = [w for w in widgets if w["type"] == "alarm"]
    assert sorted(a.split(":alarm:")[1] for a in status["properties"]["alarms"]) == sorted(ALARMS)
    metrics = {
        line[1] for w in widgets if w["type"] == "metric" for line in w["properties"]["metrics"] if len(line) > 1
    }
    for metric in ("RequestCount", "TargetResponseTime", "CPUUtilization", "DatabaseConnections", "FreeStorageSpace"):
        assert metric in metrics
    assert {"DatabaseMemoryUsagePercentage", "EngineCPUUtilization", "RunningTaskCount"} <= metrics
    (latency,) = [w for w in widgets if w["properties"].get("title") == "API response time (s)"]
    assert latency["properties"]["annotations"]["horizontal"][0]["value"] == 2.0


def alarm_notification(alarm):
    """The message CloudWatch publishes to SNS when a single-metric alarm goes to ALARM."""
    return {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": alarm["AlarmDescription"],
        "AWSAccountId": alarm["AlarmArn"].split(":")[4],
        "NewStateValue": "ALARM",
        "NewStateReason": f"Threshold Crossed: 1 datapoint [97.0] was greater than the threshold {alarm['Threshold']}.",
        "StateChangeTime": "2026-11-29T12:00:00.000+0000",
        "Region": "US West (Oregon)",
        "AlarmArn": alarm["AlarmArn"],
        "OldStateValue": "OK",
        "Trigger": {
            "MetricName": alarm["MetricName"],
            "Namespace": alarm["Namespace"],
            "StatisticType": "Statistic",
            "Statistic": alarm["Statistic"].upper(),
            "Unit": None,
            "Dimensions": [{"value": d["Value"], "name": d["Name"]} for d in alarm["Dimensions"]],
            "Period": alarm["Period"],
            "EvaluationPeriods": alarm["EvaluationPeriods"],
            "ComparisonOperator": alarm["ComparisonOperator"],
            "Threshold": alarm["Threshold"],
            "TreatMissingData": alarm["TreatMissingData"],
            "EvaluateLowSampleCountPercentile": "",
        },
    }


INVOKE = """
import json, sys
import handler

class Context:
    function_name = "sage-discord-alert"
    def get_remaining_time_in_millis(self):
        return 30000

handler.handler(json.load(sys.stdin), Context())
"""


def test_deployed_package_and_configuration_route_alarms_to_their_channels(converged, emulator, aws, tmp_path):
    config = function(aws)
    package = Path("/tmp/sage-infra-build/sage-discord-alert.zip")
    assert base64.b64encode(hashlib.sha256(package.read_bytes()).digest()).decode() == config["CodeSha256"]
    with zipfile.ZipFile(package) as archive:
        archive.extractall(tmp_path)
    found = alarms(aws, "sage-rds-cpu-high", "sage-rds-connections-high")
    records = [alarm_notification(found[name]) for name in sorted(found)] + ["Backup finished"]
    event = {
        "Records": [
            {"EventSource": "aws:sns", "Sns": {"Message": json.dumps(m) if isinstance(m, dict) else m}} for m in records
        ]
    }
    with discord_server.running() as server:
        webhooks = {}
        for channel in ("errors", "performance", "business"):
            url = server.create_webhook()
            webhooks[channel] = url.rsplit("/", 2)[1]
            aws("secretsmanager").put_secret_value(SecretId=f"sage/discord-webhook-{channel}", SecretString=url)
        env = {
            **config["Environment"]["Variables"],
            "PATH": os.environ["PATH"],
            "AWS_ENDPOINT_URL": emulator.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-west-2",
            "ALLOW_INSECURE_WEBHOOK_URL": "true",  # the fake Discord listens on http://127.0.0.1
        }
        done = subprocess.run(
            [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n{INVOKE}"],
            input=json.dumps(event),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        performance = server.messages(webhooks["performance"])
        errors = server.messages(webhooks["errors"])
    assert [m["embeds"][0]["title"] for m in performance] == ["sage-rds-cpu-high"]
    assert [m["embeds"][0]["title"] for m in errors if m.get("embeds")] == ["sage-rds-connections-high"]
    assert [m["content"] for m in errors if not m.get("embeds")] == ["Backup finished"]
    assert server.messages(webhooks["business"]) == []
    for channel, webhook in webhooks.items():
        assert server.token(webhook) not in done.stdout + done.stderr, channel


@pytest.fixture
def restore_defaults(emulator):
    yield
    run_playbook("site.yml", emulator.endpoint).assert_ok()


def test_alarm_settings_are_variables_and_a_disabled_alarm_is_removed(converged, emulator, aws, restore_defaults):
    overrides = {"monitoring_alarm_overrides": {"ecs_cpu": {"threshold": 70}, "valkey_cpu": {"enabled": False}}}
    emulator.reset_calls()
    run_playbook("site.yml", emulator.endpoint, extra_vars=overrides).assert_ok()
    found = alarms(aws)
    assert "sage-valkey-cpu-high" not in found
    assert found["sage-backend-cpu-high"]["Threshold"] == 70.0
    assert found["sage-rds-cpu-high"]["Threshold"] == 80.0, "the other settings of the alarms stay"
    assert "sage-valkey-cpu-high" not in json.loads(function(aws)["Environment"]["Variables"]["CHANNEL_BY_ALARM"])
    body = json.loads(aws("cloudwatch").get_dashboard(DashboardName="sage-overview")["DashboardBody"])
    assert not any("sage-valkey-cpu-high" in json.dumps(w) for w in body["widgets"] if w["type"] == "alarm")
    updates = [call["action"] for call in emulator.mutating_calls() if call["service"] == "lambda"]
    assert f"PUT /2015-03-31/functions/{FUNCTION}/configuration" in updates, "the channel mapping changed"
    assert not [u for u in updates if u.endswith("/code")], "same sources, same package: the code is not uploaded"


def test_the_topic_gets_a_key_of_its_own_that_alarms_may_use(converged, emulator, aws, restore_defaults):
    """monitoring_topic_kms_key_create (prod): a customer managed key, rotated, whose policy lets this account's
    CloudWatch alarms publish; converged twice with changed=0 the second time, and check mode writes nothing."""
    with_key = {"monitoring_topic_kms_key_create": True}
    run_playbook("site.yml", emulator.endpoint, extra_vars=with_key).assert_ok()
    attributes = aws("sns").get_topic_attributes(TopicArn=topic_arn(aws))["Attributes"]
    assert attributes["KmsMasterKeyId"] == "alias/sage-alerts"
    kms = aws("kms")
    key = kms.describe_key(KeyId="alias/sage-alerts")["KeyMetadata"]
    assert key["KeyState"] == "Enabled" and key["KeyManager"] == "CUSTOMER"
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    account = aws("sts").get_caller_identity()["Account"]
    statements = {
        s["Sid"]: s
        for s in json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])["Statement"]
    }
    publish = statements["AlarmsOfTheAccountPublishToTheTopic"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(publish["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}
    assert statements["AdministeredByTheAccount"]["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}

    emulator.reset_calls()
    again = run_playbook("site.yml", emulator.endpoint, extra_vars=with_key).assert_ok()
    assert again.changed == 0, again.output
    check = run_playbook("site.yml", emulator.endpoint, "--check", extra_vars=with_key).assert_ok()
    assert check.changed == 0, check.output
    assert emulator.mutating_calls() == []

"""The alert Lambda (files/lambdas/discord_alert/handler.py): CloudWatch alarm notifications from SNS to Discord.

Events have the shapes SNS delivers to Lambda, with the messages CloudWatch publishes for metric, metric-math
and composite alarms (note "Region" is the region's long name there). Secrets are in moto in-process; the
webhooks are on the fake Discord server, which enforces Discord's limits and rate limits.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

ACCOUNT = "123456789012"
REGION = "us-west-2"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:sage-alerts"
RED, GREEN, YELLOW = 0xE74C3C, 0x2ECC71, 0xF1C40F


def sns_event(*messages, subject=None):
    """What SNS passes to a subscribed Lambda: one record per message (str, or a dict sent as JSON)."""
    records = []
    for number, message in enumerate(messages):
        records.append(
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{TOPIC}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": f"95df01b4-ee98-5cb9-9903-4c221d41eb5{number}",
                    "TopicArn": TOPIC,
                    "Subject": subject,
                    "Message": message if isinstance(message, str) else json.dumps(message),
                    "Timestamp": "2026-01-31T12:00:01.000Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-0000.pem",
                    "UnsubscribeUrl": f"https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={TOPIC}",
                    "MessageAttributes": {},
                },
            }
        )
    return {"Records": records}


def alarm(name="sage-ecs-cpu-high", new="ALARM", old="OK", **overrides):
    """A metric alarm notification as CloudWatch publishes it to SNS."""
    message = {
        "AlarmName": name,
        "AlarmDescription": "ECS service CPU above 80% for 10 minutes",
        "AWSAccountId": ACCOUNT,
        "AlarmConfigurationUpdatedTimestamp": "2026-01-30T09:00:00.000+0000",
        "NewStateValue": new,
        "NewStateReason": "Threshold Crossed: 2 out of the last 2 datapoints [91.5 (31/01/26 11:55:00), 88.2 "
        "(31/01/26 11:50:00)] were greater than the threshold (80.0) (minimum 2 datapoints for OK -> ALARM "
        "transition).",
        "StateChangeTime": "2026-01-31T12:00:00.123+0000",
        "Region": "US West (Oregon)",
        "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}",
        "OldStateValue": old,
        "OKActions": [TOPIC],
        "AlarmActions": [TOPIC],
        "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": "CPUUtilization",
            "Namespace": "AWS/ECS",
            "StatisticType": "Statistic",
            "Statistic": "AVERAGE",
            "Unit": None,
            "Dimensions": [{"value": "sage", "name": "ClusterName"}, {"value": "sage-backend", "name": "ServiceName"}],
            "Period": 300,
            "EvaluationPeriods": 2,
            "DatapointsToAlarm": 2,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 80.0,
            "TreatMissingData": "missing",
            "EvaluateLowSampleCountPercentile": "",
        },
    }
    message.update(overrides)
    return message


def metric_math_alarm():
    """The 5xx error-rate alarm: 100 * (target 5xx + ELB 5xx) / RequestCount over 60 s."""

    def metric(metric_id, name):
        return {
            "Id": metric_id,
            "MetricStat": {
                "Metric": {
                    "Dimensions": [{"value": "app/sage-alb/50dc6c495c0c9188", "name": "LoadBalancer"}],
                    "MetricName": name,
                    "Namespace": "AWS/ApplicationELB",
                },
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": False,
        }

    trigger = {
        "Period": 60,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 5.0,
        "TreatMissingData": "notBreaching",
        "EvaluateLowSampleCountPercentile": "",
        "Metrics": [
            metric("m1", "HTTPCode_Target_5XX_Count"),
            metric("m2", "HTTPCode_ELB_5XX_Count"),
            metric("m3", "RequestCount"),
            {"Expression": "100 * (m1 + m2) / m3", "Id": "e1", "Label": "5xx error rate (%)", "ReturnData": True},
        ],
    }
    return alarm(
        name="sage-alb-5xx-rate",
        AlarmDescription="More than 5% of requests answered 5xx",
        NewStateReason="Threshold Crossed: 1 out of the last 1 datapoints [7.5 (31/01/26 11:59:00)] was greater "
        "than the threshold (5.0) (minimum 1 datapoint for OK -> ALARM transition).",
        Trigger=trigger,
    )


def composite_alarm(rule="ALARM(sage-alb-5xx-rate) OR ALARM(sage-alb-p95-latency)"):
    message = alarm(name="sage-backend-degraded", AlarmDescription="The backend is failing its users")
    del message["Trigger"]
    message.update(
        NewStateReason=f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:sage-alb-5xx-rate transitioned to ALARM at "
        "Saturday 31 January, 2026 12:00:00 UTC",
        AlarmRule=rule,
        TriggeringChildren=[
            {
                "Arn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:sage-alb-5xx-rate",
                "State": {"Value": "ALARM", "Timestamp": "2026-01-31T12:00:00.000+0000"},
            }
        ],
    )
    return message


def fields(embed):
    return {item["name"]: item["value"] for item in embed["fields"]}


def console(name):
    return f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}#alarmsV2:alarm/{name}"


@pytest.fixture
def lam(new_container, channels):
    return new_container()


# --- alarms -------------------------------------------------------------------------------------------------------


def test_alarm_is_posted_to_its_channel_as_an_embed(lam, channels, discord_server, context):
    result = lam.handler(sns_event(alarm(), subject='ALARM: "sage-ecs-cpu-high" in US West (Oregon)'), context())
    assert result == {"delivered": 1}
    performance = channels["performance"].webhook_id
    (message,) = discord_server.messages(performance)
    for other in ("errors", "business"):
        assert discord_server.messages(channels[other].webhook_id) == []
    assert message["content"] == "\N{LARGE RED CIRCLE} **ALARM**: sage-ecs-cpu-high"
    assert message["allowed_mentions"] == {"parse": []}
    (embed,) = message["embeds"]
    assert embed["title"] == "sage-ecs-cpu-high"
    assert embed["url"] == console("sage-ecs-cpu-high")
    assert embed["color"] == RED
    assert embed["timestamp"] == "2026-01-31T12:00:00.123000+00:00"
    assert embed["description"].startswith("ECS service CPU above 80% for 10 minutes\n\n**Reason:** Threshold Crossed")
    assert fields(embed) == {
        "Severity": "\N{LARGE RED CIRCLE} ALARM",
        "State change": "OK \N{RIGHTWARDS ARROW} ALARM",
        "Metric": "AWS/ECS CPUUtilization (Average, ClusterName=sage, ServiceName=sage-backend)",
        "Threshold": "> 80 for 2 of 2 periods of 300 s (missing data: missing)",
    }
    assert embed["footer"] == {"text": f"AWS account {ACCOUNT} \N{MIDDLE DOT} {REGION}"}
    assert [request.wait for request in discord_server.requests] == [True]


def test_ok_and_insufficient_data(lam, channels, discord_server, context):
    lam.handler(sns_event(alarm(new="OK", old="ALARM"), alarm(new="INSUFFICIENT_DATA", old="OK")), context())
    ok, insufficient = (message["embeds"][0] for message in discord_server.messages(channels["performance"].webhook_id))
    assert ok["color"] == GREEN
    assert fields(ok)["Severity"] == "\N{LARGE GREEN CIRCLE} OK"
    assert fields(ok)["State change"] == "ALARM \N{RIGHTWARDS ARROW} OK"
    assert insufficient["color"] == YELLOW
    assert fields(insufficient)["Severity"] == "\N{LARGE YELLOW CIRCLE} INSUFFICIENT_DATA"
    assert fields(insufficient)["State change"] == "OK \N{RIGHTWARDS ARROW} INSUFFICIENT_DATA"


def test_metric_math_alarm_shows_the_expression_and_its_inputs(lam, channels, discord_server, context):
    lam.handler(sns_event(metric_math_alarm()), context())
    (message,) = discord_server.messages(channels["errors"].webhook_id)
    embed = message["embeds"][0]
    assert fields(embed)["Expression"].splitlines() == [
        "`e1 = 100 * (m1 + m2) / m3` \N{EM DASH} 5xx error rate (%)",
        "`m1`: AWS/ApplicationELB HTTPCode_Target_5XX_Count (Sum, LoadBalancer=app/sage-alb/50dc6c495c0c9188)",
        "`m2`: AWS/ApplicationELB HTTPCode_ELB_5XX_Count (Sum, LoadBalancer=app/sage-alb/50dc6c495c0c9188)",
        "`m3`: AWS/ApplicationELB RequestCount (Sum, LoadBalancer=app/sage-alb/50dc6c495c0c9188)",
    ]
    assert fields(embed)["Threshold"] == "> 5 for 1 of 1 period of 60 s (missing data: notBreaching)"
    assert "Metric" not in fields(embed)


def test_percentile_alarm(lam, channels, discord_server, context):
    trigger = {
        **alarm()["Trigger"],
        "MetricName": "TargetResponseTime",
        "Namespace": "AWS/ApplicationELB",
        "StatisticType": "ExtendedStatistic",
        "ExtendedStatistic": "p95",
        "Dimensions": [{"value": "app/sage-alb/50dc6c495c0c9188", "name": "LoadBalancer"}],
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": 2.0,
        "DatapointsToAlarm": 3,
        "EvaluationPeriods": 5,
        "Period": 60,
    }
    del trigger["Statistic"]
    lam.handler(sns_event(alarm(name="sage-alb-p95-latency", Trigger=trigger)), context())
    (message,) = discord_server.messages(channels["errors"].webhook_id)
    assert fields(message["embeds"][0])["Metric"] == (
        "AWS/ApplicationELB TargetResponseTime (p95, LoadBalancer=app/sage-alb/50dc6c495c0c9188)"
    )
    assert fields(message["embeds"][0])["Threshold"].startswith(">= 2 for 3 of 5 periods of 60 s")


def test_composite_alarm(lam, channels, discord_server, context):
    lam.handler(sns_event(composite_alarm()), context())
    (message,) = discord_server.messages(channels["errors"].webhook_id)
    embed = message["embeds"][0]
    assert embed["title"] == "sage-backend-degraded"
    assert fields(embed)["Composite rule"] == "`ALARM(sage-alb-5xx-rate) OR ALARM(sage-alb-p95-latency)`"
    assert fields(embed)["Triggered by"] == "sage-alb-5xx-rate (ALARM)"
    assert "Metric" not in fields(embed)
    assert "Threshold" not in fields(embed)


def test_channel_comes_from_the_mapping_not_from_the_name(lam, channels, discord_server, context, monkeypatch):
    monkeypatch.setenv("DEFAULT_CHANNEL", "business")
    lam.handler(sns_event(alarm(name="sage-api-error-cpu-rate")), context())
    assert len(discord_server.messages(channels["business"].webhook_id)) == 1
    assert discord_server.messages(channels["errors"].webhook_id) == []
    assert discord_server.messages(channels["performance"].webhook_id) == []


def test_console_link_uses_the_region_code_of_the_arn_and_encodes_the_name(lam, channels, discord_server, context):
    lam.handler(sns_event(alarm(name="sage api/5xx rate+x")), context())
    (message,) = discord_server.messages(channels["errors"].webhook_id)
    assert message["embeds"][0]["url"] == console("sage%20api%2F5xx%20rate%2Bx")


def test_oversized_alarm_is_truncated_to_discords_limits(lam, channels, discord_server, context, discord_module):
    rule = " OR ".join(f"ALARM(sage-child-alarm-{n:04d})" for n in range(400))
    message = composite_alarm(rule=rule)
    message["AlarmName"] = "n" * 255
    message["AlarmDescription"] = "d" * 1024
    message["NewStateReason"] = "r" * 4000
    lam.handler(sns_event(message), context())
    (posted,) = discord_server.messages(channels["errors"].webhook_id)
    embed = posted["embeds"][0]
    assert discord_module.limit_errors(posted) == []
    assert fields(embed)["Composite rule"].endswith("\N{HORIZONTAL ELLIPSIS}")
    assert len(fields(embed)["Composite rule"]) == 1024
    assert len(embed["description"]) == 4096
    assert embed["title"] == "n" * 255


# --- other messages -----------------------------------------------------------------------------------------------


def test_plain_text_goes_to_the_default_channel_without_pings(lam, channels, discord_server, context):
    lam.handler(sns_event("Backup finished @everyone", subject="sage backup"), context())
    (message,) = discord_server.messages(channels["errors"].webhook_id)
    assert message["content"] == "**sage backup**\nBackup finished @everyone"
    assert message["allowed_mentions"] == {"parse": []}
    assert "embeds" not in message


def test_json_that_is_not_an_alarm_is_posted_as_text(lam, channels, discord_server, context):
    budget = {"budgetName": "sage-monthly", "actual": 120.5, "notes": "x" * 3000}
    lam.handler(sns_event(budget), context())
    (message,) = discord_server.messages(channels["errors"].webhook_id)
    content = message["content"]
    assert content.startswith('```json\n{\n  "budgetName": "sage-monthly",')
    assert content.endswith("\N{HORIZONTAL ELLIPSIS}\n```")
    assert len(content) <= 2000


# --- secrets ------------------------------------------------------------------------------------------------------


def test_secrets_are_read_once_per_channel_per_container(
    new_container, channels, discord_server, context, secret_reads
):
    container = new_container()
    for _ in range(3):
        container.handler(sns_event(alarm(name="sage-alb-5xx-rate")), context())
    for _ in range(2):
        container.handler(sns_event(alarm(name="sage-ecs-cpu-high")), context())
    assert secret_reads == [channels["errors"].secret_arn, channels["performance"].secret_arn]
    assert len(discord_server.messages(channels["errors"].webhook_id)) == 3
    new_container().handler(sns_event(alarm(name="sage-alb-5xx-rate")), context())
    assert secret_reads[2:] == [channels["errors"].secret_arn], "a new container reads the secret again"


def test_a_secret_may_hold_a_json_object(lam, channels, discord_server, secretsmanager, context):
    errors = channels["errors"]
    secretsmanager.put_secret_value(SecretId=errors.secret_arn, SecretString=json.dumps({"url": errors.url}))
    lam.handler(sns_event("hello"), context())
    assert [m["content"] for m in discord_server.messages(errors.webhook_id)] == ["hello"]


def test_a_deleted_webhook_is_read_again_from_its_rotated_secret(
    lam, channels, discord_server, secretsmanager, context, secret_reads
):
    errors = channels["errors"]
    lam.handler(sns_event("before"), context())
    new_url = discord_server.create_webhook()
    discord_server.delete_webhook(errors.webhook_id)
    secretsmanager.put_secret_value(SecretId=errors.secret_arn, SecretString=new_url)
    lam.handler(sns_event("after"), context())
    assert [m["content"] for m in discord_server.messages(new_url.rsplit("/", 2)[1])] == ["after"]
    assert secret_reads == [errors.secret_arn, errors.secret_arn]


def test_secret_without_value_fails_the_invocation(new_container, channels, secretsmanager, context, monkeypatch):
    arn = secretsmanager.create_secret(Name="sage/discord-webhook-empty")["ARN"]
    arns = {name: channel.secret_arn for name, channel in channels.items()}
    monkeypatch.setenv("WEBHOOK_SECRET_ARNS", json.dumps({**arns, "errors": arn}))
    with pytest.raises(Exception, match=r"ResourceNotFoundException \(the secret has no value yet\?\)") as error:
        new_container().handler(sns_event("lost?"), context())
    assert type(error.value).__name__ == "DeliveryError"
    assert ": cannot read the webhook of channel errors from secret arn:aws:secretsmanager:" in str(error.value)


def test_secret_that_is_not_a_webhook_is_not_repeated(lam, channels, secretsmanager, context, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "https://hooks.example.com/services/T000/B000/XXXXwrongSECRETvalue"
    secretsmanager.put_secret_value(SecretId=channels["errors"].secret_arn, SecretString=wrong)
    with pytest.raises(Exception, match="does not hold a Discord webhook URL") as error:
        lam.handler(sns_event("hello"), context())
    assert "wrongSECRETvalue" not in str(error.value)
    assert "wrongSECRETvalue" not in caplog.text


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("WEBHOOK_SECRET_ARNS", "", "WEBHOOK_SECRET_ARNS is not set"),
        ("WEBHOOK_SECRET_ARNS", "{not json", "WEBHOOK_SECRET_ARNS is not valid JSON"),
        ("WEBHOOK_SECRET_ARNS", "{}", "WEBHOOK_SECRET_ARNS names no channel"),
        ("CHANNEL_BY_ALARM", '{"sage-x": "pager"}', "channel(s) pager used by DEFAULT_CHANNEL or CHANNEL_BY_ALARM"),
        ("DEFAULT_CHANNEL", "alerts", "channel(s) alerts used by"),
        ("CHANNEL_BY_ALARM", '["errors"]', "CHANNEL_BY_ALARM must be a JSON object of non-empty strings"),
    ],
)
def test_configuration_errors_fail_clearly(lam, channels, context, monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(lam.ConfigError) as error:
        lam.handler(sns_event(alarm()), context())
    assert str(error.value).startswith(expected)


# --- delivery -----------------------------------------------------------------------------------------------------


def test_a_burst_of_50_alerts_under_rate_limiting_loses_none(
    new_container, channels, discord_server, context, secret_reads
):
    """50 alarms at once, as 5 concurrent containers of 10 invocations each; Discord allows 5 per 0.25 s."""
    names = [f"sage-alarm-{n:02d}" for n in range(50)]

    def container_run(batch):
        container = new_container()
        for name in batch:
            target = "sage-ecs-cpu-high" if name.endswith(("0", "2", "4", "6", "8")) else "sage-alb-5xx-rate"
            container.handler(sns_event(alarm(name=target, AlarmDescription=name)), context(30))

    with ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(container_run, [names[start::5] for start in range(5)]))

    delivered = [
        message["embeds"][0]["description"].split("\n")[0]
        for channel in ("errors", "performance")
        for message in discord_server.messages(channels[channel].webhook_id)
    ]
    assert sorted(delivered) == names
    assert len(discord_server.messages(channels["performance"].webhook_id)) == 25
    assert discord_server.statuses().count(429) > 0, "the burst was rate limited"
    assert len(secret_reads) == 5 * 2, "each container reads each of its channels' secrets once"


def test_a_failed_delivery_raises_within_the_remaining_time(lam, channels, discord_server, context):
    discord_server.fail_next(10_000, status=503)
    started = time.monotonic()
    with pytest.raises(lam.DeliveryError) as error:
        lam.handler(sns_event(alarm()), context(0.6))
    assert time.monotonic() - started < 0.6
    message = str(error.value)
    assert message.startswith("1 of 1 messages not delivered: alarm sage-ecs-cpu-high OK -> ALARM: Discord webhook ")
    assert channels["performance"].webhook_id in message
    assert "HTTP 503" in message
    assert channels["performance"].token not in message


def test_one_failed_record_does_not_stop_the_others(lam, channels, discord_server, context):
    discord_server.delete_webhook(channels["performance"].webhook_id)
    with pytest.raises(lam.DeliveryError, match=r"^1 of 2 messages not delivered: alarm sage-ecs-cpu-high") as error:
        lam.handler(sns_event(alarm(), metric_math_alarm()), context())
    assert "HTTP 404 Unknown Webhook (code 10015)" in str(error.value)
    assert len(discord_server.messages(channels["errors"].webhook_id)) == 1


def test_a_record_that_is_not_from_sns_fails(lam, channels, context):
    with pytest.raises(lam.DeliveryError, match="record 0: not an SNS notification record"):
        lam.handler({"Records": [{"eventSource": "aws:sqs", "body": "x"}]}, context())


def test_no_webhook_url_in_logs(new_container, channels, discord_server, context, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    container = new_container()
    container.handler(sns_event(alarm(), metric_math_alarm(), "text"), context())
    discord_server.fail_next(10_000, status=500)
    with pytest.raises(container.DeliveryError):
        container.handler(sns_event(alarm()), context(0.5))
    discord_server.reset()
    discord_server.delete_webhook(channels["errors"].webhook_id)
    with pytest.raises(container.DeliveryError):
        container.handler(sns_event("to a deleted webhook"), context())

    assert "posted to channel performance" in caplog.text
    assert "not posted to channel errors" in caplog.text
    captured = capsys.readouterr()
    for channel in channels.values():
        for text in (caplog.text, captured.out, captured.err):
            assert channel.token not in text
            assert channel.url not in text

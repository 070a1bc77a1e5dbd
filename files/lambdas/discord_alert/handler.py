"""CloudWatch alarm -> SNS -> this Lambda -> a Discord channel (errors, performance or business).

Python 3.14 runtime, standard library and boto3 only. ``discord`` is the collection's
``plugins/module_utils/discord.py``, copied next to this file in the deployment package.

For each SNS record:

- a CloudWatch alarm notification (metric, metric-math or composite alarm) becomes one embed: the state as
  severity and colour (ALARM red, OK green, INSUFFICIENT_DATA yellow), the alarm name as title linking to the
  alarm in the CloudWatch console, the state change, the reason, the metric (or math expression, or composite
  rule) and the threshold with its operator;
- any other message (plain text, or JSON that is not an alarm) is posted as text to the default channel.

The channel comes from ``CHANNEL_BY_ALARM`` (alarm name -> channel), else ``DEFAULT_CHANNEL``; never from words
in the alarm name. Each channel's webhook URL is the value of a Secrets Manager secret (``WEBHOOK_SECRET_ARNS``,
channel -> secret ARN), read once per container. A message that cannot be delivered before the invocation's
time runs out makes the invocation fail, so that SNS/Lambda retry it and the dead-letter queue keeps it.
Webhook URLs are credentials: they are never logged, and the errors raised name webhooks by id only.

Environment:
    WEBHOOK_SECRET_ARNS          required, JSON {"errors": "arn:aws:secretsmanager:...", "performance": ..., ...}
    CHANNEL_BY_ALARM             JSON {"sage-alb-5xx-rate": "errors", "sage-ecs-cpu-high": "performance"}; default {}
    DEFAULT_CHANNEL              channel of alarms not in CHANNEL_BY_ALARM and of other messages; default "errors"
    DISCORD_USERNAME             name the messages are posted under; default: the webhook's own name
    LOG_LEVEL                    default INFO
    DEADLINE_MARGIN_SECONDS      time kept back from the invocation's remaining time; default 1.0
    ALLOW_INSECURE_WEBHOOK_URL   "true" accepts http://127.0.0.1 webhook URLs: tests against a fake Discord only
"""

import json
import logging
import os
import time
import urllib.parse
from datetime import datetime

import boto3
import botocore.config
import botocore.exceptions
import discord

LOG = logging.getLogger("discord_alert")
LOG.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
# At DEBUG, botocore logs response bodies, which hold the secrets' values (the webhook URLs).
for _name in ("botocore", "boto3", "urllib3"):
    logging.getLogger(_name).setLevel(logging.WARNING)

STATES = {
    "ALARM": ("\N{LARGE RED CIRCLE}", 0xE74C3C),
    "OK": ("\N{LARGE GREEN CIRCLE}", 0x2ECC71),
    "INSUFFICIENT_DATA": ("\N{LARGE YELLOW CIRCLE}", 0xF1C40F),
}
UNKNOWN_STATE = ("\N{MEDIUM WHITE CIRCLE}", 0x95A5A6)
OPERATORS = {
    "GreaterThanOrEqualToThreshold": ">=",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
    "LessThanLowerOrGreaterThanUpperThreshold": "outside the band",
    "LessThanLowerThreshold": "below the band",
    "GreaterThanUpperThreshold": "above the band",
}
STATISTICS = {
    "AVERAGE": "Average",
    "SUM": "Sum",
    "MINIMUM": "Minimum",
    "MAXIMUM": "Maximum",
    "SAMPLE_COUNT": "SampleCount",
}
CONSOLE_DOMAINS = {"aws": "console.aws.amazon.com", "aws-cn": "console.amazonaws.cn"}
CONSOLE_DOMAINS["aws-us-gov"] = "console.amazonaws-us-gov.com"

# For the life of the container: secret ARN -> webhook URL, and the Secrets Manager client.
_webhook_urls = {}
_clients = {}


class ConfigError(Exception):
    """The environment or a secret does not say where to post."""


class DeliveryError(Exception):
    """Some messages of the event were not delivered; the invocation fails so that they are retried."""


# --- configuration ------------------------------------------------------------------------------------------------


def _json_env(environ, name, default):
    raw = environ.get(name, "").strip()
    if not raw:
        if default is None:
            raise ConfigError(f"{name} is not set: it must be a JSON object")
        return default
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise ConfigError(f"{name} is not valid JSON: {e}") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) and v for v in value.values()):
        raise ConfigError(f"{name} must be a JSON object of non-empty strings")
    return value


def load_config(environ=None):
    """The settings from the environment, checked: channel_by_alarm, default_channel, secret_arns ..."""
    environ = os.environ if environ is None else environ
    secret_arns = _json_env(environ, "WEBHOOK_SECRET_ARNS", None)
    if not secret_arns:
        raise ConfigError("WEBHOOK_SECRET_ARNS names no channel")
    channel_by_alarm = _json_env(environ, "CHANNEL_BY_ALARM", {})
    default_channel = environ.get("DEFAULT_CHANNEL", "").strip() or "errors"
    unknown = sorted({default_channel, *channel_by_alarm.values()} - set(secret_arns))
    if unknown:
        raise ConfigError(
            f"channel(s) {', '.join(unknown)} used by DEFAULT_CHANNEL or CHANNEL_BY_ALARM have no secret in "
            f"WEBHOOK_SECRET_ARNS (channels: {', '.join(sorted(secret_arns))})"
        )
    try:
        margin = float(environ.get("DEADLINE_MARGIN_SECONDS") or 1.0)
    except ValueError:
        raise ConfigError("DEADLINE_MARGIN_SECONDS must be a number of seconds") from None
    return {
        "secret_arns": secret_arns,
        "channel_by_alarm": channel_by_alarm,
        "default_channel": default_channel,
        "username": environ.get("DISCORD_USERNAME", "").strip() or None,
        "margin": margin,
        "allow_insecure": environ.get("ALLOW_INSECURE_WEBHOOK_URL", "").strip().lower() == "true",
    }


def channel_for(alarm_name, config):
    return config["channel_by_alarm"].get(alarm_name, config["default_channel"])


# --- webhook URLs from Secrets Manager ----------------------------------------------------------------------------


def _secrets_client():
    if "secretsmanager" not in _clients:
        config = botocore.config.Config(
            connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 3}
        )
        _clients["secretsmanager"] = boto3.session.Session().client("secretsmanager", config=config)
    return _clients["secretsmanager"]


def _url_from_secret(value):
    """The secret's value is the URL itself, or a JSON object with "url" (or "webhook_url")."""
    value = (value or "").strip()
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except ValueError:
            return ""
        if isinstance(data, dict):
            return str(data.get("url") or data.get("webhook_url") or "").strip()
        return ""
    return value


def webhook_url(channel, config, refresh=False):
    """The channel's webhook URL, read from its secret once per container (again with refresh)."""
    arn = config["secret_arns"][channel]
    if not refresh and arn in _webhook_urls:
        return _webhook_urls[arn]
    try:
        secret = _secrets_client().get_secret_value(SecretId=arn)
    except botocore.exceptions.ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        hint = " (the secret has no value yet?)" if code == "ResourceNotFoundException" else ""
        raise ConfigError(f"cannot read the webhook of channel {channel} from secret {arn}: {code}{hint}") from None
    except botocore.exceptions.BotoCoreError as e:
        raise ConfigError(f"cannot read the webhook of channel {channel} from secret {arn}: {e}") from None
    value = secret.get("SecretString")
    if value is None and secret.get("SecretBinary") is not None:
        value = secret["SecretBinary"].decode("utf-8", "replace")
    url = _url_from_secret(value)
    try:
        discord.validate_webhook_url(url, allow_insecure=config["allow_insecure"])
    except discord.InvalidWebhookURL as e:
        raise ConfigError(f"secret {arn} of channel {channel} does not hold a Discord webhook URL: {e}") from None
    _webhook_urls[arn] = url
    return url


# --- messages -----------------------------------------------------------------------------------------------------


def is_alarm(message):
    return isinstance(message, dict) and bool(message.get("AlarmName")) and "NewStateValue" in message


def _number(value):
    try:
        return f"{float(value):.10g}"
    except (TypeError, ValueError):
        return str(value)


def _dimensions(dimensions):
    pairs = []
    for item in dimensions or []:
        if isinstance(item, dict):
            name, value = item.get("name", item.get("Name")), item.get("value", item.get("Value"))
            pairs.append(f"{name}={value}")
    return ", ".join(pairs)


def _statistic(source):
    value = source.get("ExtendedStatistic") or source.get("Statistic") or source.get("Stat") or ""
    return STATISTICS.get(str(value).upper(), str(value))


def _metric(namespace, name, statistic, dimensions):
    text = f"{namespace} {name}".strip()
    details = ", ".join(part for part in (statistic, _dimensions(dimensions)) if part)
    return f"{text} ({details})" if details else text


def metric_text(trigger):
    """The metric, or the math expression and its inputs, that the alarm watches."""
    metrics = [m for m in trigger.get("Metrics") or [] if isinstance(m, dict)]
    if not metrics:
        return _metric(
            trigger.get("Namespace", ""), trigger.get("MetricName", ""), _statistic(trigger), trigger.get("Dimensions")
        )
    lines = []
    for item in sorted(metrics, key=lambda m: not m.get("ReturnData")):
        label = f" \N{EM DASH} {item['Label']}" if item.get("Label") else ""
        if item.get("Expression"):
            lines.append(f"`{item.get('Id', '?')} = {item['Expression']}`{label}")
        elif isinstance(item.get("MetricStat"), dict):
            stat = item["MetricStat"]
            metric = stat.get("Metric") or {}
            watched = _metric(
                metric.get("Namespace", ""), metric.get("MetricName", ""), _statistic(stat), metric.get("Dimensions")
            )
            lines.append(f"`{item.get('Id', '?')}`: {watched}{label}")
    return "\n".join(lines)


def threshold_text(trigger):
    operator = trigger.get("ComparisonOperator", "")
    symbol = OPERATORS.get(operator, operator)
    if trigger.get("Threshold") is not None:
        text = f"{symbol} {_number(trigger['Threshold'])}"
    elif trigger.get("ThresholdMetricId"):
        text = f"{symbol} `{trigger['ThresholdMetricId']}`"
    else:
        text = symbol
    periods = trigger.get("EvaluationPeriods")
    if periods:
        datapoints = trigger.get("DatapointsToAlarm") or periods
        text += f" for {datapoints} of {periods} period{'s' if periods != 1 else ''}"
        if trigger.get("Period"):
            text += f" of {trigger['Period']} s"
    if trigger.get("TreatMissingData"):
        text += f" (missing data: {trigger['TreatMissingData']})"
    return text


def _arn_parts(arn):
    """(partition, region, account) of an ARN, Nones when it is not one."""
    parts = (arn or "").split(":")
    return (parts[1], parts[3], parts[4]) if len(parts) >= 6 and parts[0] == "arn" else (None, None, None)


def console_url(alarm):
    """The alarm in the CloudWatch console. The notification's "Region" is a long name: the ARN has the code."""
    partition, region, _account = _arn_parts(alarm.get("AlarmArn"))
    region = region or os.environ.get("AWS_REGION") or "us-east-1"
    domain = CONSOLE_DOMAINS.get(partition or "aws", CONSOLE_DOMAINS["aws"])
    name = urllib.parse.quote(alarm.get("AlarmName", ""), safe="")
    return f"https://{region}.{domain}/cloudwatch/home?region={region}#alarmsV2:alarm/{name}"


def _timestamp(value):
    """ISO 8601 as Discord wants it (CloudWatch writes 2025-01-31T12:00:00.000+0000), None when unreadable."""
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(str(value), pattern).isoformat()
        except ValueError:
            continue
    return None


def _child_name(child):
    arn = child.get("Arn", "") if isinstance(child, dict) else ""
    name = arn.split(":alarm:", 1)[-1] if ":alarm:" in arn else arn
    state = (child.get("State") or {}).get("Value") if isinstance(child, dict) else None
    return f"{name} ({state})" if state else name


def alarm_payload(alarm, username=None):
    """The Discord message for a CloudWatch alarm notification, within Discord's limits."""
    name = str(alarm.get("AlarmName"))
    new, old = str(alarm.get("NewStateValue") or "?"), str(alarm.get("OldStateValue") or "?")
    emoji, color = STATES.get(new, UNKNOWN_STATE)
    description = [str(alarm["AlarmDescription"]).strip()] if alarm.get("AlarmDescription") else []
    if alarm.get("NewStateReason"):
        description.append(f"**Reason:** {alarm['NewStateReason']}")
    fields = [
        {"name": "Severity", "value": f"{emoji} {new}", "inline": True},
        {"name": "State change", "value": f"{old} \N{RIGHTWARDS ARROW} {new}", "inline": True},
    ]
    trigger = alarm.get("Trigger")
    if isinstance(trigger, dict):
        watched = metric_text(trigger)
        fields.append({"name": "Expression" if trigger.get("Metrics") else "Metric", "value": watched or "?"})
        fields.append({"name": "Threshold", "value": threshold_text(trigger) or "?"})
    elif alarm.get("AlarmRule"):
        fields.append({"name": "Composite rule", "value": f"`{alarm['AlarmRule']}`"})
        children = [_child_name(child) for child in alarm.get("TriggeringChildren") or []]
        if children:
            fields.append({"name": "Triggered by", "value": "\n".join(children)})
    _partition, region, account = _arn_parts(alarm.get("AlarmArn"))
    footer = " \N{MIDDLE DOT} ".join(
        part
        for part in (f"AWS account {account or alarm.get('AWSAccountId') or '?'}", region or alarm.get("Region"))
        if part
    )
    embed = {
        "title": name,
        "url": console_url(alarm),
        "color": color,
        "description": "\n\n".join(description) or None,
        "fields": fields,
        "footer": {"text": footer},
        "timestamp": _timestamp(alarm.get("StateChangeTime")),
    }
    payload = {
        "content": f"{emoji} **{new}**: {name}",
        "embeds": [{key: value for key, value in embed.items() if value is not None}],
        "allowed_mentions": {"parse": []},
    }
    if username:
        payload["username"] = username
    return discord.truncate(payload)


def text_payload(subject, message, username=None):
    """Any other SNS message, as text: JSON pretty-printed in a code block, within Discord's limits."""
    heading = f"**{subject.strip()}**\n" if subject and subject.strip() else ""
    try:
        data = json.loads(message)
    except (TypeError, ValueError):
        data = None
    if isinstance(data, (dict, list)):
        body = json.dumps(data, indent=2, ensure_ascii=False)
        room = discord.CONTENT_MAX - len(heading) - len("```json\n\n```")
        content = f"{heading}```json\n{discord.cut(body, max(room, 1))}\n```"
    else:
        content = heading + (str(message) if message is not None else "")
    payload = {"content": discord.cut(content.strip() or "(empty SNS message)", discord.CONTENT_MAX)}
    payload["allowed_mentions"] = {"parse": []}
    if username:
        payload["username"] = username
    return payload


def render(record, config):
    """(channel, payload, description for the logs) of one SNS record."""
    sns = record.get("Sns") if isinstance(record, dict) else None
    if not isinstance(sns, dict):
        raise ValueError("not an SNS notification record (no Sns key)")
    raw = sns.get("Message")
    try:
        message = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        message = None
    if is_alarm(message):
        name = str(message["AlarmName"])
        what = f"alarm {name} {message.get('OldStateValue')} -> {message.get('NewStateValue')}"
        return channel_for(name, config), alarm_payload(message, config["username"]), what
    what = f"SNS message {sns.get('MessageId', '?')}"
    return config["default_channel"], text_payload(sns.get("Subject"), raw, config["username"]), what


# --- delivery -----------------------------------------------------------------------------------------------------


def deadline_of(context, margin):
    """time.monotonic() value by which every message must be sent: the invocation's remaining time, less margin."""
    remaining_ms = context.get_remaining_time_in_millis() if context is not None else 30000
    return time.monotonic() + max(0.0, remaining_ms / 1000.0 - margin)


def deliver(channel, payload, config, deadline):
    """Post to the channel; a webhook Discord no longer knows (401/404) is read again from its secret once."""
    url = webhook_url(channel, config)
    try:
        return discord.post(url, payload, wait=True, deadline=deadline, allow_insecure=config["allow_insecure"])
    except discord.DiscordError as e:
        if e.status not in (401, 404):
            raise
        fresh = webhook_url(channel, config, refresh=True)
        if fresh == url:
            raise
        LOG.warning(
            "channel %s: webhook %s refused (%s); its secret now names webhook %s",
            channel,
            e.webhook_id,
            e.status,
            discord.webhook_id(fresh),
        )
        return discord.post(fresh, payload, wait=True, deadline=deadline, allow_insecure=config["allow_insecure"])


def handler(event, context):
    config = load_config()
    deadline = deadline_of(context, config["margin"])
    records = (event or {}).get("Records") or []
    failures = []
    for index, record in enumerate(records):
        what, channel = f"record {index}", None
        try:
            channel, payload, what = render(record, config)
            message = deliver(channel, payload, config, deadline)
            LOG.info("%s posted to channel %s (message %s)", what, channel, (message or {}).get("id"))
        except (discord.DiscordError, ConfigError, ValueError) as e:
            LOG.error("%s not posted to channel %s: %s", what, channel or "?", e)
            failures.append(f"{what}: {e}")
        except Exception:
            LOG.exception("%s not posted to channel %s", what, channel or "?")
            failures.append(f"{what}: unexpected error")
    if failures:
        raise DeliveryError(f"{len(failures)} of {len(records)} messages not delivered: {'; '.join(failures)}")
    return {"delivered": len(records)}

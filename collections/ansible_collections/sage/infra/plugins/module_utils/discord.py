# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Discord webhook messages: limits, truncation and delivery with Discord's rate limits honoured.

Standard library only and no Ansible import: sage.infra.discord_webhook uses it as module_utils, and the alert
Lambda (files/lambdas/discord_alert) ships the same file as ``discord.py`` next to its handler.

- ``limit_errors(payload)``: what breaks Discord's documented message limits, naming the field
  (``embeds[0].fields[2].value is 1100 characters, more than Discord's limit of 1024``).
- ``truncate(payload)``: a copy within every limit; cut text ends with an ellipsis, and the 6000-character total
  of the embeds is met by cutting field values and descriptions (and, failing that, dropping fields and cutting
  footers, author names and titles), last embed and last field first.
- ``post(url, payload, ...)``: executes the webhook. Sets a User-Agent (Discord's edge refuses urllib's
  default one), waits as long as a 429 answer asks (``retry_after``), retries 5xx answers and connection errors
  with exponential backoff, never past a deadline (``time.monotonic()`` seconds), then raises ``DiscordError``.

The webhook token is a credential: no message or exception raised here contains the webhook URL or its token;
they name the webhook by its id (``webhook 123456789012345678``).
"""

import copy
import http.client
import json
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request

VERSION = "0.1.0"
USER_AGENT = f"sage-infra (https://example.invalid/sage-infra, {VERSION})"

# https://discord.com/developers/docs/resources/webhook#execute-webhook
# https://discord.com/developers/docs/resources/message#embed-object-embed-limits
CONTENT_MAX = 2000
USERNAME_MAX = 80
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_TEXT_MAX = 2048
AUTHOR_NAME_MAX = 256
EMBED_TOTAL_MAX = 6000
COLOR_MAX = 0xFFFFFF
MENTION_TYPES = ("roles", "users", "everyone")

ELLIPSIS = "\u2026"

# Delivery defaults; post() reads them at call time, so tests may lower them.
DEFAULT_TIMEOUT = 10.0
DEFAULT_BUDGET = 30.0
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 8.0

_TOKEN = r"[A-Za-z0-9_-]+"
_WEBHOOK_PATH = re.compile(r"^/api(?:/v\d+)?/webhooks/(?P<id>\d+)/(?P<token>" + _TOKEN + r")/?$")
_DISCORD_HOSTS = ("discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com")
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_ANY_WEBHOOK = re.compile(r"/webhooks/(\d+)/(" + _TOKEN + ")")


class DiscordError(Exception):
    """A message that could not be delivered (or an invalid webhook URL); the text never holds the token.

    ``status``: the last HTTP status (None for a connection error), ``code``: Discord's JSON error code,
    ``retryable``: whether sending again later may succeed (rate limits, 5xx, connection errors),
    ``attempts``: requests made.
    """

    def __init__(self, message, webhook_id=None, status=None, code=None, retryable=False, attempts=0):
        super().__init__(message)
        self.webhook_id = webhook_id
        self.status = status
        self.code = code
        self.retryable = retryable
        self.attempts = attempts


class InvalidWebhookURL(DiscordError, ValueError):
    """The URL is not a Discord webhook URL (the message does not repeat it)."""


# --- webhook URLs -------------------------------------------------------------------------------------------------


def webhook_id(url):
    """The id of the webhook of a URL (``?`` when there is none): how messages name a webhook."""
    match = _ANY_WEBHOOK.search(url or "")
    return match.group(1) if match else "?"


def redact(text, url):
    """``text`` without the webhook URL nor its token (each replaced by ``***``)."""
    text = str(text)
    if not url:
        return text
    text = text.replace(url, "***")
    match = _ANY_WEBHOOK.search(url)
    if match:
        text = text.replace(match.group(2), "***")
    return text


def validate_webhook_url(url, allow_insecure=False):
    """The webhook id of a Discord webhook URL; raises InvalidWebhookURL (without the URL) otherwise.

    Accepted: ``https://discord.com/api/webhooks/<digits>/<token>`` (also discordapp.com, ptb./canary.
    subdomains, ``/api/v10/...`` and a ``?thread_id=<digits>`` query). With allow_insecure, also
    ``http://127.0.0.1|localhost|[::1][:port]/api/webhooks/<digits>/<token>``, for tests on loopback.
    """
    expected = "https://discord.com/api/webhooks/<id>/<token>"
    if not isinstance(url, str) or not url.strip():
        raise InvalidWebhookURL("the webhook URL is empty; expected " + expected)
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        raise InvalidWebhookURL("the webhook URL cannot be parsed; expected " + expected) from None
    wid = webhook_id(url)
    discord = parts.scheme == "https" and host in _DISCORD_HOSTS and parts.port in (None, 443)
    loopback = allow_insecure and parts.scheme in ("http", "https") and host in _LOOPBACK_HOSTS
    if not (discord or loopback):
        where = f"{parts.scheme}://{host}" if parts.scheme and host else "an unknown host"
        allowed = " or http://127.0.0.1 (loopback, tests only)" if allow_insecure else ""
        raise InvalidWebhookURL(
            f"the webhook URL (webhook {wid}) points to {where}, not to https://discord.com{allowed}; "
            f"expected {expected}"
        )
    if parts.username or parts.password or parts.fragment or not _WEBHOOK_PATH.match(parts.path):
        raise InvalidWebhookURL(f"the webhook URL (webhook {wid}) is not of the form {expected}", webhook_id=wid)
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    if any(key != "thread_id" for key in query) or any(not v.isdigit() for v in query.get("thread_id", [])):
        raise InvalidWebhookURL(
            f"the webhook URL (webhook {wid}) has a query other than ?thread_id=<digits>", webhook_id=wid
        )
    return wid


def _execute_url(url, wait):
    parts = urllib.parse.urlsplit(url.strip())
    query = urllib.parse.parse_qsl(parts.query)
    query = [(k, v) for k, v in query if k != "wait"] + [("wait", "true" if wait else "false")]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


# --- limits -------------------------------------------------------------------------------------------------------


def _length(value):
    return len(value) if isinstance(value, str) else 0


def embed_characters(embed):
    """The characters of one embed that count towards the 6000 total (Discord's "embed size")."""
    if not isinstance(embed, dict):
        return 0
    total = _length(embed.get("title")) + _length(embed.get("description"))
    for key, inner in (("footer", "text"), ("author", "name")):
        if isinstance(embed.get(key), dict):
            total += _length(embed[key].get(inner))
    for item in embed.get("fields") or []:
        if isinstance(item, dict):
            total += _length(item.get("name")) + _length(item.get("value"))
    return total


def total_embed_characters(embeds):
    return sum(embed_characters(embed) for embed in embeds or [])


def _too_long(name, value, limit):
    return f"{name} is {len(value)} characters, more than Discord's limit of {limit}"


def _check_text(errors, name, value, limit, required=False):
    if value is None:
        if required:
            errors.append(f"{name} is required")
    elif not isinstance(value, str):
        errors.append(f"{name} must be a string, not {type(value).__name__}")
    elif required and not value.strip():
        errors.append(f"{name} must not be empty")
    elif len(value) > limit:
        errors.append(_too_long(name, value, limit))


def _embed_errors(errors, embed, name):
    if not isinstance(embed, dict):
        errors.append(f"{name} must be a dict (an embed object), not {type(embed).__name__}")
        return
    _check_text(errors, name + ".title", embed.get("title"), EMBED_TITLE_MAX)
    _check_text(errors, name + ".description", embed.get("description"), EMBED_DESCRIPTION_MAX)
    for key, inner, limit in (("footer", "text", FOOTER_TEXT_MAX), ("author", "name", AUTHOR_NAME_MAX)):
        if embed.get(key) is None:
            continue
        if isinstance(embed[key], dict):
            _check_text(errors, f"{name}.{key}.{inner}", embed[key].get(inner), limit, required=True)
        else:
            errors.append(f"{name}.{key} must be a dict")
    color = embed.get("color")
    if color is not None and (isinstance(color, bool) or not isinstance(color, int) or not 0 <= color <= COLOR_MAX):
        errors.append(f"{name}.color must be an integer from 0 to {COLOR_MAX} (0xFFFFFF)")
    fields = embed.get("fields")
    if fields is None:
        return
    if not isinstance(fields, list):
        errors.append(f"{name}.fields must be a list")
        return
    if len(fields) > EMBED_FIELDS_MAX:
        errors.append(f"{name}.fields has {len(fields)} fields, more than Discord's limit of {EMBED_FIELDS_MAX}")
    for number, item in enumerate(fields):
        field_name = f"{name}.fields[{number}]"
        if not isinstance(item, dict):
            errors.append(f"{field_name} must be a dict with name and value")
            continue
        _check_text(errors, field_name + ".name", item.get("name"), FIELD_NAME_MAX, required=True)
        _check_text(errors, field_name + ".value", item.get("value"), FIELD_VALUE_MAX, required=True)
        if item.get("inline") is not None and not isinstance(item["inline"], bool):
            errors.append(f"{field_name}.inline must be a boolean")


def _mention_errors(errors, allowed):
    if not isinstance(allowed, dict):
        errors.append("allowed_mentions must be a dict")
        return
    parse = allowed.get("parse")
    if parse is None:
        return
    if not isinstance(parse, list) or any(item not in MENTION_TYPES for item in parse):
        errors.append(f"allowed_mentions.parse must be a list of {', '.join(MENTION_TYPES)}")
        return
    for kind in ("roles", "users"):
        if kind in parse and allowed.get(kind):
            errors.append(f"allowed_mentions: {kind} cannot be both in parse and listed in allowed_mentions.{kind}")


def limit_errors(payload):
    """What in this Execute Webhook body Discord would refuse, one message per problem naming the field."""
    if not isinstance(payload, dict):
        return [f"the message must be a dict (JSON object), not {type(payload).__name__}"]
    errors = []
    content = payload.get("content")
    _check_text(errors, "content", content, CONTENT_MAX)
    username = payload.get("username")
    if username is not None:
        if not isinstance(username, str) or not username.strip():
            errors.append("username must be a non-empty string")
        elif len(username) > USERNAME_MAX:
            errors.append(_too_long("username", username, USERNAME_MAX))
    embeds = payload.get("embeds")
    if embeds is not None and not isinstance(embeds, list):
        errors.append("embeds must be a list of embed objects")
        embeds = None
    if embeds:
        if len(embeds) > EMBEDS_MAX:
            errors.append(f"embeds has {len(embeds)} embeds, more than Discord's limit of {EMBEDS_MAX}")
        for index, embed in enumerate(embeds):
            _embed_errors(errors, embed, f"embeds[{index}]")
        total = total_embed_characters(embeds)
        if total > EMBED_TOTAL_MAX:
            errors.append(
                f"embeds total {total} characters (titles, descriptions, field names and values, footer texts and "
                f"author names of all embeds), more than Discord's limit of {EMBED_TOTAL_MAX}"
            )
    if payload.get("allowed_mentions") is not None:
        _mention_errors(errors, payload["allowed_mentions"])
    if not (isinstance(content, str) and content.strip()) and not embeds:
        errors.append("content or embeds is required: Discord does not send an empty message")
    return errors


# --- truncation ---------------------------------------------------------------------------------------------------


def cut(text, limit):
    """text, or its first limit - 1 characters and an ellipsis when it is longer than limit."""
    if not isinstance(text, str) or len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return text[: limit - 1] + ELLIPSIS


def _as_text(value):
    return value if value is None or isinstance(value, str) else str(value)


def _truncate_embed(embed):
    embed = dict(embed)
    for key, limit in (("title", EMBED_TITLE_MAX), ("description", EMBED_DESCRIPTION_MAX)):
        if embed.get(key) is not None:
            embed[key] = cut(_as_text(embed[key]), limit)
    for key, inner, limit in (("footer", "text", FOOTER_TEXT_MAX), ("author", "name", AUTHOR_NAME_MAX)):
        if isinstance(embed.get(key), dict) and embed[key].get(inner) is not None:
            embed[key] = dict(embed[key], **{inner: cut(_as_text(embed[key][inner]), limit)})
    if isinstance(embed.get("fields"), list):
        fields = [item for item in embed["fields"] if isinstance(item, dict)][:EMBED_FIELDS_MAX]
        embed["fields"] = [
            dict(
                item,
                name=cut(_as_text(item.get("name")), FIELD_NAME_MAX),
                value=cut(_as_text(item.get("value")), FIELD_VALUE_MAX),
            )
            for item in fields
        ]
    return embed


def _shrink(holder, key, excess):
    """Cut holder[key] by up to excess characters (to one character at least); the characters removed."""
    text = holder.get(key)
    if not isinstance(text, str) or len(text) <= 1 or excess <= 0:
        return 0
    new_length = max(1, len(text) - excess)
    holder[key] = cut(text, new_length)
    return len(text) - len(holder[key])


def _fit_total(embeds):
    """Bring the embeds within EMBED_TOTAL_MAX, in place, taking from the last embed and the last field first."""
    excess = total_embed_characters(embeds) - EMBED_TOTAL_MAX
    if excess <= 0:
        return
    for embed in reversed(embeds):  # 1. field values, then the description
        for item in reversed(embed.get("fields") or []):
            excess -= _shrink(item, "value", excess)
        excess -= _shrink(embed, "description", excess)
    for embed in reversed(embeds):  # 2. whole fields
        fields = embed.get("fields") or []
        while excess > 0 and fields:
            removed = fields.pop()
            excess -= _length(removed.get("name")) + _length(removed.get("value"))
    for embed in reversed(embeds):  # 3. footers, author names, titles
        for holder, key in ((embed.get("footer"), "text"), (embed.get("author"), "name"), (embed, "title")):
            if isinstance(holder, dict):
                excess -= _shrink(holder, key, excess)


def truncate(payload):
    """A copy of the Execute Webhook body within every Discord limit (the input is not changed).

    Text over its limit is cut and ends with an ellipsis; embeds beyond the 10th and fields beyond the 25th are
    dropped; non-text values of text fields (numbers) become text. The 6000-character total is met by cutting
    field values and descriptions, then dropping fields, then cutting footers, author names and titles, each time
    from the last embed and the last field first. An empty message stays empty (limit_errors reports it).
    """
    result = copy.deepcopy(payload)
    if result.get("content") is not None:
        result["content"] = cut(_as_text(result["content"]), CONTENT_MAX)
    if isinstance(result.get("username"), str):
        result["username"] = cut(result["username"], USERNAME_MAX)
    if isinstance(result.get("embeds"), list):
        embeds = [_truncate_embed(embed) for embed in result["embeds"] if isinstance(embed, dict)][:EMBEDS_MAX]
        _fit_total(embeds)
        result["embeds"] = embeds
    return result


# --- delivery -----------------------------------------------------------------------------------------------------


def _flatten_errors(tree, path=""):
    """Discord's nested form errors as ``embeds[0].title: Must be 256 or fewer in length.`` lines."""
    lines = []
    if not isinstance(tree, dict):
        return lines
    for key, value in tree.items():
        if key == "_errors" and isinstance(value, list):
            for error in value:
                message = error.get("message") if isinstance(error, dict) else error
                lines.append(f"{path or 'body'}: {message}")
        elif key.isdigit():
            lines.extend(_flatten_errors(value, f"{path}[{key}]"))
        else:
            lines.extend(_flatten_errors(value, f"{path}.{key}" if path else key))
    return lines


def _describe(status, data):
    """``HTTP 400 Invalid Form Body (code 50035): content: ...`` from an error answer; also Discord's code."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = str(body.get("message") or "").strip()
        code = body.get("code")
        description = f"HTTP {status}" + (" " + message if message else "")
        if code:  # Discord's generic errors ("404: Not Found") have code 0
            description += f" (code {code})"
        details = _flatten_errors(body.get("errors"))
        if details:
            description += ": " + "; ".join(details)
        return description, code
    text = " ".join(text.split())[:200]
    return f"HTTP {status}" + (": " + text if text else ""), None


def _retry_after(data, headers):
    """Seconds a 429 answer asks to wait: the body's retry_after, else Retry-After or X-RateLimit-Reset-After."""
    try:
        body = json.loads(data.decode("utf-8", "replace"))
        if isinstance(body, dict) and body.get("retry_after") is not None:
            return max(0.0, float(body["retry_after"]))
    except (ValueError, TypeError, AttributeError):
        pass
    for name in ("Retry-After", "X-RateLimit-Reset-After"):
        try:
            return max(0.0, float(headers.get(name)))
        except (TypeError, ValueError):
            continue
    return 1.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error answer: the URL, token included, is not sent on anywhere else."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _opener(url):
    """urllib's opener without redirects, and without proxies for loopback URLs (the test servers)."""
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if host in _LOOPBACK_HOSTS:
        return urllib.request.build_opener(_NoRedirect(), urllib.request.ProxyHandler({}))
    return urllib.request.build_opener(_NoRedirect())


def post(
    url,
    payload,
    wait=True,
    timeout=None,
    deadline=None,
    user_agent=USER_AGENT,
    allow_insecure=False,
    sleep=time.sleep,
):
    """Execute the webhook with this JSON body: Discord's message object (a dict), or None when wait is false.

    timeout: seconds per request (DEFAULT_TIMEOUT); deadline: ``time.monotonic()`` value after which nothing is
    sent nor waited for (now + DEFAULT_BUDGET when None). A 429 answer is waited out (its retry_after) and sent
    again; a 5xx answer or a connection error is sent again after BACKOFF_INITIAL, doubled each time up to
    BACKOFF_MAX (with jitter). Any other error answer (400, 401, 403, 404), or a wait that would end past the
    deadline, raises DiscordError, whose message names the webhook by id and never holds the URL or token.
    """
    wid = validate_webhook_url(url, allow_insecure=allow_insecure)
    label = f"Discord webhook {wid}"
    timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
    deadline = time.monotonic() + DEFAULT_BUDGET if deadline is None else deadline
    started = time.monotonic()
    body = json.dumps(payload).encode("utf-8")
    target = _execute_url(url, wait)
    opener = _opener(target)
    headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": user_agent}
    attempts, failures, status, code, last = 0, 0, None, None, "no request made"

    def give_up(reason, retryable=True):
        elapsed = time.monotonic() - started
        plural = "" if attempts == 1 else "s"
        message = f"{label}: message not delivered after {attempts} attempt{plural} in {elapsed:.1f} s: {reason}"
        return DiscordError(
            redact(message, url), webhook_id=wid, status=status, code=code, retryable=retryable, attempts=attempts
        )

    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise give_up(last + " (deadline reached)")
        attempts += 1
        request = urllib.request.Request(target, data=body, headers=headers, method="POST")
        try:
            with opener.open(request, timeout=min(timeout, remaining)) as response:
                status, data = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, data = e.code, e.read()
            answer_headers = e.headers
            e.close()
            description, code = _describe(status, data)
            if status == 429:
                delay = _retry_after(data, answer_headers)
                last = f"{description} (retry after {delay:.3f} s)"
                if time.monotonic() + delay >= deadline:
                    raise give_up(last + ", past the deadline") from None
                sleep(delay)
                continue
            if status < 500:
                raise give_up(description, retryable=False) from None
            last = description
        except (OSError, http.client.HTTPException) as e:
            status, code = None, None
            reason = getattr(e, "reason", None) or e
            last = f"{type(e).__name__}: {reason}"
        else:
            if status == 204 or not data:
                return None
            try:
                return json.loads(data.decode("utf-8"))
            except ValueError:
                return {}
        failures += 1
        delay = min(BACKOFF_MAX, BACKOFF_INITIAL * 2 ** (failures - 1))
        delay = delay / 2 + random.uniform(0, delay / 2)
        if time.monotonic() + delay >= deadline:
            raise give_up(last + " (no time left to retry before the deadline)")
        sleep(delay)

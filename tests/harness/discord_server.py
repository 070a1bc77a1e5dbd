"""A fake Discord webhook server for the tests of the Discord helpers, sage.infra.discord_webhook and the alert Lambda.

It answers ``POST /api/webhooks/<id>/<token>`` (also ``/api/v10/webhooks/...``), with ``?wait=true``, the way
Discord's "Execute Webhook" endpoint does, and enforces what Discord documents:

- the edge refuses requests with urllib's default User-Agent (``Python-urllib/3.x``) or none: 403, plain text
  ``error code: 1010`` (Cloudflare's browser-signature ban);
- an unknown webhook id answers 404 ``{"message": "Unknown Webhook", "code": 10015}``; a known id with another
  token answers 401 ``{"message": "Invalid Webhook Token", "code": 50027}``;
- a fixed-window rate limit per webhook (``burst`` requests per ``window`` seconds): 429 with
  ``{"message": "You are being rate limited.", "retry_after": <float seconds>, "global": false}`` and the
  ``Retry-After`` / ``X-RateLimit-*`` headers (every answer carries the ``X-RateLimit-*`` headers);
- the body must be JSON (400 code 50109 otherwise), with ``content`` or ``embeds`` (400 code 50006,
  "Cannot send an empty message"), and within the message limits: content <= 2000 characters, <= 10 embeds,
  embed title <= 256, description <= 4096, <= 25 fields, field name <= 256 and value <= 1024 (both required),
  footer text <= 2048, author name <= 256, username 1-80, and at most 6000 characters in all the embeds' title,
  description, field names and values, footer text and author names together; a violation answers 400
  ``{"message": "Invalid Form Body", "code": 50035, "errors": {...}}`` in Discord's nested error shape;
- an accepted message answers 204, or 200 with the message object (snowflake ``id``, ``channel_id``,
  ``webhook_id``, ``content``, ``embeds``...) with ``?wait=true``.

``fail_next(k, status)`` makes the next k requests answer a 5xx. Every request is recorded (``requests``,
without the token) and every accepted message is kept per webhook (``messages(webhook_id)``).
The limits are implemented here independently of ``plugins/module_utils/discord.py`` so each checks the other.

Command line (creates one webhook, prints its URL and every message it receives, serves until Ctrl-C)::

    python -m tests.harness.discord_server [--port PORT] [--burst 5] [--window 2]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.harness.net import HOST, free_port

DISCORD_EPOCH_MS = 1420070400000
PATH = re.compile(r"^/api(?:/v\d+)?/webhooks/(?P<id>\d+)/(?P<token>[A-Za-z0-9_.-]+)/?$")

CONTENT_MAX = 2000
EMBEDS_MAX = 10
FIELDS_MAX = 25
EMBED_TOTAL_MAX = 6000
USERNAME_MAX = 80
EMBED_TEXT_MAX = {"title": 256, "description": 4096}
FIELD_TEXT_MAX = {"name": 256, "value": 1024}
NESTED_TEXT = {"footer": ("text", 2048), "author": ("name", 256)}


@dataclass
class Webhook:
    id: str
    token: str
    channel_id: str
    messages: list[dict] = field(default_factory=list)
    window_start: float = 0.0
    window_count: int = 0


@dataclass
class Request:
    """One request as the server saw it (the webhook token is not kept)."""

    webhook_id: str | None
    status: int
    user_agent: str | None
    wait: bool
    body: bytes


class _Errors:
    """Discord's nested ``errors`` object: {"embeds": {"0": {"title": {"_errors": [{code, message}]}}}}."""

    def __init__(self):
        self.tree: dict = {}

    def add(self, path: tuple, code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def too_long(self, path: tuple, limit: int) -> None:
        self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def required(self, path: tuple) -> None:
        self.add(path, "BASE_TYPE_REQUIRED", "This field is required")

    def bad_type(self, path: tuple, kind: str) -> None:
        self.add(path, "MODEL_TYPE_CONVERT" if kind == "object" else "BASE_TYPE_STRING", f"Must be a valid {kind}.")


def _text(errors: _Errors, value, path: tuple, limit: int, required: bool = False) -> int:
    """Check one text value; its length (0 when absent or not a string)."""
    if value is None:
        if required:
            errors.required(path)
        return 0
    if not isinstance(value, str):
        errors.bad_type(path, "string")
        return 0
    if required and not value.strip():
        errors.required(path)
    if len(value) > limit:
        errors.too_long(path, limit)
    return len(value)


def _embed(errors: _Errors, embed, index: int) -> int:
    """Check one embed; the characters it counts towards the 6000 total."""
    path = ("embeds", index)
    if not isinstance(embed, dict):
        errors.bad_type(path, "object")
        return 0
    total = sum(_text(errors, embed.get(key), (*path, key), limit) for key, limit in EMBED_TEXT_MAX.items())
    for key, (inner, limit) in NESTED_TEXT.items():
        if key in embed and embed[key] is not None:
            if isinstance(embed[key], dict):
                total += _text(errors, embed[key].get(inner), (*path, key, inner), limit, required=True)
            else:
                errors.bad_type((*path, key), "object")
    fields = embed.get("fields") or []
    if not isinstance(fields, list):
        errors.bad_type((*path, "fields"), "array")
        return total
    if len(fields) > FIELDS_MAX:
        errors.too_long((*path, "fields"), FIELDS_MAX)
    for number, item in enumerate(fields):
        if not isinstance(item, dict):
            errors.bad_type((*path, "fields", number), "object")
            continue
        for key, limit in FIELD_TEXT_MAX.items():
            total += _text(errors, item.get(key), (*path, "fields", number, key), limit, required=True)
    color = embed.get("color")
    if color is not None and (not isinstance(color, int) or isinstance(color, bool) or not 0 <= color <= 0xFFFFFF):
        errors.add((*path, "color"), "NUMBER_TYPE_MAX", "int value should be less than or equal to 16777215.")
    return total


def validate(payload) -> tuple[int, dict] | None:
    """None when Discord would accept the message body, else (status, Discord's error object)."""
    if not isinstance(payload, dict):
        return 400, {"message": "Cannot send an empty message", "code": 50006}
    errors = _Errors()
    content = payload.get("content")
    embeds = payload.get("embeds")
    _text(errors, content, ("content",), CONTENT_MAX)
    if "username" in payload and payload["username"] is not None:
        username = payload["username"]
        if not isinstance(username, str) or not 1 <= len(username.strip()) <= USERNAME_MAX:
            errors.add(("username",), "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {USERNAME_MAX} in length.")
    total = 0
    if embeds is not None:
        if not isinstance(embeds, list):
            errors.bad_type(("embeds",), "array")
            embeds = []
        if len(embeds) > EMBEDS_MAX:
            errors.too_long(("embeds",), EMBEDS_MAX)
        total = sum(_embed(errors, embed, index) for index, embed in enumerate(embeds))
        if total > EMBED_TOTAL_MAX:
            errors.add(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}")
    if errors.tree:
        return 400, {"message": "Invalid Form Body", "code": 50035, "errors": errors.tree}
    if not (isinstance(content, str) and content.strip()) and not embeds:
        return 400, {"message": "Cannot send an empty message", "code": 50006}
    return None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Server Error"


class FakeDiscord:
    """The server's state; thread-safe. Start it with ``start()`` or ``running()``."""

    def __init__(self, burst: int = 5, window: float = 2.0, host: str = HOST, port: int | None = None):
        self.burst = burst
        self.window = window
        self.host = host
        self.port = port
        self.requests: list[Request] = []
        self._webhooks: dict[str, Webhook] = {}
        self._failures: list[int] = []
        self._sequence = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- set-up and assertions -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def create_webhook(self, webhook_id: str | None = None, token: str | None = None) -> str:
        """Register a webhook; its URL."""
        with self._lock:
            webhook_id = webhook_id or str(self._snowflake())
            token = token or secrets.token_urlsafe(51)
            self._webhooks[webhook_id] = Webhook(webhook_id, token, channel_id=str(self._snowflake()))
        return self.url(webhook_id)

    def delete_webhook(self, webhook_id: str) -> None:
        """Forget a webhook: it then answers 404 Unknown Webhook, as after its deletion in Discord."""
        with self._lock:
            del self._webhooks[webhook_id]

    def url(self, webhook_id: str) -> str:
        return f"{self.base_url}/api/webhooks/{webhook_id}/{self._webhooks[webhook_id].token}"

    def token(self, webhook_id: str) -> str:
        return self._webhooks[webhook_id].token

    def channel_id(self, webhook_id: str) -> str:
        return self._webhooks[webhook_id].channel_id

    def messages(self, webhook_id: str) -> list[dict]:
        """The messages the webhook accepted, in order (the JSON bodies plus the message "id")."""
        with self._lock:
            return list(self._webhooks[webhook_id].messages)

    def statuses(self) -> list[int]:
        with self._lock:
            return [request.status for request in self.requests]

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next count requests (whatever their webhook) with this 5xx status."""
        with self._lock:
            self._failures.extend([status] * count)

    def set_rate_limit(self, burst: int, window: float) -> None:
        with self._lock:
            self.burst, self.window = burst, window
            for webhook in self._webhooks.values():
                webhook.window_start, webhook.window_count = 0.0, 0

    def reset(self) -> None:
        """Forget the requests, messages, rate-limit windows and pending failures (keep the webhooks)."""
        with self._lock:
            self.requests.clear()
            self._failures.clear()
            for webhook in self._webhooks.values():
                webhook.messages.clear()
                webhook.window_start, webhook.window_count = 0.0, 0

    # --- serving ---------------------------------------------------------------------------------------------

    def start(self) -> FakeDiscord:
        state = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "fake-discord"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = state.handle(self.path, self.headers, body)
                self._answer(status, headers, payload)

            def do_GET(self):
                self._answer(405, {}, {"message": "405: Method Not Allowed", "code": 0})

            def _answer(self, status, headers, payload):
                if payload is None:
                    data, content_type = b"", None
                elif isinstance(payload, str):
                    data, content_type = payload.encode(), "text/plain; charset=UTF-8"
                else:
                    data, content_type = json.dumps(payload).encode(), "application/json"
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if content_type:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format, *args):
                pass

        for _attempt in range(3):  # another process may take the free port first
            try:
                self._httpd = ThreadingHTTPServer((self.host, self.port or free_port()), Handler)
                break
            except OSError:
                if self.port:
                    raise
        else:
            raise RuntimeError("could not bind a free loopback port")
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-discord", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    # --- Discord's behaviour ---------------------------------------------------------------------------------

    def _snowflake(self) -> int:
        self._sequence += 1
        return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (self._sequence & 0xFFF)

    def _rate_headers(self, webhook: Webhook, now: float) -> dict:
        reset_after = max(0.0, webhook.window_start + self.window - now)
        return {
            "X-RateLimit-Limit": str(self.burst),
            "X-RateLimit-Remaining": str(max(0, self.burst - webhook.window_count)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": f"webhook-{webhook.id}",
        }

    def handle(self, path: str, headers, body: bytes) -> tuple[int, dict, object]:
        """(status, headers, body) for one POST; body is a JSON object, a text or None (no body)."""
        with self._lock:
            status, answer_headers, payload, webhook_id, wait = self._handle(path, headers, body)
            self.requests.append(Request(webhook_id, status, headers.get("User-Agent"), wait, body))
            return status, answer_headers, payload

    def _handle(self, path, headers, body):
        split = urlsplit(path)
        query = parse_qs(split.query)
        wait = (query.get("wait") or ["false"])[-1].lower() in ("true", "1")
        user_agent = headers.get("User-Agent") or ""
        if not user_agent.strip() or user_agent.startswith("Python-urllib/"):
            return 403, {}, "error code: 1010", None, wait
        if self._failures:
            status = self._failures.pop(0)
            return status, {}, {"message": f"{status}: {_phrase(status)}", "code": 0}, None, wait
        match = PATH.match(split.path)
        if not match:
            return 404, {}, {"message": "404: Not Found", "code": 0}, None, wait
        webhook = self._webhooks.get(match["id"])
        if webhook is None:
            return 404, {}, {"message": "Unknown Webhook", "code": 10015}, match["id"], wait
        if not secrets.compare_digest(webhook.token, match["token"]):
            return 401, {}, {"message": "Invalid Webhook Token", "code": 50027}, webhook.id, wait

        now = time.monotonic()
        if now >= webhook.window_start + self.window:
            webhook.window_start, webhook.window_count = now, 0
        if webhook.window_count >= self.burst:
            retry_after = round(max(0.001, webhook.window_start + self.window - now), 3)
            rate_headers = {
                **self._rate_headers(webhook, now),
                "Retry-After": str(math.ceil(retry_after)),
                "X-RateLimit-Scope": "shared",
            }
            limited = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
            return 429, rate_headers, limited, webhook.id, wait
        webhook.window_count += 1
        rate_headers = self._rate_headers(webhook, now)

        if "json" not in (headers.get("Content-Type") or ""):
            return 400, rate_headers, {"message": "Cannot send an empty message", "code": 50006}, webhook.id, wait
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            error = {"message": "The request body contains invalid JSON.", "code": 50109}
            return 400, rate_headers, error, webhook.id, wait
        invalid = validate(payload)
        if invalid:
            return invalid[0], rate_headers, invalid[1], webhook.id, wait

        message = {
            "id": str(self._snowflake()),
            "type": 0,
            "channel_id": webhook.channel_id,
            "webhook_id": webhook.id,
            "content": payload.get("content") or "",
            "embeds": payload.get("embeds") or [],
            "author": {"id": webhook.id, "username": payload.get("username") or "Fake Webhook", "bot": True},
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        }
        webhook.messages.append({**payload, "id": message["id"]})
        if wait:
            return 200, rate_headers, message, webhook.id, wait
        return 204, rate_headers, None, webhook.id, wait


@contextmanager
def running(burst: int = 5, window: float = 2.0):
    """A started FakeDiscord on a free loopback port, stopped at the end."""
    server = FakeDiscord(burst=burst, window=window).start()
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="discord_server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None, help="listen on this port (default: a free one)")
    parser.add_argument("--burst", type=int, default=5, help="requests per window and webhook (default 5)")
    parser.add_argument("--window", type=float, default=2.0, help="rate-limit window in seconds (default 2)")
    args = parser.parse_args(argv)
    server = FakeDiscord(burst=args.burst, window=args.window, port=args.port).start()
    webhook_url = server.create_webhook()
    webhook_id = webhook_url.rsplit("/", 2)[1]
    print(f"fake Discord on {server.base_url}; webhook URL: {webhook_url}", flush=True)
    seen = 0
    try:
        while True:
            time.sleep(0.5)
            messages = server.messages(webhook_id)
            for message in messages[seen:]:
                print(json.dumps(message, ensure_ascii=False), flush=True)
            seen = len(messages)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

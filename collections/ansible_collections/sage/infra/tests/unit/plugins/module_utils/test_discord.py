# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for module_utils/discord.py, against the fake Discord server of tests/harness/discord_server.py.

The fake server implements Discord's limits on its own, so the limits are checked twice, independently.
Rate-limit windows and retry backoffs are made small (tenths of seconds), never skipped.
"""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ansible_collections.sage.infra.plugins.module_utils import discord

pytestmark = pytest.mark.usefixtures("fast_backoff")


@pytest.fixture
def sleeps():
    """A sleep that records how long it was asked to sleep (and sleeps)."""
    recorded = []

    def _sleep(seconds):
        recorded.append(seconds)
        time.sleep(seconds)

    _sleep.recorded = recorded
    return _sleep


def post(url, payload, **kwargs):
    return discord.post(url, payload, allow_insecure=True, **kwargs)


def embed(**extra):
    return {"title": "t", "description": "d", **extra}


def field(name="n", value="v"):
    return {"name": name, "value": value}


# --- limits -------------------------------------------------------------------------------------------------------


def test_limits_are_discords():
    limits = (discord.CONTENT_MAX, discord.EMBEDS_MAX, discord.EMBED_TITLE_MAX, discord.EMBED_DESCRIPTION_MAX)
    assert limits == (2000, 10, 256, 4096)
    assert (discord.EMBED_FIELDS_MAX, discord.FIELD_NAME_MAX, discord.FIELD_VALUE_MAX) == (25, 256, 1024)
    assert (discord.FOOTER_TEXT_MAX, discord.AUTHOR_NAME_MAX, discord.EMBED_TOTAL_MAX) == (2048, 256, 6000)


def test_a_message_at_every_limit_is_valid(fake_discord):
    payload = {
        "content": "c" * 2000,
        "username": "u" * 80,
        "embeds": [
            {
                "title": "t" * 256,
                "description": "d" * 4096,
                "fields": [field("n" * 256, "v" * 1024)],
                "footer": {"text": "f" * 312},
                "author": {"name": "a" * 56},
                "color": 0xFFFFFF,
            }
        ],
    }
    assert discord.total_embed_characters(payload["embeds"]) == 6000
    assert discord.limit_errors(payload) == []
    assert fake_discord.validate(payload) is None


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"content": "c" * 2001}, "content is 2001 characters, more than Discord's limit of 2000"),
        ({"embeds": [embed(title="t" * 257)]}, "embeds[0].title is 257 characters, more than Discord's limit of 256"),
        ({"embeds": [embed(), embed(description="d" * 4097)]}, "embeds[1].description is 4097 characters"),
        ({"embeds": [embed(fields=[field()] * 26)]}, "embeds[0].fields has 26 fields, more than Discord's limit of 25"),
        ({"embeds": [embed(fields=[field(), field("n" * 257)])]}, "embeds[0].fields[1].name is 257 characters"),
        ({"embeds": [embed(fields=[field(value="v" * 1025)])]}, "embeds[0].fields[0].value is 1025 characters"),
        ({"embeds": [embed(fields=[{"name": "n"}])]}, "embeds[0].fields[0].value is required"),
        ({"embeds": [embed(fields=[field(name=" ")])]}, "embeds[0].fields[0].name must not be empty"),
        ({"embeds": [embed(fields=[field(value=5)])]}, "embeds[0].fields[0].value must be a string, not int"),
        ({"embeds": [embed(footer={"text": "f" * 2049})]}, "embeds[0].footer.text is 2049 characters"),
        ({"embeds": [embed(author={"name": "a" * 257})]}, "embeds[0].author.name is 257 characters"),
        ({"embeds": [embed(footer={})]}, "embeds[0].footer.text is required"),
        ({"embeds": [embed(color=0x1000000)]}, "embeds[0].color must be an integer from 0 to 16777215"),
        ({"embeds": [embed()] * 11}, "embeds has 11 embeds, more than Discord's limit of 10"),
        ({"embeds": ["title"]}, "embeds[0] must be a dict (an embed object), not str"),
        ({"embeds": [embed(description="d" * 4000), embed(description="d" * 2000)]}, "embeds total 6002 characters"),
        ({"content": "hi", "username": "u" * 81}, "username is 81 characters, more than Discord's limit of 80"),
        ({}, "content or embeds is required"),
        ({"content": "  ", "embeds": []}, "content or embeds is required"),
        ({"content": "hi", "allowed_mentions": {"parse": ["here"]}}, "allowed_mentions.parse must be a list of"),
        (
            {"content": "hi", "allowed_mentions": {"parse": ["users"], "users": ["1"]}},
            "allowed_mentions: users cannot be both in parse and listed",
        ),
    ],
)
def test_limit_errors_name_the_field(payload, expected):
    errors = discord.limit_errors(payload)
    assert any(error.startswith(expected) for error in errors), errors


def test_limit_errors_lists_every_problem():
    payload = {"content": "c" * 2001, "embeds": [embed(title="t" * 300, fields=[field(value="v" * 2000)])]}
    errors = discord.limit_errors(payload)
    assert [error.partition(" ")[0] for error in errors] == ["content", "embeds[0].title", "embeds[0].fields[0].value"]
    assert discord.limit_errors("text") == ["the message must be a dict (JSON object), not str"]


@pytest.mark.parametrize(
    "payload",
    [
        {"content": "ok"},
        {"content": "c" * 2001},
        {"embeds": [embed(fields=[field()] * 25)]},
        {"embeds": [embed(fields=[field()] * 26)]},
        {"embeds": [embed(description="d" * 3000), embed(description="d" * 2998)]},
        {"embeds": [embed(description="d" * 3000), embed(description="d" * 2999)]},
        {"embeds": [embed(fields=[{"name": "n", "value": ""}])]},
        {"embeds": [embed(author={"name": "a" * 257})]},
        {"embeds": [embed()] * 10},
        {"embeds": [embed()] * 11},
        {"content": ""},
    ],
)
def test_limit_errors_agree_with_the_fake_server(payload, fake_discord):
    assert (discord.limit_errors(payload) == []) == (fake_discord.validate(payload) is None)


# --- truncation ---------------------------------------------------------------------------------------------------


def test_truncate_cuts_each_text_with_an_ellipsis_and_leaves_the_input_alone():
    payload = {
        "content": "c" * 2500,
        "username": "u" * 100,
        "embeds": [
            {
                "title": "t" * 300,
                "description": "d" * 100,
                "fields": [field("n" * 300, "v" * 1100), field("short", 42)],
                "footer": {"text": "f" * 100},
                "author": {"name": "a" * 300},
            }
        ],
    }
    result = discord.truncate(payload)
    assert payload["content"] == "c" * 2500, "input changed"
    assert result["content"] == "c" * 1999 + "\u2026"
    assert len(result["username"]) == 80
    first = result["embeds"][0]
    assert first["title"] == "t" * 255 + "\u2026"
    assert first["description"] == "d" * 100
    assert first["fields"][0] == {"name": "n" * 255 + "\u2026", "value": "v" * 1023 + "\u2026"}
    assert first["fields"][1] == {"name": "short", "value": "42"}
    assert first["author"]["name"] == "a" * 255 + "\u2026"
    assert first["footer"] == {"text": "f" * 100}
    assert discord.limit_errors(result) == []


def test_truncate_keeps_a_valid_message_as_it_is():
    payload = {"content": "c" * 2000, "embeds": [embed(fields=[field()] * 25)], "allowed_mentions": {"parse": []}}
    assert discord.truncate(payload) == payload


def test_truncate_drops_embeds_and_fields_beyond_the_count_limits():
    result = discord.truncate({"embeds": [embed(title=str(i), fields=[field()] * 30) for i in range(12)]})
    assert [e["title"] for e in result["embeds"]] == [str(i) for i in range(10)]
    assert all(len(e["fields"]) == 25 for e in result["embeds"])


def test_truncate_meets_the_total_from_the_last_embed_first(fake_discord):
    payload = {
        "embeds": [
            embed(description="a" * 3000, fields=[field("x", "1" * 1000)]),
            embed(description="b" * 3000, fields=[field("y", "2" * 1000), field("z", "3" * 1000)]),
        ]
    }
    result = discord.truncate(payload)
    first, second = result["embeds"]
    assert discord.total_embed_characters(result["embeds"]) == 6000
    assert first == payload["embeds"][0], "the first embed is kept whole"
    assert [f["value"] for f in second["fields"]] == ["\u2026", "\u2026"], "field values go first, the last first"
    assert second["description"] == "b" * 1992 + "\u2026", "then the description, as much as needed"
    assert len(second["description"]) == 6000 - 4002 - (1 + 2 + 2)
    assert discord.limit_errors(result) == []
    assert fake_discord.validate(result) is None


def test_truncate_fits_the_largest_possible_message(fake_discord):
    biggest = {
        "title": "t" * 999,
        "description": "d" * 9999,
        "fields": [field("n" * 999, "v" * 9999)] * 30,
        "footer": {"text": "f" * 9999},
        "author": {"name": "a" * 999},
    }
    result = discord.truncate({"content": "c" * 9999, "embeds": [biggest] * 12})
    assert discord.limit_errors(result) == []
    assert fake_discord.validate(result) is None
    assert len(result["embeds"]) == 10
    assert result["embeds"][0]["title"] == "t" * 255 + "\u2026"


# --- webhook URLs -------------------------------------------------------------------------------------------------

TOKEN = "not-a-real-token_" * 4  # the shape of a webhook token, obviously fake
WEBHOOK_ID = "123456789012345678"  # a snowflake id of 18 digits, as Discord gives


@pytest.mark.parametrize(
    "url",
    [
        f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}",
        f"https://discordapp.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}",
        f"https://canary.discord.com/api/v10/webhooks/{WEBHOOK_ID}/{TOKEN}/",
        f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}?thread_id=987",
    ],
)
def test_discord_webhook_urls_are_valid(url):
    assert discord.validate_webhook_url(url) == "123456789012345678"


@pytest.mark.parametrize(
    ("url", "allow_insecure", "expected"),
    [
        (
            f"http://discord.com/api/webhooks/1/{TOKEN}",
            False,
            "points to http://discord.com, not to https://discord.com",
        ),
        (f"https://discord.example/api/webhooks/1/{TOKEN}", False, "points to https://discord.example"),
        (f"https://discord.com:8443/api/webhooks/1/{TOKEN}", False, "points to https://discord.com, not"),
        (f"http://127.0.0.1:8080/api/webhooks/1/{TOKEN}", False, "points to http://127.0.0.1"),
        (f"http://10.0.0.1/api/webhooks/1/{TOKEN}", True, "or http://127.0.0.1 (loopback, tests only)"),
        (
            "https://discord.com/api/webhooks/1",
            False,
            "is not of the form https://discord.com/api/webhooks/<id>/<token>",
        ),
        (f"https://discord.com/api/webhooks/abc/{TOKEN}", False, "is not of the form"),
        (f"https://user:{TOKEN}@discord.com/api/webhooks/1/x", False, "is not of the form"),
        (f"https://discord.com/api/webhooks/1/{TOKEN}?wait=false", False, "has a query other than ?thread_id"),
        (f"https://discord.com/api/webhooks/1/{TOKEN}#x", False, "is not of the form"),
        ("", False, "the webhook URL is empty"),
        (None, False, "the webhook URL is empty"),
    ],
)
def test_invalid_webhook_urls_are_refused_without_repeating_them(url, allow_insecure, expected):
    with pytest.raises(discord.InvalidWebhookURL) as error:
        discord.validate_webhook_url(url, allow_insecure=allow_insecure)
    assert expected in str(error.value)
    assert TOKEN not in str(error.value)
    assert isinstance(error.value, ValueError)


def test_loopback_urls_need_allow_insecure():
    url = f"http://localhost:8080/api/webhooks/42/{TOKEN}"
    assert discord.validate_webhook_url(url, allow_insecure=True) == "42"
    assert discord.validate_webhook_url(f"http://[::1]:1/api/webhooks/43/{TOKEN}", allow_insecure=True) == "43"


def test_redact():
    url = f"https://discord.com/api/webhooks/42/{TOKEN}"
    assert discord.redact(f"failed: {url}", url) == "failed: ***"
    assert discord.redact(f"token {TOKEN} seen", url) == "token *** seen"
    assert discord.webhook_id(url) == "42"
    assert discord.webhook_id("nothing") == "?"


# --- delivery -----------------------------------------------------------------------------------------------------


def test_post_waits_for_the_message_and_sets_a_user_agent(server, hook):
    url, webhook_id, _token = hook
    message = post(url, {"content": "deployed", "allowed_mentions": {"parse": []}})
    assert message["channel_id"] == server.channel_id(webhook_id)
    assert message["content"] == "deployed"
    assert [m["id"] for m in server.messages(webhook_id)] == [message["id"]]
    assert server.messages(webhook_id)[0]["allowed_mentions"] == {"parse": []}
    (request,) = server.requests
    assert request.status == 200
    assert request.wait is True
    assert request.user_agent == discord.USER_AGENT
    assert request.user_agent.startswith("sage-infra (https://")


def test_post_without_wait_returns_none(server, hook):
    url, webhook_id, _token = hook
    assert post(url, {"content": "fire and forget"}, wait=False, user_agent="custom-agent/1.0") is None
    (request,) = server.requests
    assert (request.status, request.wait, request.user_agent) == (204, False, "custom-agent/1.0")
    assert server.messages(webhook_id)[0]["content"] == "fire and forget"


def test_post_keeps_the_thread_id(server, hook):
    url, webhook_id, _token = hook
    assert post(url + "?thread_id=5", {"content": "in a thread"})["id"] == server.messages(webhook_id)[0]["id"]


def test_urllibs_default_user_agent_is_refused_like_discords_edge(server, hook):
    url, _webhook_id, token = hook
    with pytest.raises(discord.DiscordError) as error:
        post(url, {"content": "x"}, user_agent="Python-urllib/3.11")
    assert error.value.status == 403
    assert error.value.attempts == 1
    assert error.value.retryable is False
    assert "HTTP 403: error code: 1010" in str(error.value)
    assert token not in str(error.value)


def test_rate_limits_are_waited_out_and_nothing_is_lost(server, hook, sleeps):
    url, webhook_id, _token = hook
    server.set_rate_limit(burst=2, window=0.3)
    started = time.monotonic()
    for number in range(7):
        post(url, {"content": f"message {number}"}, sleep=sleeps)
    elapsed = time.monotonic() - started
    assert [m["content"] for m in server.messages(webhook_id)] == [f"message {n}" for n in range(7)]
    statuses = server.statuses()
    assert statuses.count(429) == len(sleeps.recorded) >= 3
    assert statuses.count(200) == 7
    assert all(0 < seconds <= 0.3 for seconds in sleeps.recorded), sleeps.recorded
    assert elapsed >= 0.9, "7 messages at 2 per 0.3 s take at least 3 windows"


def test_a_rate_limit_past_the_deadline_gives_up_without_waiting(server, hook, sleeps):
    url, webhook_id, token = hook
    server.set_rate_limit(burst=1, window=5)
    post(url, {"content": "first"})
    with pytest.raises(discord.DiscordError) as error:
        post(url, {"content": "second"}, deadline=time.monotonic() + 1, sleep=sleeps)
    assert sleeps.recorded == []
    assert error.value.status == 429
    assert error.value.retryable is True
    assert "You are being rate limited." in str(error.value)
    assert "past the deadline" in str(error.value)
    assert token not in str(error.value)
    assert len(server.messages(webhook_id)) == 1


def test_server_errors_are_retried_with_growing_backoff(server, hook, sleeps):
    url, webhook_id, _token = hook
    server.fail_next(3, status=502)
    message = post(url, {"content": "after a hiccup"}, sleep=sleeps)
    assert server.statuses() == [502, 502, 502, 200]
    assert [m["id"] for m in server.messages(webhook_id)] == [message["id"]]
    assert len(sleeps.recorded) == 3
    assert sleeps.recorded == sorted(sleeps.recorded)
    assert 0.005 <= sleeps.recorded[0] <= 0.01
    assert sleeps.recorded[2] >= 0.02


def test_giving_up_at_the_deadline_with_a_redacted_error(server, hook):
    url, webhook_id, token = hook
    server.fail_next(10_000, status=500)
    started = time.monotonic()
    with pytest.raises(discord.DiscordError) as error:
        post(url, {"content": "lost"}, deadline=started + 0.4)
    elapsed = time.monotonic() - started
    assert elapsed < 0.4 + 0.2, "never waits past the deadline"
    message = str(error.value)
    assert message.startswith(f"Discord webhook {webhook_id}: message not delivered after ")
    assert "HTTP 500 500: Internal Server Error" in message
    assert token not in message
    assert url not in message
    assert error.value.status == 500
    assert error.value.retryable is True
    assert error.value.attempts == len(server.requests) >= 3
    assert error.value.webhook_id == webhook_id
    assert server.messages(webhook_id) == []


def test_connection_errors_are_retried_until_the_deadline(fake_discord):
    port = fake_discord.free_port()
    token = "secret-token-value"
    url = f"http://127.0.0.1:{port}/api/webhooks/77/{token}"
    with pytest.raises(discord.DiscordError) as error:
        post(url, {"content": "nobody listens"}, deadline=time.monotonic() + 0.3)
    assert error.value.status is None
    assert error.value.attempts >= 2
    assert "URLError" in str(error.value)
    assert "Connection refused" in str(error.value)
    assert token not in str(error.value)


def test_refused_messages_are_not_retried_and_name_the_field(server, hook):
    url, webhook_id, _token = hook
    with pytest.raises(discord.DiscordError) as error:
        post(url, {"embeds": [embed(fields=[field(value="v" * 1025)])]})
    assert error.value.status == 400
    assert error.value.code == 50035
    assert error.value.attempts == 1
    assert str(error.value).endswith(
        "HTTP 400 Invalid Form Body (code 50035): embeds[0].fields[0].value: Must be 1024 or fewer in length."
    )
    with pytest.raises(discord.DiscordError, match=r"Cannot send an empty message \(code 50006\)"):
        post(url, {"content": ""})
    assert server.messages(webhook_id) == []


def test_unknown_webhook_and_wrong_token(server, hook):
    url, webhook_id, token = hook
    unknown = url.replace(f"/{webhook_id}/", "/1234/")
    with pytest.raises(discord.DiscordError) as error:
        post(unknown, {"content": "x"})
    assert (error.value.status, error.value.code) == (404, 10015)
    assert "HTTP 404 Unknown Webhook (code 10015)" in str(error.value)
    wrong = url.replace(token, "not-the-token")
    with pytest.raises(discord.DiscordError) as error:
        post(wrong, {"content": "x"})
    assert (error.value.status, error.value.code) == (401, 50027)
    assert "not-the-token" not in str(error.value)
    assert token not in str(error.value)


def test_invalid_url_is_refused_before_any_request(server, hook):
    url, _webhook_id, token = hook
    with pytest.raises(discord.InvalidWebhookURL) as error:
        discord.post(url, {"content": "x"})  # loopback without allow_insecure
    assert token not in str(error.value)
    assert server.requests == []


REDIRECTED = []


class _Redirecting(BaseHTTPRequestHandler):
    """Answers every POST with a redirect to another path of itself, and records the paths it was asked."""

    def do_POST(self):  # pylint: disable=invalid-name
        REDIRECTED.append(self.path)
        self.send_response(307)
        self.send_header("Location", f"http://127.0.0.1:{self.server.server_address[1]}/elsewhere{self.path}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


def test_redirects_are_not_followed(fake_discord):
    httpd = ThreadingHTTPServer((fake_discord.HOST, 0), _Redirecting)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/api/webhooks/5/{TOKEN}"
        with pytest.raises(discord.DiscordError) as error:
            post(url, {"content": "x"})
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert error.value.status == 307
    assert error.value.retryable is False
    assert [path.split("?")[0] for path in REDIRECTED] == [f"/api/webhooks/5/{TOKEN}"]
    assert TOKEN not in str(error.value)

# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.discord_webhook, run against the fake Discord server of tests/harness/discord_server.py.

The `run` fixture fails a test whose module output holds the webhook URL or its token.
"""

import pytest
from ansible_collections.sage.infra.plugins.module_utils import discord
from ansible_collections.sage.infra.plugins.modules import discord_webhook as mod

pytestmark = pytest.mark.usefixtures("fast_backoff")


@pytest.fixture
def run(module_runner, hook):
    """The module with the fake webhook (loopback allowed); the URL and its token must not be in the output."""
    url, _webhook_id, token = hook
    return module_runner(mod.main, secrets=(url, token), webhook_url=url, allow_insecure_url=True)


def test_content_is_posted_without_pings(run, server, hook):
    _url, webhook_id, _token = hook
    result = run(content="Deployed abc123 @everyone")
    (message,) = server.messages(webhook_id)
    assert result == {
        "changed": True,
        "webhook_id": webhook_id,
        "message_id": message["id"],
        "channel_id": server.channel_id(webhook_id),
    }
    assert message["content"] == "Deployed abc123 @everyone"
    assert message["allowed_mentions"] == {"parse": []}
    assert "embeds" not in message
    (request,) = server.requests
    assert request.user_agent == discord.USER_AGENT
    assert request.wait is True


def test_embeds_username_and_mentions_are_sent_as_given(run, server, hook):
    _url, webhook_id, _token = hook
    embeds = [
        {
            "title": "Database restored",
            "color": 3066993,
            "fields": [{"name": "Duration", "value": 12, "inline": True}, {"name": 3, "value": "three"}],
            "footer": {"text": 2026},
        }
    ]
    run(embeds=embeds, username="sage-infra", allowed_mentions={"roles": ["42"]}, avatar_url="https://x")
    (message,) = server.messages(webhook_id)
    assert message["username"] == "sage-infra"
    assert message["avatar_url"] == "https://x"
    assert message["allowed_mentions"] == {"roles": ["42"]}
    assert message["embeds"][0]["fields"] == [
        {"name": "Duration", "value": "12", "inline": True},
        {"name": "3", "value": "three"},
    ], "numbers from templating are sent as text"
    assert message["embeds"][0]["footer"] == {"text": "2026"}
    assert message["embeds"][0]["color"] == 3066993


def test_without_wait_no_message_id(run, server, hook):
    _url, webhook_id, _token = hook
    result = run(content="no wait", wait=False)
    assert result == {"changed": True, "webhook_id": webhook_id}
    assert [r.status for r in server.requests] == [204]
    assert server.messages(webhook_id)[0]["content"] == "no wait"


def test_check_mode_sends_nothing(run, server):
    embeds = [{"title": "t", "description": "d" * 10, "fields": [{"name": "n", "value": "v"}]}]
    result = run(check_mode=True, content="hello", embeds=embeds)
    assert result["changed"] is True
    assert result["would_send"] == {"content_length": 5, "embeds": 1, "embed_characters": 13, "username": None}
    assert server.requests == []


@pytest.mark.parametrize("check_mode", [False, True])
def test_limits_are_checked_before_sending(run, server, check_mode):
    embeds = [{"title": "t" * 300, "fields": [{"name": "n", "value": "v" * 1025}]}]
    result = run.failure(check_mode=check_mode, content="c" * 2001, embeds=embeds)
    assert result["msg"].startswith("Discord would refuse this message, nothing was sent: ")
    assert result["errors"] == [
        "content is 2001 characters, more than Discord's limit of 2000",
        "embeds[0].title is 300 characters, more than Discord's limit of 256",
        "embeds[0].fields[0].value is 1025 characters, more than Discord's limit of 1024",
    ]
    assert server.requests == []


def test_content_or_embeds_required(run, server):
    msg = run.fail()
    assert "one of the following is required: content, embeds" in msg
    msg = run.fail(content="   ")
    assert "content or embeds is required" in msg
    assert server.requests == []


def test_loopback_url_needs_allow_insecure_url(run, server, hook):
    _url, webhook_id, _token = hook
    msg = run.fail(content="x", allow_insecure_url=False)
    assert msg.startswith(f"webhook_url: the webhook URL (webhook {webhook_id}) points to http://127.0.0.1")
    assert server.requests == []


def test_not_a_webhook_url(module_runner, server):
    token = "tok-" + "z" * 60
    url = f"https://example.com/api/webhooks/1/{token}"
    msg = module_runner(mod.main, secrets=(url, token), webhook_url=url).fail(content="x")
    assert "points to https://example.com, not to https://discord.com" in msg


def test_timeout_must_be_positive(run, server):
    msg = run.fail(content="x", timeout=0)
    assert msg == "timeout must be a positive number of seconds; got 0.0"


def test_rate_limits_are_honoured(run, server, hook):
    _url, webhook_id, _token = hook
    server.set_rate_limit(burst=1, window=0.2)
    for number in range(3):
        run(content=f"message {number}")
    assert [m["content"] for m in server.messages(webhook_id)] == ["message 0", "message 1", "message 2"]
    assert 429 in server.statuses()


def test_server_errors_are_retried(run, server, hook):
    _url, webhook_id, _token = hook
    server.fail_next(2, status=503)
    result = run(content="eventually")
    assert server.statuses() == [503, 503, 200]
    assert result["message_id"] == server.messages(webhook_id)[0]["id"]


def test_gives_up_after_timeout_with_a_redacted_error(run, server, hook):
    _url, webhook_id, _token = hook
    server.fail_next(10_000, status=500)
    # Long enough for a loaded machine to get HTTP 500 answers rather than time out before the deadline.
    result = run.failure(content="lost", timeout=2)
    assert result["msg"].startswith(f"Discord webhook {webhook_id}: message not delivered after ")
    assert "HTTP 500" in result["msg"]
    assert result["status"] == 500
    assert result["attempts"] >= 2
    assert result["webhook_id"] == webhook_id
    assert server.messages(webhook_id) == []


def test_refused_by_discord(run, server, hook):
    _url, _webhook_id, token = hook
    server.create_webhook(webhook_id="999")  # called with the token of another webhook
    result = run.failure(content="x", webhook_url=server.url("999").replace(server.token("999"), token))
    assert result["status"] == 401
    assert result["discord_code"] == 50027
    assert result["msg"].endswith("HTTP 401 Invalid Webhook Token (code 50027)")
    assert result["attempts"] == 1

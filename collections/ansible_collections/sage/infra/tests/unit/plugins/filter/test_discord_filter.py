# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the discord_webhook_url_error filter (roles/secrets/tasks/validate.yml).

Named test_discord_filter.py: the test directories have no __init__.py, so pytest imports test modules by their
basename and a second test_discord.py would clash with tests/unit/plugins/module_utils/test_discord.py.
"""

import pytest
from ansible_collections.sage.infra.plugins.filter import discord as discord_filter
from ansible_collections.sage.infra.plugins.filter.discord import discord_webhook_url_error

VAR = "secrets_discord_webhook_errors"
WEBHOOK_ID = "123456789012345678"
# A made-up token in Discord's alphabet (letters, digits, - and _), long enough to be unmistakable in a message.
TOKEN = "Zq7-SeCrEt_t0ken-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_xyzXYZ-qwertyuiopASDF"
PATH = f"/api/webhooks/{WEBHOOK_ID}/{TOKEN}"


def assert_secret_kept(message, url):
    """The message names the variable and holds neither the URL nor its token (in any case)."""
    assert message.startswith(f"{VAR}: ")
    assert url not in message
    assert TOKEN not in message
    assert TOKEN.lower() not in message.lower()
    assert "the webhook URL" not in message  # the filter speaks of "the value" of the variable


@pytest.mark.parametrize(
    "url",
    [
        f"https://discord.com{PATH}",
        f"https://discordapp.com{PATH}",
        f"https://ptb.discord.com{PATH}",
        f"https://canary.discord.com{PATH}",
        f"https://discord.com/api/v10/webhooks/{WEBHOOK_ID}/{TOKEN}",
        f"https://discord.com/api/v9/webhooks/{WEBHOOK_ID}/{TOKEN}",
        f"https://discord.com{PATH}/",
        f"https://discord.com:443{PATH}",
        f"https://DISCORD.com{PATH}",
        f"https://discord.com{PATH}?thread_id=987654321",
        f"  https://discord.com{PATH}\n",
    ],
)
def test_discord_webhook_urls_are_accepted(url):
    assert discord_webhook_url_error(url, VAR) == ""


@pytest.mark.parametrize("url", [None, ""])
def test_no_value_yet_is_allowed(url):
    assert discord_webhook_url_error(url, VAR) == ""
    assert discord_webhook_url_error(url, VAR, allow_insecure=True) == ""


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"http://discord.com{PATH}", "points to http://discord.com, not to https://discord.com"),
        (f"https://example.com{PATH}", "points to https://example.com, not to https://discord.com"),
        (f"https://discord.com.evil.example{PATH}", "points to https://discord.com.evil.example"),
        (f"https://evil.example/?next=https://discord.com{PATH}", "points to https://evil.example"),
        (f"https://discord.gg{PATH}", "points to https://discord.gg"),
        (f"https://discord.com:8443{PATH}", "points to https://discord.com, not to https://discord.com"),
        (f"http://127.0.0.1:5055{PATH}", "points to http://127.0.0.1, not to https://discord.com;"),
        (f"http://localhost{PATH}", "points to http://localhost"),
        (f"discord.com{PATH}", "points to an unknown host"),
        (PATH, "points to an unknown host"),
        (TOKEN, "points to an unknown host"),
        (f"ftp://discord.com{PATH}", "points to ftp://discord.com"),
        (f"https://discord.com:notaport{PATH}", "the value cannot be parsed"),
        (f"https://discord.com/api/webhooks/{WEBHOOK_ID}", "is not of the form"),
        (f"https://discord.com/api/webhooks/{WEBHOOK_ID}/", "is not of the form"),
        (f"https://discord.com/api/webhooks/{TOKEN}", "is not of the form"),
        (f"https://discord.com/api/webhooks/not-digits/{TOKEN}", "is not of the form"),
        (f"https://discord.com/api/webhooks/12ab34/{TOKEN}", "is not of the form"),
        (f"https://discord.com/webhooks/{WEBHOOK_ID}/{TOKEN}", "is not of the form"),
        (f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}/github", "is not of the form"),
        (f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}.x", "is not of the form"),
        (f"https://user:{TOKEN}@discord.com{PATH}", "is not of the form"),
        (f"https://discord.com{PATH}#{TOKEN}", "is not of the form"),
        (f"https://discord.com{PATH}?wait=true", "has a query other than ?thread_id=<digits>"),
        (f"https://discord.com{PATH}?thread_id=abc", "has a query other than ?thread_id=<digits>"),
        (f"https://discord.com{PATH}?thread_id=1&token={TOKEN}", "has a query other than ?thread_id=<digits>"),
        (f"https://discord.com{PATH}?{TOKEN}", "has a query other than ?thread_id=<digits>"),
        ("   ", "the value is empty"),
    ],
)
def test_other_values_are_rejected_without_the_token(url, expected):
    message = discord_webhook_url_error(url, VAR)
    assert expected in message
    assert "https://discord.com/api/webhooks/<id>/<token>" in message or "?thread_id=<digits>" in message
    assert_secret_kept(message, url)


@pytest.mark.parametrize(
    "url",
    [f"http://discord.com{PATH}", f"https://discord.com{PATH}?wait=true", f"https://discord.com{PATH}/extra"],
)
def test_the_message_names_the_webhook_by_its_id(url):
    message = discord_webhook_url_error(url, VAR)
    assert f"(webhook {WEBHOOK_ID})" in message
    assert_secret_kept(message, url)


@pytest.mark.parametrize("value", [12345, ["https://discord.com" + PATH], {"url": "https://discord.com" + PATH}])
def test_a_value_that_is_not_text_is_rejected(value):
    message = discord_webhook_url_error(value, VAR)
    assert message.startswith(f"{VAR}: the value is empty")
    assert TOKEN not in message


def test_the_default_name():
    message = discord_webhook_url_error(f"http://discord.com{PATH}")
    assert message.startswith("the webhook URL: the value (webhook ")
    assert TOKEN not in message


@pytest.mark.parametrize(
    "url",
    [
        f"http://127.0.0.1{PATH}",
        f"http://127.0.0.1:5055{PATH}",
        f"http://localhost:8080{PATH}",
        f"http://[::1]:8080{PATH}",
        f"https://localhost{PATH}",
        f"http://127.0.0.1:5055/api/v10/webhooks/{WEBHOOK_ID}/{TOKEN}?thread_id=42",
    ],
)
def test_loopback_urls_need_allow_insecure(url):
    assert discord_webhook_url_error(url, VAR, allow_insecure=True) == ""
    message = discord_webhook_url_error(url, VAR)
    assert "not to https://discord.com" in message
    assert_secret_kept(message, url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"http://discord.com{PATH}", "points to http://discord.com, not to https://discord.com or http://127.0.0.1"),
        (f"http://example.com{PATH}", "points to http://example.com"),
        (f"http://127.0.0.2{PATH}", "points to http://127.0.0.2"),
        (f"http://127.0.0.1:5055/api/webhooks/{WEBHOOK_ID}", "is not of the form"),
        (f"http://127.0.0.1:5055{PATH}?wait=true", "has a query other than"),
    ],
)
def test_allow_insecure_opens_loopback_only(url, expected):
    message = discord_webhook_url_error(url, VAR, allow_insecure=True)
    assert expected in message
    assert_secret_kept(message, url)


def test_the_filter_is_registered():
    assert discord_filter.FilterModule().filters() == {"discord_webhook_url_error": discord_webhook_url_error}

#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: discord_webhook
version_added: 0.1.0
short_description: Send a message to a Discord channel through a webhook, within Discord's limits and rate limits
description:
  - Executes a Discord webhook (C(POST /api/webhooks/<id>/<token>)) with a text O(content) and/or rich O(embeds),
    for example to announce a deploy or a restore in the channel the alerts go to.
  - The message is checked against Discord's documented limits before anything is sent, and the module fails
    with a message naming each field over its limit (for example C(embeds[0].fields[3].value is 1100 characters,
    more than Discord's limit of 1024)). Limits are counted in characters (Unicode code points).
  - Discord's rate limits are honoured; a C(429) answer is waited out for as long as it asks (C(retry_after)) and
    the message is sent again. C(5xx) answers and connection errors are retried with exponential backoff. Nothing
    is sent nor waited for after O(timeout) seconds.
  - No one is pinged unless O(allowed_mentions) says so, whatever O(content) holds (C(@everyone) included).
  - Error messages and results name the webhook by its id only; the webhook token never appears in them.
  - Not an AWS module; it talks to Discord over HTTPS from the host it runs on.
author:
  - sage-infra developers (!UNKNOWN)
options:
  webhook_url:
    description:
      - The webhook URL, V(https://discord.com/api/webhooks/<id>/<token>) (V(discordapp.com), the V(ptb.) and
        V(canary.) hosts, C(/api/v10/...) and a C(?thread_id=<id>) query are accepted too).
      - It is a credential (whoever has it can post to the channel); keep it in a vault or in AWS Secrets Manager.
    type: str
    required: true
  content:
    description:
      - Text of the message, up to 2000 characters (Discord markdown).
      - At least one of O(content) and O(embeds) is required.
    type: str
  embeds:
    description:
      - Up to 10 embed objects in Discord's JSON shape, with the keys C(title), C(description), C(url), C(color),
        C(timestamp), C(fields) (a list of C(name), C(value), C(inline)), C(footer.text), C(author.name) and so on.
      - Limits, per embed - title 256 characters, description 4096, 25 fields, field name 256 and field value 1024
        (both required), footer text 2048, author name 256; and 6000 characters in all the embeds together
        (titles, descriptions, field names and values, footer texts, author names).
      - The C(color) of an embed is an integer from V(0) to V(16777215) (V(0xFFFFFF)).
      - Numbers given for a text (a title, a field name or value, a footer text ...) are sent as text.
    type: list
    elements: dict
  username:
    description:
      - Name the message is posted under instead of the webhook's own, 1 to 80 characters.
    type: str
  avatar_url:
    description:
      - URL of the avatar image the message is posted with instead of the webhook's own.
    type: str
  allowed_mentions:
    description:
      - Discord's allowed mentions object; which mentions in O(content) notify anyone.
      - 'The default, V({"parse": []}), pings no one. V({"parse": ["users"]}) lets user mentions ping,
        V({"users": ["123"]}) only that user.'
    type: dict
    default: {"parse": []}
  wait:
    description:
      - Ask Discord to answer once the message is stored (C(?wait=true)), so that RV(message_id) and RV(channel_id)
        are returned and a refused message fails the task.
      - With V(false), Discord answers C(204 No Content) and no message id is returned.
    type: bool
    default: true
  timeout:
    description:
      - Seconds the module may spend in all, waits for rate limits and retries included. Each request also times out
        after this many seconds.
    type: float
    default: 30
  allow_insecure_url:
    description:
      - Also accept V(http://127.0.0.1), V(http://localhost) and V(http://[::1]) webhook URLs (any port).
      - Only for tests against a fake Discord server on loopback; never needed with Discord.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode the message is checked against the limits and nothing is sent; RV(would_send) describes it.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
notes:
  - Sending a message always changes something, so the module always reports C(changed=true); it is not idempotent,
    and a task retried after a timeout may post the message twice.
  - Discord's edge refuses the default User-Agent of Python's urllib; the module sends its own.
seealso:
  - name: Discord Execute Webhook
    description: The API the module calls, with the message limits.
    link: https://discord.com/developers/docs/resources/webhook#execute-webhook
  - name: Discord rate limits
    description: How 429 answers and their retry_after are to be handled.
    link: https://discord.com/developers/docs/topics/rate-limits
"""

EXAMPLES = r"""
- name: Announce a deploy
  sage.infra.discord_webhook:
    webhook_url: "{{ vault_discord_webhook_business }}"
    content: "Deployed sage-backend {{ git_sha }} to {{ sage_environment }}"

- name: Report a restore with an embed
  sage.infra.discord_webhook:
    webhook_url: "{{ lookup('amazon.aws.secretsmanager_secret', 'sage/discord-webhook-errors') }}"
    username: sage-infra
    embeds:
      - title: "Database restored: sage-postgres"
        description: "Restored from snapshot {{ snapshot_id }}"
        color: 3066993
        fields:
          - name: Duration
            value: "{{ restore_minutes }} min"
            inline: true
          - name: Operator
            value: "{{ ansible_user_id }}"
            inline: true
        footer:
          text: "{{ sage_environment }}"
  register: sent

- name: Show where it went
  ansible.builtin.debug:
    msg: "message {{ sent.message_id }} in channel {{ sent.channel_id }}"

- name: Ping the on-call role (mentions are off unless allowed)
  sage.infra.discord_webhook:
    webhook_url: "{{ vault_discord_webhook_errors }}"
    content: "<@&123456789012345678> backup failed"
    allowed_mentions:
      roles: ["123456789012345678"]
"""

RETURN = r"""
webhook_id:
  description: Id of the webhook (the part of the URL before the token).
  type: str
  returned: always
  sample: "123456789012345678"
message_id:
  description: Id of the message Discord stored.
  type: str
  returned: success and O(wait=true) and not in check mode
  sample: "1180000000000000000"
channel_id:
  description: Id of the channel the message was posted to.
  type: str
  returned: success and O(wait=true) and not in check mode
  sample: "1170000000000000000"
would_send:
  description: In check mode, what would have been sent.
  type: dict
  returned: check mode
  contains:
    content_length:
      description: Characters of O(content).
      type: int
      sample: 42
    embeds:
      description: Number of embeds.
      type: int
      sample: 1
    embed_characters:
      description: Characters of the embeds counted towards Discord's limit of 6000.
      type: int
      sample: 310
    username:
      description: O(username), V(null) when not set.
      type: str
      sample: sage-infra
  sample: {"content_length": 42, "embeds": 1, "embed_characters": 310, "username": null}
status:
  description: HTTP status of Discord's last answer; V(null) after a connection error.
  type: int
  returned: failure to deliver the message
  sample: 429
discord_code:
  description: Discord's JSON error code of the last answer, when it gave one.
  type: int
  returned: failure to deliver the message
  sample: 50035
attempts:
  description: Requests made.
  type: int
  returned: failure to deliver the message
  sample: 4
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sage.infra.plugins.module_utils.discord import (
    DiscordError,
    InvalidWebhookURL,
    limit_errors,
    post,
    total_embed_characters,
    validate_webhook_url,
)

# Embed texts that Ansible templating may turn into numbers ("{{ count }}"): sent as text.
_TEXT_KEYS = ("title", "description")
_NESTED_TEXT_KEYS = (("footer", "text"), ("author", "name"))
_FIELD_TEXT_KEYS = ("name", "value")


def _text(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def normalize_embed(embed):
    """A copy of the embed where numbers given for text (title, field values ...) are text."""
    if not isinstance(embed, dict):
        return embed
    embed = dict(embed)
    for key in _TEXT_KEYS:
        if key in embed:
            embed[key] = _text(embed[key])
    for key, inner in _NESTED_TEXT_KEYS:
        if isinstance(embed.get(key), dict) and inner in embed[key]:
            embed[key] = dict(embed[key], **{inner: _text(embed[key][inner])})
    if isinstance(embed.get("fields"), list):
        embed["fields"] = [
            dict(item, **{k: _text(item[k]) for k in _FIELD_TEXT_KEYS if k in item}) if isinstance(item, dict) else item
            for item in embed["fields"]
        ]
    return embed


def build_payload(params):
    """The Execute Webhook JSON body from the module options (options not set are left out)."""
    payload = {
        "content": params["content"],
        "embeds": [normalize_embed(embed) for embed in params["embeds"]] if params["embeds"] is not None else None,
        "username": params["username"],
        "avatar_url": params["avatar_url"],
        "allowed_mentions": params["allowed_mentions"],
    }
    return {key: value for key, value in payload.items() if value is not None}


def summary(payload):
    return {
        "content_length": len(payload.get("content") or ""),
        "embeds": len(payload.get("embeds") or []),
        "embed_characters": total_embed_characters(payload.get("embeds")),
        "username": payload.get("username"),
    }


def main():
    argument_spec = {
        "webhook_url": {"type": "str", "required": True, "no_log": True},
        "content": {"type": "str"},
        "embeds": {"type": "list", "elements": "dict"},
        "username": {"type": "str"},
        "avatar_url": {"type": "str"},
        "allowed_mentions": {"type": "dict", "default": {"parse": []}},
        "wait": {"type": "bool", "default": True},
        "timeout": {"type": "float", "default": 30},
        "allow_insecure_url": {"type": "bool", "default": False},
    }
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_one_of=[["content", "embeds"]],
    )
    params = module.params
    url = params["webhook_url"]

    try:
        webhook_id = validate_webhook_url(url, allow_insecure=params["allow_insecure_url"])
    except InvalidWebhookURL as e:
        module.fail_json(msg=f"webhook_url: {e}")
    if params["timeout"] <= 0:
        module.fail_json(msg=f"timeout must be a positive number of seconds; got {params['timeout']}")

    payload = build_payload(params)
    errors = limit_errors(payload)
    if errors:
        module.fail_json(
            msg=f"Discord would refuse this message, nothing was sent: {'; '.join(errors)}",
            errors=errors,
            webhook_id=webhook_id,
        )

    if module.check_mode:
        module.exit_json(changed=True, webhook_id=webhook_id, would_send=summary(payload))

    timeout = params["timeout"]
    try:
        message = post(
            url,
            payload,
            wait=params["wait"],
            timeout=timeout,
            deadline=time.monotonic() + timeout,
            allow_insecure=params["allow_insecure_url"],
        )
    except DiscordError as e:
        module.fail_json(msg=str(e), webhook_id=webhook_id, status=e.status, discord_code=e.code, attempts=e.attempts)

    result = {"changed": True, "webhook_id": webhook_id}
    if params["wait"]:
        message = message or {}
        result.update(message_id=message.get("id"), channel_id=message.get("channel_id"))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

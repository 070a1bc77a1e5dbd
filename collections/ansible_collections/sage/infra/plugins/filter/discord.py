# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter that checks a Discord webhook URL before it is stored, without repeating the URL."""


def discord_webhook_url_error(url, name="the webhook URL", allow_insecure=False):
    """'' when ``url`` is a Discord webhook URL or empty (no value yet), else why not, naming ``name``
    (never the URL or its token)."""
    if url in (None, ""):
        return ""
    # Imported here: the Discord client and its HTTP libraries would otherwise load in every task that uses any
    # filter of the collection.
    from ansible_collections.sage.infra.plugins.module_utils.discord import InvalidWebhookURL, validate_webhook_url

    try:
        validate_webhook_url(url, allow_insecure=allow_insecure)
    except InvalidWebhookURL as error:
        return f"{name}: {str(error).replace('the webhook URL', 'the value')}"
    return ""


class FilterModule:
    def filters(self):
        return {"discord_webhook_url_error": discord_webhook_url_error}

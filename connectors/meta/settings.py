"""Settings of a Meta instance: one app (secret, verify token) serving pages, Instagram accounts, WhatsApp numbers.

Imports nothing beyond msgspec, so `kanal connector list` works without the connector's dependencies.
"""

from __future__ import annotations

import msgspec

from connectors.outbound.templates import Templates
from kanal.settings_types import Secret


class MetaSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[connectors.<instance>]` keys of channel `meta` (common keys such as port live in InstanceSettings)."""

    app_secret: Secret
    """App Dashboard > App settings > Basic > App secret: the HMAC key of X-Hub-Signature-256."""
    verify_token: Secret
    """Any string you choose and also type into the App Dashboard's webhook form (GET handshake only)."""
    access_token: Secret | None = None
    """Default Graph token (a system-user token), used for WhatsApp media and any account without its own."""
    access_tokens: dict[str, Secret] = {}
    """Per-account Graph tokens (page id, Instagram account id or phone_number_id -> token)."""
    page_ids: list[str] = []
    """Facebook page ids whose Messenger messages and feed we take; events for other pages are ignored."""
    instagram_ids: list[str] = []
    """Instagram professional account ids (entry.id of object=instagram)."""
    phone_number_ids: list[str] = []
    """WhatsApp Cloud API phone_number_id values (value.metadata.phone_number_id)."""
    graph_url: str = "https://graph.facebook.com"
    """Graph API base URL; tests point it at a local fake."""
    api_version: str = "v21.0"
    """Graph API version used for media lookups."""
    path: str = "/webhook"
    """Callback path on this instance's port; the callback URL in the App Dashboard is public_url + path."""
    whatsapp_templates: Templates = {}
    """Approved WhatsApp templates per message kind and language, sent when the reporter last wrote more than
    24 hours ago: `whatsapp_templates.final.id = {name = "...", language = "id", parameters = ["ref"]}`."""
    whatsapp_fallback: str = ""
    """A Kannel or Twilio SMS instance that takes, as SMS to the same number, what WhatsApp would not send."""

    def accounts(self) -> frozenset[str]:
        """Every id this instance answers for (the normaliser ignores events addressed to anyone else)."""
        return frozenset(self.page_ids) | frozenset(self.instagram_ids) | frozenset(self.phone_number_ids)

    def token_for(self, account: str) -> Secret | None:
        """The Graph token for one account: its own, else the default."""
        return self.access_tokens.get(account) or self.access_token

"""Settings of a Twilio instance (one phone number or WhatsApp sender); imports without the twilio library."""

from __future__ import annotations

from msgspec import Struct

from connectors.outbound.templates import Templates
from kanal.settings_types import Duration, Secret

DEFAULT_ACK = "Terima kasih, laporan Anda sudah kami terima dengan nomor {ref}."


class TwilioSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[connectors.<instance>]` keys for channel "twilio" (host, port, public_url are common keys).

    - auth_token: the account's Auth Token; it signs every webhook (X-Twilio-Signature) and, with
      account_sid, authenticates media downloads.
    - account_sid: `AC...`; when set, requests for another account are refused (403).
    - account: the number this instance receives on (e.g. "+628111272206"); empty: the request's `To`.
    - ack_template: the TwiML reply; `{ref}` becomes the report reference; empty: no reply (`<Response/>`).
      Unset: none while the notifier answers Twilio reporters (it acknowledges after routing; a TwiML reply
      would be a second acknowledgement), else DEFAULT_ACK.
    - path: the webhook path configured in the Twilio console (after public_url).
    - api_base_url: where replies go (Messages API); api.twilio.com unless a proxy or a test stands in.
    - send_timeout: how long one Messages API call may take before it is retried.
    - whatsapp_templates: approved Content templates (ContentSid) per message kind and language, sent when a
      WhatsApp reporter last wrote more than 24 hours ago.
    - whatsapp_fallback: a Kannel or Twilio SMS instance that takes, as SMS to the same number, what WhatsApp
      would not send.
    """

    auth_token: Secret
    account_sid: str = ""
    account: str = ""
    ack_template: str | None = None
    path: str = "/twilio/inbound"
    api_base_url: str = "https://api.twilio.com"
    send_timeout: Duration = Duration(seconds=15)
    whatsapp_templates: Templates = {}
    whatsapp_fallback: str = ""

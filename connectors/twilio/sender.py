"""Replies to reporters through Twilio's Messages API, with the instance's own Account SID and Auth Token.

The twilio library's asyncio client does the call (`AsyncTwilioHttpClient`, aiohttp); its API domain's
`base_url` is set from `api_base_url` so tests (or a regional proxy) can stand in for api.twilio.com.
A WhatsApp reporter who last wrote more than 24 hours ago gets the approved Content template configured for the
message's kind and language (`ContentSid`, `ContentVariables` {"1": ..., "2": ...}) instead of a `Body`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from connectors.errors import PermanentError, RateLimited, TransientError
from connectors.outbound.sender import SendRefused, Sent
from connectors.outbound.whatsapp import TemplateRefused, choose, values, window_open
from connectors.twilio.settings import TwilioSettings
from kanal.phone import e164
from schemas.outbound import OutboundMessage

_NUMBER = re.compile(r"\+?\d[\d ]{6,}\d")
# Errors after which a WhatsApp message cannot go as it stands but could by SMS (fallback), with what to do.
_TEMPLATE_ERRORS = {
    63016: "whatsapp_24h_window_closed: Twilio counts more than 24 hours since the reporter's last message; a "
           "Content template is needed",
    63027: "whatsapp_template_missing: the template does not exist for this language and locale; check "
           "whatsapp_templates.<kind>.<language>.content_sid",
    63028: "whatsapp_template_params: the number of ContentVariables does not match the template; fix "
           "whatsapp_templates.<kind>.<language>.parameters",
    21655: "whatsapp_template_missing: the ContentSid is not valid for this account",
    21656: "whatsapp_template_params: the ContentVariables are not valid for this template",
}

# Errors Twilio reports in a status callback after accepting a message (delivery failed), with what they mean.
_UNDELIVERED = {
    30003: "twilio_unreachable: the handset is switched off or out of coverage",
    30005: "twilio_unknown_destination: the number does not exist or is no longer in service",
    30006: "twilio_landline: the number cannot receive SMS (a landline or an unreachable carrier)",
    30007: "twilio_filtered: the carrier filtered the message as spam",
    30008: "twilio_unknown_error: the carrier gave no reason",
    63024: "whatsapp_invalid_recipient: the number cannot receive WhatsApp messages",
}


def reason_for(code: int | None, words: str) -> tuple[str, bool]:
    """A Twilio error code (in the answer to a send or in a status callback) -> (the reason recorded for the
    admin, whether the SMS fallback takes the message)."""
    detail = f"twilio_error_{code}: {words}" if code else words
    if code in _TEMPLATE_ERRORS:
        return f"{_TEMPLATE_ERRORS[code]} ({detail})", True
    if code in _UNDELIVERED:
        return f"{_UNDELIVERED[code]} (twilio_error_{code})", False
    return detail, False


def scrub(text: str) -> str:
    """Twilio error messages quote the To number; keep phone numbers out of logs and send records."""
    return _NUMBER.sub("<number>", text)


def addresses(message: OutboundMessage, own_number: str) -> tuple[str, str]:
    """(From, To): WhatsApp reports are answered from `whatsapp:<our number>` to the reporter's `handle`."""
    envelope = message.reply_to
    written = envelope.reporter.handle or envelope.reporter.contact or ""
    to = e164(written) or written  # the reporter's number in the one E.164 reading (kanal/phone.py)
    number = own_number or envelope.account
    if envelope.kind == "direct_message" or written.startswith("whatsapp:"):
        return f"whatsapp:{number}", to if to.startswith("whatsapp:") else f"whatsapp:{to}"
    return number, to


def window_closed(message: OutboundMessage, now: datetime) -> bool:
    """WhatsApp allows free-form replies only within 24 h of the reporter's latest message."""
    return message.reply_to.kind == "direct_message" and not window_open(message, now)


class TwilioSender:
    """One asyncio Twilio client per connector instance, opened on the first send."""

    def __init__(self, settings: TwilioSettings) -> None:
        self.settings = settings
        self._http: AsyncTwilioHttpClient | None = None
        self._client: Client | None = None
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # the WhatsApp window is measured on it

    def client(self) -> Client:
        """The twilio Client, talking to `api_base_url` (api.twilio.com unless configured otherwise)."""
        if self._client is None:
            if not self.settings.account_sid:
                raise PermanentError("this Twilio instance cannot send replies without account_sid",
                                     hint="set account_sid (AC...) in [connectors.<instance>]")
            self._http = AsyncTwilioHttpClient(timeout=self.settings.send_timeout.total_seconds())
            self._client = Client(self.settings.account_sid, self.settings.auth_token.reveal(),
                                  http_client=self._http)
            self._client.api.base_url = self.settings.api_base_url.rstrip("/")
        return self._client

    async def close(self) -> None:
        """Close the aiohttp session."""
        if self._http is not None:
            await self._http.close()
            self._http = None
            self._client = None

    async def send(self, message: OutboundMessage, now: datetime | None = None) -> Sent:
        """POST /2010-04-01/Accounts/{sid}/Messages.json (From, To, Body, or ContentSid and ContentVariables
        outside WhatsApp's window); returns the message SID and the template used."""
        content: dict[str, str] = {"body": message.text}
        label: str | None = None
        if window_closed(message, now or self.clock()):
            label, template = choose(self.settings.whatsapp_templates, message)
            filled = values(template, message)
            content = {"content_sid": template.content_sid}
            if filled:
                content["content_variables"] = json.dumps({str(n): v for n, v in enumerate(filled, start=1)},
                                                          ensure_ascii=False)
        sender, to = addresses(message, self.settings.account)
        if not to or not sender:
            raise SendRefused("twilio_no_address: the report has no reporter address or instance number")
        client = self.client()
        try:
            created = await client.api.v2010.accounts(self.settings.account_sid).messages.create_async(
                to=to, from_=sender, **content)
        except TwilioRestException as err:
            raise _classify(err) from err
        except (aiohttp.ClientError, TimeoutError, TwilioException) as err:
            raise TransientError(f"Twilio Messages API unreachable: {type(err).__name__}") from err
        return Sent(provider_id=str(created.sid), template=label)


def _classify(err: TwilioRestException) -> Exception:
    """Twilio's answer -> what the sender loop does with it."""
    detail = f"twilio_error_{err.code}: {scrub(str(err.msg))}" if err.code else f"twilio_http_{err.status}"
    if err.status in (401, 403):
        return PermanentError(f"Twilio refused the credentials ({detail})", credentials=True,
                              hint="check account_sid and auth_token (auth_token_file) of this instance")
    if err.status == 429:
        return RateLimited(f"Twilio rate limit ({detail})")
    if err.status >= 500:
        return TransientError(f"Twilio answered {err.status} ({detail})")
    if err.code in _TEMPLATE_ERRORS:
        return TemplateRefused(reason_for(err.code, scrub(str(err.msg)))[0])
    return SendRefused(detail)

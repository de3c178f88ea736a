"""The Twilio webhook: signature checked with twilio's RequestValidator, then publish, then a TwiML answer."""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from connectors.base import Context
from connectors.errors import BadPayload, SignatureError
from connectors.outbound import late
from connectors.outbound.sender import Sent
from connectors.twilio.normalise import number, parse_form
from connectors.twilio.sender import TwilioSender
from connectors.twilio.settings import DEFAULT_ACK, TwilioSettings
from connectors.twilio.status import status
from connectors.webhook import WebhookConnector
from schemas import Envelope
from schemas.outbound import OutboundMessage

FORM = "application/x-www-form-urlencoded"
_ACCOUNT_IN_URL = re.compile(r"/Accounts/(AC[0-9a-fA-F]{32})/")


class TwilioConnector(WebhookConnector[TwilioSettings]):
    """POST {path}: one inbound SMS/WhatsApp message (or a status callback) per request."""

    def __init__(self, ctx: Context[TwilioSettings]) -> None:
        super().__init__(ctx)
        self.validator = RequestValidator(self.settings.auth_token.reveal())
        self.sender = TwilioSender(self.settings)

    def routes(self) -> list[BaseRoute]:
        """The inbound-message endpoint the Twilio console (or Messaging Service) points at."""
        return [Route(self.settings.path, self.guard(self.inbound), methods=["POST"])]

    def verify(self, url: str, pairs: list[tuple[str, str]], signature: str) -> bool:
        """True when `signature` is Twilio's for this URL and these form fields (with or without the port)."""
        return bool(self.validator.validate(url, ImmutableMultiDict(pairs), signature))

    async def inbound(self, request: Request) -> Response:
        """Verify, publish (or spool), and only then answer with TwiML."""
        body = await self.read_body(request)
        signature = request.headers.get("x-twilio-signature")
        if not signature:
            raise SignatureError("missing_signature")
        try:
            pairs = parse_form(body)
        except BadPayload as err:  # cannot be verified, so it is not known to come from Twilio
            raise SignatureError("unverifiable_body") from err
        url = self.public_url(request)
        if not self.verify(url, pairs, signature):
            # The usual cause is a URL mismatch behind a proxy: log the URL we checked against.
            self.log.warning("twilio_signature_mismatch", checked_url=url,
                             hint="set public_url to the scheme://host[/prefix] Twilio calls; the path is added")
            raise SignatureError("bad_signature")
        form = dict(pairs)
        if self.settings.account_sid and form.get("AccountSid", self.settings.account_sid) != \
                self.settings.account_sid:
            raise SignatureError("other_account")
        account = self.settings.account or number(form.get("To", "")) or form.get("AccountSid", "") or "unknown"
        accepted = await self.take(body, account, FORM)
        outcome = status(pairs)  # a status callback: Twilio's later word on a message Kanal sent
        if outcome is not None:
            await late.record(self.ctx, [outcome])
        return Response(self.twiml(accepted.envelopes), media_type="application/xml")

    def twiml(self, envelopes: list[Envelope]) -> str:
        """The acknowledgement: `ack_template` with `{ref}` per envelope, or an empty <Response/>."""
        response = MessagingResponse()
        template = self.settings.ack_template
        if template is None:
            template = "" if self.ctx.notifier_answers else DEFAULT_ACK
        if template:
            for envelope in envelopes:
                response.message(template.replace("{ref}", envelope.ref))
        return str(response)

    def media_request(self, url: str) -> dict[str, Any]:
        """HTTP basic auth (account SID, auth token) for Twilio media URLs (required when enabled)."""
        found = _ACCOUNT_IN_URL.search(url)
        sid = self.settings.account_sid or (found.group(1) if found else "")
        return {"auth": (sid, self.settings.auth_token.reveal())} if sid else {}

    async def send(self, message: OutboundMessage) -> Sent:
        """Answer the reporter by SMS or WhatsApp through the Messages API (see sender.py)."""
        return await self.sender.send(message)

    async def close(self) -> None:
        """Close the reply client's HTTP session."""
        await self.sender.close()

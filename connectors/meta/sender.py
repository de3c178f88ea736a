"""Replies through the Graph API with the same tokens and HTTP client as the webhook's media lookups.

- Messenger / Instagram Direct: Send API `POST /{page-id | ig-id}/messages` (recipient.id = PSID/IGSID,
  messaging_type RESPONSE), inside Meta's 24-hour standard messaging window.
- WhatsApp Cloud API: `POST /{phone_number_id}/messages` (to = wa_id, type text, context.message_id = the
  report's wamid so the answer is threaded), inside WhatsApp's 24-hour customer-service window (from the
  reporter's latest message, connectors/outbound/whatsapp.py); outside it, `type: template` with the approved
  template configured for the message's kind and language (`whatsapp_templates`) and its body parameters.
- A Facebook feed comment or visitor post, or an Instagram comment: a public reply comment when the report
  may be answered publicly; otherwise Meta's "private reply" (a Messenger/Instagram DM addressed by
  recipient.comment_id/post_id), which Meta allows once per comment and within 7 days of it. Later updates
  on such a report are refused with that reason (the reporter can write to the page to open a DM thread).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import msgspec

from connectors.errors import PermanentError, RateLimited, TransientError
from connectors.meta.client import GraphErrorBody, GraphErrorEnvelope, bearer
from connectors.meta.settings import MetaSettings
from connectors.outbound.sender import SendRefused, Sent
from connectors.outbound.templates import Templates
from connectors.outbound.whatsapp import TemplateRefused, choose, last_inbound, values, window_open
from schemas.outbound import OutboundMessage, ReplyAddress

MESSAGING_WINDOW = timedelta(hours=24)
PRIVATE_REPLY_WINDOW = timedelta(days=7)
_RATE_CODES = {4, 17, 32, 613, 80007, 130429, 131056}
# WhatsApp Cloud API codes that mean "this message cannot go", with the reason recorded for the admin.
_WA_REFUSED = {131026: "whatsapp_undeliverable: the number is not on WhatsApp or cannot receive this message",
               131051: "whatsapp_unsupported_message_type",
               131062: "whatsapp_bsuid_not_supported: Meta does not deliver this message to a user known only by "
                       "their user id; it needs their phone number"}
# Codes after which the message cannot go on WhatsApp as it stands, but could by SMS (fallback): the window
# closed by Meta's reckoning, or the template was refused. The words say what the operator should do.
_WA_TEMPLATE = {
    131047: "whatsapp_24h_window_closed: Meta counts more than 24 hours since the reporter's last message; a "
            "template message is needed",
    132000: "whatsapp_template_params: the number of parameters does not match the approved template; fix "
            "whatsapp_templates.<kind>.<language>.parameters",
    132001: "whatsapp_template_missing: no approved template of this name in this language; check name and "
            "language in whatsapp_templates",
    132005: "whatsapp_template_too_long: the filled-in template text is too long",
    132007: "whatsapp_template_policy: the template's format breaks Meta's character policy",
    132012: "whatsapp_template_params: a parameter's format does not match the approved template",
    132015: "whatsapp_template_paused: Meta paused the template for low quality; edit it or name another",
    132016: "whatsapp_template_disabled: Meta disabled the template; name another approved one",
}


def reason_for(code: int | None, words: str) -> tuple[str, bool]:
    """A WhatsApp error code (in the answer to a send or in a later `statuses[]` failure) -> (the reason recorded
    for the admin, whether the SMS fallback takes the message)."""
    if code in _WA_TEMPLATE:
        return f"{_WA_TEMPLATE[code]} (graph_error_{code}: {words})", True
    if code in _WA_REFUSED:
        return _WA_REFUSED[code], False
    return (f"graph_error_{code}: {words}" if code is not None else f"whatsapp_failed: {words}"), False


class SendResult(msgspec.Struct, kw_only=True):
    """The ids Graph returns: Send API message_id, comment id, or WhatsApp messages[].id."""

    id: str | None = None
    message_id: str | None = None
    messages: list[dict[str, str]] = []


Request = tuple[str, dict[str, object], str | None]


def plan(message: OutboundMessage, now: datetime, templates: Templates | None = None) -> Request:
    """(Graph path, JSON body, WhatsApp template label or None) for one reply; SendRefused when Meta's rules or
    the reporter's privacy forbid it."""
    envelope = message.reply_to
    flags = set(envelope.flags)
    if "whatsapp" in flags:
        return _whatsapp(message, envelope, now, templates or {})
    if envelope.kind == "direct_message":
        if now - last_inbound(message) > MESSAGING_WINDOW:
            product = "instagram" if "instagram" in flags else "messenger"
            raise SendRefused(f"{product}_24h_window_closed: Meta allows replies within 24 hours of the "
                              "reporter's last message")
        if not envelope.reporter.user_id:
            raise SendRefused("meta_no_recipient: the report carries no sender id")
        return f"/{envelope.account}/messages", {
            "recipient": {"id": envelope.reporter.user_id}, "messaging_type": "RESPONSE",
            "message": {"text": message.text}}, None
    if envelope.kind in ("comment", "post"):
        return _public_or_private(message, envelope, flags, now)
    raise SendRefused(f"meta_not_answerable: a {envelope.kind} cannot be answered")


def _whatsapp(message: OutboundMessage, envelope: ReplyAddress, now: datetime, templates: Templates) -> Request:
    if "whatsapp_group" in envelope.flags:
        raise SendRefused("whatsapp_group_not_answered: the report was written in a WhatsApp group; Kanal does not "
                          "answer its sender in private")
    # A phone number when the reporter has one (Meta prefers it); else the business-scoped user id (BSUID) of a
    # user known only by their username, in the Cloud API's `recipient` field.
    to = (envelope.reporter.contact or "").lstrip("+")
    head: dict[str, object] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    if to:
        head["to"] = to
    elif envelope.reporter.user_id:
        head["recipient"] = envelope.reporter.user_id
    else:
        raise SendRefused("whatsapp_no_recipient: the report carries neither a phone number nor a user id")
    if window_open(message, now):
        if message.ask_location is not None:  # the Cloud API's location request: a "Send location" button
            return f"/{envelope.account}/messages", {
                **head, "type": "interactive", "context": {"message_id": envelope.external_id},
                "interactive": {"type": "location_request_message", "body": {"text": message.text[:1024]},
                                "action": {"name": "send_location"}}}, None
        return f"/{envelope.account}/messages", {
            **head, "type": "text", "context": {"message_id": envelope.external_id},
            "text": {"preview_url": False, "body": message.text}}, None
    label, template = choose(templates, message)
    call: dict[str, object] = {"name": template.name, "language": {"code": template.language}}
    filled = values(template, message)
    if filled:
        call["components"] = [{"type": "body", "parameters": [{"type": "text", "text": v} for v in filled]}]
    return f"/{envelope.account}/messages", {**head, "type": "template", "template": call}, label


def _public_or_private(message: OutboundMessage, envelope: ReplyAddress, flags: set[str], now: datetime) -> Request:
    if "mention" in flags:
        raise SendRefused("instagram_mention_not_answered: replies to @mentions are not supported")
    target = envelope.external_id
    if message.public_allowed:
        if "instagram" in flags:
            return f"/{target}/replies", {"message": message.text}, None
        return f"/{target}/comments", {"message": message.text}, None
    if message.purpose not in ("ack", "duplicate"):
        raise SendRefused("meta_private_reply_used: Meta allows one private reply per comment; later updates "
                          "need the reporter to message the page")
    if now - envelope.created_at > PRIVATE_REPLY_WINDOW:
        raise SendRefused("meta_private_reply_window_closed: private replies are allowed within 7 days")
    key = "post_id" if envelope.kind == "post" else "comment_id"
    return f"/{envelope.account}/messages", {"recipient": {key: target}, "message": {"text": message.text}}, None


class MetaSender:
    """Sends with the connector's httpx client against `{graph_url}/{api_version}`."""

    def __init__(self, http: httpx.AsyncClient, settings: MetaSettings) -> None:
        self.http = http
        self.settings = settings
        self.base = f"{settings.graph_url.rstrip('/')}/{settings.api_version.strip('/')}"
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # reply windows are measured on it

    async def send(self, message: OutboundMessage, now: datetime | None = None) -> Sent:
        """Deliver one reply; returns the id Graph gives the new message or comment (and the template used)."""
        path, body, template = plan(message, now or self.clock(), self.settings.whatsapp_templates)
        token = self.settings.token_for(message.reply_to.account)
        if token is None:
            raise PermanentError(f"no Graph token for account {message.reply_to.account}",
                                 hint="set access_token or access_tokens.<account> in [connectors.<instance>]")
        try:
            response = await self.http.post(self.base + path, json=body, headers=bearer(token))
        except httpx.HTTPError as err:
            raise TransientError(f"Graph API unreachable: {type(err).__name__}") from err
        if response.status_code >= 400:
            raise classify(response)
        try:
            result = msgspec.json.decode(response.content, type=SendResult)
        except msgspec.DecodeError:
            return Sent(template=template)
        provider_id = result.messages[0].get("id") if result.messages else result.message_id or result.id
        return Sent(provider_id=provider_id, template=template)


def classify(response: httpx.Response) -> Exception:
    """A Graph error answer -> what the sender loop does with it."""
    try:
        error = msgspec.json.decode(response.content, type=GraphErrorEnvelope).error
    except msgspec.DecodeError:
        error = GraphErrorBody(message=response.text[:200])
    what = f"graph_error_{error.code}: {error.message}" if error.code is not None else \
        f"graph_http_{response.status_code}"
    if error.code == 190 or response.status_code == 401:
        return PermanentError(f"Graph rejected the token ({what})", credentials=True,
                              hint="renew access_token / access_tokens of this [connectors.<instance>]")
    if error.code in _RATE_CODES or response.status_code == 429:
        return RateLimited(f"Graph rate limit ({what})")
    if error.code in _WA_REFUSED or error.code in _WA_TEMPLATE:
        reason, fallback_ok = reason_for(error.code, error.message)
        return TemplateRefused(reason) if fallback_ok else SendRefused(reason)
    if response.status_code >= 500 or error.code in (1, 2):
        return TransientError(f"Graph answered {response.status_code} ({what})")
    if error.code == 10 or (error.code is not None and 200 <= error.code <= 299):
        return SendRefused(f"meta_permission: {what}")
    return SendRefused(what)

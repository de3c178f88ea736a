"""Pure mapping of one Twilio inbound-message webhook (form-encoded) to an envelope.

SMS and WhatsApp arrive on the same endpoint; status callbacks (MessageStatus / EventType) arrive there too
when a number's status callback points at it, and are not complaints (status.py reads them as late outcomes
of messages Kanal sent).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import msgspec

from connectors.errors import BadPayload
from connectors.mediatypes import kind_of
from connectors.spec import Ignored, NormaliseContext, Outcome
from kanal.phone import e164
from schemas import Attachment, Envelope, Location, Reporter, envelope_id
from schemas.envelope import Kind

WHATSAPP = "whatsapp:"
MAX_MEDIA = 10  # Twilio sends at most 10 media items per message


class TwilioInbound(msgspec.Struct, frozen=True, kw_only=True, rename="pascal"):
    """The documented fields of Twilio's request to an incoming-message webhook (all strings on the wire)."""

    message_sid: str = ""
    sms_message_sid: str = ""
    account_sid: str = ""
    messaging_service_sid: str = ""
    from_: str = ""
    to: str = ""
    body: str = ""
    num_media: int = 0
    sms_status: str = ""
    message_status: str = ""
    event_type: str = ""
    profile_name: str = ""
    wa_id: str = ""
    latitude: float | None = None
    longitude: float | None = None
    address: str = ""
    label: str = ""
    button_text: str = ""
    forwarded: str = ""
    frequently_forwarded: str = ""


def parse_form(raw: bytes) -> list[tuple[str, str]]:
    """The form's (name, value) pairs, blanks kept (Twilio signs `Body=` too); BadPayload if not UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadPayload("malformed_form", f"body is not UTF-8 form data: {err}") from err
    return parse_qsl(text, keep_blank_values=True)


def number(address: str) -> str:
    """`whatsapp:+62811...` -> `+62811...`; a plain number is returned unchanged."""
    _, sep, rest = address.partition(":")
    return rest if sep and not address.startswith("+") else address


def normalise(raw: bytes, ctx: NormaliseContext) -> Outcome:
    """One webhook request -> one envelope, or an Ignored status callback; BadPayload when unusable."""
    pairs = parse_form(raw)
    form = dict(pairs)
    try:
        inbound = msgspec.convert(form, TwilioInbound, strict=False)
    except msgspec.ValidationError as err:
        raise BadPayload("invalid_field", f"Twilio form field: {err}") from err
    sid = inbound.message_sid or inbound.sms_message_sid
    if inbound.message_status or inbound.event_type:
        return Outcome(ignored=(Ignored(reason="status_callback",
                                        detail=f"{sid} {inbound.message_status or inbound.event_type}"),))
    if not sid:
        raise BadPayload("missing_field", "no MessageSid: not a Twilio incoming-message request")
    if not inbound.from_:
        raise BadPayload("missing_field", f"{sid}: no From")
    if inbound.sms_status and inbound.sms_status != "received":
        return Outcome(ignored=(Ignored(reason="not_inbound", detail=f"{sid} SmsStatus={inbound.sms_status}"),))
    attachments = _media(form, inbound.num_media)
    location, location_flags = _location(inbound)
    text = inbound.body or inbound.button_text
    if not text and not attachments and location is None:
        return Outcome(ignored=(Ignored(reason="empty_message", detail=sid),))
    address = number(inbound.from_)
    kind: Kind = "sms" if inbound.from_ == address else "direct_message"
    # Only a valid number is called one: an alphanumeric SMS sender or a WhatsApp user known by a
    # business-scoped user id (whatsapp:ID.150...) keeps its address as handle and user id, no contact.
    contact = e164(address, "ID")
    flags = list(location_flags)
    if inbound.forwarded.lower() == "true":
        flags.append("forwarded")
    if inbound.frequently_forwarded.lower() == "true":
        flags.append("frequently_forwarded")
    account = ctx.account or number(inbound.to) or inbound.account_sid
    envelope = Envelope(
        id=envelope_id(ctx.channel, account, sid), channel=ctx.channel, instance=ctx.instance, account=account,
        external_id=sid, kind=kind, created_at=ctx.received_at, received_at=ctx.received_at,
        reporter=Reporter(handle=inbound.from_, display_name=inbound.profile_name or None, contact=contact,
                          user_id=inbound.wa_id or address),
        visibility="private", text=text, attachments=attachments, location=location, flags=tuple(flags),
    )
    return Outcome(envelopes=(envelope,))


def _media(form: dict[str, str], declared: int) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    for n in range(min(max(declared, 0), MAX_MEDIA)):
        url = form.get(f"MediaUrl{n}", "")
        media_type = form.get(f"MediaContentType{n}") or None
        if url:
            found.append(Attachment(kind=kind_of(media_type), media_type=media_type, source_url=url))
        else:
            found.append(Attachment(kind=kind_of(media_type), media_type=media_type,
                                    error=f"NumMedia={declared} but MediaUrl{n} is missing"))
    return tuple(found)


def _location(inbound: TwilioInbound) -> tuple[Location | None, tuple[str, ...]]:
    if inbound.latitude is None or inbound.longitude is None:
        return None, ()
    address = ", ".join(part for part in (inbound.label, inbound.address) if part) or None
    try:
        location = msgspec.convert({"lat": inbound.latitude, "lon": inbound.longitude, "source": "provider",
                                    "address": address}, Location)
    except msgspec.ValidationError:
        return None, ("location_invalid",)
    return location, ()

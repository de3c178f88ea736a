"""Pure mapping of object=whatsapp_business_account (Cloud API) `messages` changes."""

from __future__ import annotations

import msgspec

from connectors.meta import payloads
from connectors.meta.collect import Collector, when
from schemas import Attachment, Envelope, Location, Reporter, Thread, envelope_id
from schemas.envelope import AttachmentKind

# Media is sent by id; the connector resolves `whatsapp-media:<id>` through the Graph API before downloading.
MEDIA_SCHEME = "whatsapp-media:"
_MEDIA: dict[str, AttachmentKind] = {
    "image": "image", "document": "document", "audio": "audio", "voice": "audio", "video": "video",
    "sticker": "sticker",
}
GROUP_FLAG = "whatsapp_group"
# Message types that are not complaints.
_IGNORED_TYPES = {"reaction": "reaction", "system": "system_message", "ephemeral": "ephemeral"}


def change(out: Collector, field: str, raw: msgspec.Raw) -> None:
    """One entry[].changes[] element of a WhatsApp Business Account."""
    if field != "messages":
        out.ignore("unsupported_field", f"whatsapp change field '{field}'")
        return
    try:
        value = payloads.wa_value.decode(raw)
    except msgspec.DecodeError as err:
        out.reject("malformed_event", f"whatsapp messages change: {err}", raw)
        return
    account = str(value.metadata.phone_number_id)
    if not out.ours(account, "whatsapp"):
        return
    for error in value.errors:
        out.reject("whatsapp_error", _describe(error), raw)
    for status_raw in value.statuses:
        try:
            status = payloads.wa_status.decode(status_raw)
        except msgspec.DecodeError as err:
            out.reject("malformed_event", f"whatsapp status: {err}", status_raw)
            continue
        out.ignore("status", f"whatsapp status '{status.status}' of {status.id}")
    contacts = {c.wa_id: c for c in value.contacts if c.wa_id}
    for message_raw in value.messages:
        try:
            message = payloads.wa_message.decode(message_raw)
        except msgspec.DecodeError as err:
            out.reject("malformed_event", f"whatsapp message: {err}", message_raw)
            continue
        contact = contacts.get(message.sender) or (value.contacts[0] if len(value.contacts) == 1 else None)
        _message(out, account, message, contact, message_raw)


def _message(out: Collector, account: str, message: payloads.WaMessage, contact: payloads.WaContact | None,
             raw: msgspec.Raw) -> None:
    kind = message.type
    if not _valid_stamp(message.timestamp):
        out.reject("invalid_timestamp", f"whatsapp message {message.id}: timestamp {message.timestamp!r} is not "
                   "UNIX seconds", raw)
        return
    if kind in _IGNORED_TYPES:
        out.ignore(_IGNORED_TYPES[kind], f"whatsapp {kind} {message.id}")
        return
    if message.errors or kind == "unsupported":
        detail = "; ".join(_describe(e) for e in message.errors) or "type 'unsupported' without errors"
        out.reject("unsupported_message", f"whatsapp message {message.id}: {detail}", raw)
        return
    text = ""
    attachments: list[Attachment] = []
    location: Location | None = None
    flags = ["whatsapp"]
    if kind == "text" and message.text is not None:
        text = message.text.body
    elif kind in _MEDIA and getattr(message, kind) is not None:
        media: payloads.WaMedia = getattr(message, kind)
        text = media.caption or ""
        source = f"{MEDIA_SCHEME}{media.id}" if media.id else media.url
        attachments.append(Attachment(kind=_MEDIA[kind], media_type=media.mime_type, name=media.filename,
                                      source_url=source))
    elif kind == "location" and message.location is not None:
        place = message.location
        address = ", ".join(p for p in (place.name, place.address) if p) or None
        location = Location(lat=place.latitude, lon=place.longitude, source="provider", address=address)
    elif kind == "interactive" and message.interactive is not None:
        reply = message.interactive.button_reply or message.interactive.list_reply
        if reply is None:
            out.reject("unsupported_message", f"whatsapp interactive '{message.interactive.type}' "
                       f"{message.id} has no button_reply or list_reply", raw)
            return
        text = reply.title + (f"\n{reply.description}" if reply.description else "")
        flags.append("interactive_reply")
    elif kind == "button" and message.button is not None:
        text = message.button.text
        flags.append("interactive_reply")
    else:
        out.reject("unsupported_message", f"whatsapp message {message.id} of type '{kind}' is not taken", raw)
        return
    context = message.context
    if context is not None and (context.forwarded or context.frequently_forwarded):
        flags.append("forwarded")
    if message.group_id:
        flags.append(GROUP_FLAG)  # said in a group: the sender never gets a private answer by mistake
    ctx = out.ctx
    profile = contact.profile.name if contact and contact.profile else None
    out.add(Envelope(
        id=envelope_id(ctx.channel, account, message.id), channel=ctx.channel, instance=ctx.instance,
        account=account, external_id=message.id, kind="direct_message",
        created_at=when(message.timestamp, ctx.received_at), received_at=ctx.received_at,
        reporter=Reporter(contact=f"+{message.sender.lstrip('+')}", display_name=profile,
                          user_id=contact.user_id if contact else None),
        visibility="private", text=text, attachments=tuple(attachments), location=location,
        thread=_thread(message),
        flags=tuple(flags),
    ))


def _thread(message: payloads.WaMessage) -> Thread | None:
    """The message it answers, and for a group message the group as its conversation."""
    reply_to = message.context.id if message.context is not None and message.context.id else None
    conversation = f"group:{message.group_id}" if message.group_id else None
    return Thread(reply_to=reply_to, conversation=conversation) if reply_to or conversation else None


def _valid_stamp(stamp: payloads.Stamp) -> bool:
    """WhatsApp sends UNIX seconds as a digit string; anything else did not come from the Cloud API as documented."""
    if isinstance(stamp, bool):
        return False
    if isinstance(stamp, str):
        return stamp.strip().isdigit()
    return stamp >= 0


def _describe(error: payloads.WaError) -> str:
    details = error.error_data.details if error.error_data else ""
    return f"error {error.code}: {error.title or error.message}" + (f" ({details})" if details else "")

"""What a WhatsApp message says, by its `type`: text, media, a place, a choice, a Flow's answers, a reaction.

Pure: one decoded message in, its `Content` or the reason it is not a message (`Skip`) out. Who sent it and
where it belongs is `whatsapp.py`'s business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import msgspec

from connectors.meta import payloads
from schemas import Attachment, Location
from schemas.envelope import AttachmentKind

# Media is sent by id; the connector resolves `whatsapp-media:<id>` through the Graph API before downloading.
MEDIA_SCHEME = "whatsapp-media:"
MEDIA: dict[str, AttachmentKind] = {
    "image": "image", "document": "document", "audio": "audio", "voice": "audio", "video": "video",
    "sticker": "sticker",
}
REACTION_FLAG = "reaction"
_NOT_WRITTEN = frozenset({"flow_token"})  # the correlation value Kanal sent with the Flow, not an answer
_SCREEN_PREFIX = re.compile(r"^screen_\d+_")
_INDEX_SUFFIX = re.compile(r"_\d+$")


@dataclass(frozen=True)
class Content:
    """The message's words, media and place; `reply_to` is the message a reaction points at."""

    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    flags: tuple[str, ...] = ()
    reply_to: str | None = None


@dataclass(frozen=True)
class Skip:
    """Not a message from a person: dead-lettered (`reject`) or ignored with `reason`."""

    reason: str
    detail: str
    reject: bool = field(default=True)


def content(message: payloads.WaMessage) -> Content | Skip:
    """The content of one messages[] element, by its documented `type`."""
    kind, ident = message.type, message.id
    if message.errors or kind in ("unsupported", "unknown", "ephemeral"):
        detail = "; ".join(describe(e) for e in message.errors) or f"type '{kind}' without errors"
        return Skip("unsupported_message", f"whatsapp message {ident}: {detail}")
    if kind == "system":
        system = message.system or payloads.WaSystem()
        # The body names the old and new phone numbers: kept in the dead letter's data, never in its detail (logged).
        return Skip("system_message", f"whatsapp system message {ident} ({system.type or 'no type'}): the sender's "
                    "phone number or user id changed, no one wrote this")
    if kind == "request_welcome":
        return Skip("welcome_request", f"whatsapp {ident}: the user opened the chat (nothing written yet)", False)
    if kind == "text" and message.text is not None:
        return Content(text=message.text.body)
    if kind in MEDIA and getattr(message, kind) is not None:
        media: payloads.WaMedia = getattr(message, kind)
        source = f"{MEDIA_SCHEME}{media.id}" if media.id else media.url
        return Content(text=media.caption or "", attachments=(Attachment(
            kind=MEDIA[kind], media_type=media.mime_type, name=media.filename, source_url=source),))
    if kind == "location" and message.location is not None:
        place = message.location
        address = ", ".join(p for p in (place.name, place.address) if p) or None
        return Content(location=Location(lat=place.latitude, lon=place.longitude, source="provider",
                                         address=address))
    if kind == "interactive" and message.interactive is not None:
        return _interactive(message.interactive, ident)
    if kind == "button" and message.button is not None:
        return Content(text=message.button.text, flags=("interactive_reply",))
    if kind == "reaction" and message.reaction is not None:
        return _reaction(message.reaction, ident)
    if kind == "contacts" and message.contacts:
        return Content(text="\n".join(_card(c) for c in message.contacts), flags=("shared_contact",))
    if kind == "order" and message.order is not None:
        return Content(text=_order(message.order), flags=("order",))
    return Skip("unsupported_message", f"whatsapp message {ident} of type '{kind}' has no '{kind}' content Kanal "
                "reads")


def _interactive(interactive: payloads.WaInteractive, ident: str) -> Content | Skip:
    reply = interactive.button_reply or interactive.list_reply
    if reply is not None:
        text = reply.title + (f"\n{reply.description}" if reply.description else "")
        return Content(text=text, flags=("interactive_reply",))
    if interactive.nfm_reply is not None:
        return Content(text=flow_text(interactive.nfm_reply), flags=("interactive_reply", "flow_reply"))
    return Skip("unsupported_message", f"whatsapp interactive '{interactive.type}' {ident} has no button_reply, "
                "list_reply or nfm_reply")


def _reaction(reaction: payloads.WaReaction, ident: str) -> Content | Skip:
    if not reaction.emoji:
        return Skip("reaction_removed", f"whatsapp {ident}: reaction on {reaction.message_id} removed", False)
    return Content(text=reaction.emoji, flags=(REACTION_FLAG,), reply_to=reaction.message_id or None)


def flow_text(reply: payloads.WaFlowReply) -> str:
    """A Flow's answers as lines people read ("Lokasi: Jl. Salemba"), without the flow token; the raw string
    when it is not a JSON object, the reply's `body` when nothing was filled in."""
    try:
        fields = msgspec.json.decode(reply.response_json)
    except msgspec.DecodeError:
        return reply.response_json.strip() or reply.body
    if not isinstance(fields, dict):
        return reply.response_json.strip() or reply.body
    lines = list(_lines(fields))
    return "\n".join(lines) or reply.body


def _lines(fields: dict[str, object]) -> list[str]:
    out: list[str] = []
    for key, value in fields.items():
        if key in _NOT_WRITTEN or value is None or value == "":
            continue
        if isinstance(value, dict):
            out.extend(_lines(value))  # an address form's {"values": {...}}: its fields, not the wrapper
            continue
        out.append(f"{_label(key)}: {_value(value)}")
    return out


def _label(key: str) -> str:
    """`screen_0_Lokasi_0` (a Flow builder's generated name) -> `Lokasi`; `nama_lengkap` -> `nama lengkap`."""
    bare = _INDEX_SUFFIX.sub("", _SCREEN_PREFIX.sub("", key)) or key
    return bare.replace("_", " ")


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    return str(value)


def _card(card: payloads.WaSharedContact) -> str:
    name = card.name.formatted_name if card.name else ""
    phones = ", ".join(p.phone for p in card.phones if p.phone)
    return "Kontak: " + " ".join(part for part in (name, f"({phones})" if phones else "") if part)


def _order(order: payloads.WaOrder) -> str:
    items = ", ".join(f"{item.quantity} × {item.product_retailer_id}" for item in order.product_items)
    return "\n".join(part for part in (order.text or "", f"Pesanan: {items}" if items else "") if part)


def describe(error: payloads.WaError) -> str:
    """One WhatsApp error as a dead letter's detail."""
    details = error.error_data.details if error.error_data else ""
    return f"error {error.code}: {error.title or error.message}" + (f" ({details})" if details else "")

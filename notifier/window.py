"""The reporter's latest inbound message per conversation: where WhatsApp's 24-hour window starts.

The notifier reads every inbound envelope (KANAL_IN) for opt-out words anyway; for each direct message it
keeps the newest message time in KV `kanal_reporters` under `seen.<reporter key>` (the same non-reversible key
as `optout.` and `rate.`: channel, account and sender hashed, no phone number), and stamps it on each outbound
message as `last_inbound_at`. The connector's sender compares it with the clock when it sends
(connectors/outbound/whatsapp.py): free text inside the window, an approved template outside it.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from notifier.compose import reporter_key
from schemas.envelope import Envelope
from schemas.outbound import OutboundMessage, ReplyAddress

WINDOWED = "direct_message"  # the kind whose providers count a window from the customer's latest message


def seen_key(address: Envelope | ReplyAddress) -> str:
    """KV key of one reporter's latest inbound message time."""
    return f"seen.{reporter_key(address)}"


async def _read(kv: KeyValue, key: str) -> tuple[datetime | None, int | None]:
    try:
        entry = await kv.get(key)
    except (KeyNotFoundError, NotFoundError):
        return None, None
    at = msgspec.json.decode(entry.value, type=datetime) if entry.value else None
    return at, entry.revision


async def note_inbound(kv: KeyValue, envelope: Envelope) -> None:
    """Remember `envelope` as its reporter's latest message, unless a newer one is already known (messages can
    arrive out of order; concurrent notifiers compare-and-set)."""
    if envelope.kind != WINDOWED:
        return
    key, at = seen_key(envelope), envelope.created_at
    for _ in range(5):
        known, revision = await _read(kv, key)
        if known is not None and known >= at:
            return
        try:
            if revision is None:
                await kv.create(key, msgspec.json.encode(at))
            else:
                await kv.update(key, msgspec.json.encode(at), last=revision)
            return
        except KeyWrongLastSequenceError:
            continue  # another notifier wrote meanwhile: read again


async def stamp(kv: KeyValue, message: OutboundMessage) -> OutboundMessage:
    """`message` with `last_inbound_at` set when the reporter wrote after the message it answers."""
    address = message.reply_to
    if address.kind != WINDOWED:
        return message
    known, _ = await _read(kv, seen_key(address))
    if known is None or known <= address.created_at:
        return message
    return msgspec.structs.replace(message, last_inbound_at=known)

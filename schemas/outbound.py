"""Messages back to reporters (`kanal.out.<channel>.<instance>`) and the record of each send attempt."""

from __future__ import annotations

import hashlib
from typing import Literal

from msgspec import Struct

from schemas._decode import strict_decode
from schemas.envelope import Envelope, EnvelopeId, UtcTime

Purpose = Literal["ack", "duplicate", "status", "final"]
SendState = Literal["sending", "retrying", "sent", "failed", "skipped", "in_doubt"]


class OutboundMessage(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One message to one reporter, in the thread of the envelope they sent (`reply_to`)."""

    v: Literal[1] = 1
    id: str
    item_id: EnvelopeId
    ref: str
    purpose: Purpose
    text: str
    reply_to: Envelope
    subject: str | None = None
    stage: str | None = None
    # False for private or anonymous reports: the sender must use a private channel (DM) or send nothing.
    public_allowed: bool = False
    not_before: UtcTime | None = None
    created_at: UtcTime


class SendRecord(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What happened to one outbound message; kept per message so a restart never sends it twice."""

    v: Literal[1] = 1
    message_id: str
    item_id: EnvelopeId
    purpose: Purpose
    state: SendState
    at: UtcTime
    reason: str | None = None
    provider_id: str | None = None
    channel: str
    instance: str
    attempts: int = 0  # provider calls made so far (quiet-hours waits do not count)


def outbound_id(item_id: str, purpose: str, stage: str | None = None) -> str:
    """Deterministic id: the same acknowledgement or stage update is never composed twice."""
    key = "\x1f".join((item_id, purpose, stage or "")).encode()
    return hashlib.blake2b(key, digest_size=16, person=b"kanal-outbound").hexdigest()


def decode_outbound(data: bytes | str) -> OutboundMessage:
    """Strictly decode an outbound message."""
    return strict_decode(data, OutboundMessage, "outbound message")


def decode_send_record(data: bytes | str) -> SendRecord:
    """Strictly decode a send record."""
    return strict_decode(data, SendRecord, "send record")

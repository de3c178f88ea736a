"""Messages back to reporters (`kanal.out.<channel>.<instance>`) and the record of each send attempt."""

from __future__ import annotations

import hashlib
from typing import Literal

import msgspec
from msgspec import Struct

from schemas._decode import strict_decode
from schemas.envelope import (
    ChannelId,
    Envelope,
    EnvelopeId,
    InstanceName,
    Kind,
    NonEmpty,
    Thread,
    UtcTime,
    Visibility,
    encode,
)
from schemas.privacy import reporter_view

Purpose = Literal["ack", "duplicate", "status", "final"]
SendState = Literal["sending", "retrying", "sent", "failed", "skipped", "in_doubt"]
# What the network said after `sent` (delivery reports, e.g. Kannel's dlr-url): accepted/rejected by the
# operator's SMSC, buffered (phone unreachable for now), delivered to the phone, read (WhatsApp read receipts),
# or failed for good (also a failure WhatsApp/Twilio report after accepting the send).
DeliveryState = Literal["accepted", "rejected", "buffered", "delivered", "read", "failed"]


class Addressee(Struct, frozen=True, kw_only=True):
    """The reporter as a sender needs them: how to reach them, and whether they asked to stay anonymous.

    Unknown keys are ignored, so the `reporter` of a whole envelope (former `reply_to`, with `nik`) decodes.
    """

    handle: str | None = None
    display_name: str | None = None
    contact: str | None = None
    user_id: str | None = None
    anonymous: bool = False


class ReplyAddress(Struct, frozen=True, kw_only=True):
    """Where and how to answer one reporter: the fields of their envelope a sender needs, and nothing else
    (no complaint text, location, attachments or NIK).

    Same field names as the Envelope, and unknown keys are ignored, so a message written before v1.1, whose
    `reply_to` held the whole envelope, still decodes.
    """

    channel: ChannelId
    instance: InstanceName
    account: NonEmpty
    external_id: NonEmpty            # the message being answered (tweet, wamid, Message-ID, chat:message)
    kind: Kind
    created_at: UtcTime              # providers' reply windows (WhatsApp 24 h, Messenger 7 days) start here
    reporter: Addressee
    visibility: Visibility
    subject: str | None = None
    language: str | None = None
    thread: Thread | None = None
    flags: tuple[str, ...] = ()


def reply_address(envelope: Envelope) -> ReplyAddress:
    """The reply address of the reporter who sent `envelope`: its wire form read as an address (keys the address
    does not have are left behind), with the reporter as the outbound audience may see them."""
    address = msgspec.json.decode(encode(envelope), type=ReplyAddress)
    who = reporter_view(envelope, "outbound")  # an anonymous reporter's address, never their name
    return msgspec.structs.replace(address, reporter=Addressee(
        handle=who.handle, display_name=who.display_name, contact=who.contact, user_id=who.user_id,
        anonymous=who.anonymous))


class OutboundMessage(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One message to one reporter, in the thread of the message they sent (`reply_to`)."""

    v: Literal[1] = 1
    id: str
    item_id: EnvelopeId
    ref: str
    purpose: Purpose
    text: str
    reply_to: ReplyAddress
    subject: str | None = None
    stage: str | None = None
    # False for private or anonymous reports: the sender must use a private channel (DM) or send nothing.
    public_allowed: bool = False
    not_before: UtcTime | None = None
    created_at: UtcTime
    # Since v1.2, optional: the reporter's latest inbound message on this conversation (WhatsApp's 24-hour
    # window starts there, not at the report), and the report's status link (a template parameter).
    last_inbound_at: UtcTime | None = None
    status_url: str | None = None
    # Since v1.3: the message asks the reporter to share their location; the value is the button's label where
    # the channel has a location request (Telegram's request_location keyboard; WhatsApp's location request
    # shows its own). Other channels send the text alone, which says how to answer.
    ask_location: str | None = None


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
    delivery: DeliveryState | None = None  # latest delivery report, when the channel gives them
    delivery_at: UtcTime | None = None
    delivery_detail: str | None = None  # the provider's words (e.g. an SMSC's "stat:DELIVRD"), numbers removed
    template: str | None = None  # since v1.2: the WhatsApp template the message went as ("final/id"), if one
    fallback: str | None = None  # since v1.2: the instance a message that could not go was handed to instead


def outbound_id(item_id: str, purpose: str, stage: str | None = None) -> str:
    """Deterministic id: the same acknowledgement or stage update is never composed twice."""
    key = "\x1f".join((item_id, purpose, stage or "")).encode()
    return hashlib.blake2b(key, digest_size=16, person=b"kanal-outbound").hexdigest()


def decode_outbound(data: bytes | str) -> OutboundMessage:
    """Strictly decode an outbound message."""
    return strict_decode(data, OutboundMessage, "outbound message")


def decode_reply_address(data: bytes | str) -> ReplyAddress:
    """Strictly decode a reply address (a stored whole envelope decodes too)."""
    return strict_decode(data, ReplyAddress, "reply address")


def decode_send_record(data: bytes | str) -> SendRecord:
    """Strictly decode a send record."""
    return strict_decode(data, SendRecord, "send record")

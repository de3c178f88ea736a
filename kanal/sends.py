"""Send records in KV (`kanal_outbound`, key `<item_id>.<message_id>`): the memory that prevents double sends.

Below both rooms that touch them: the notifier records what it skipped, each connector's sender loop records
what it sent, and the console shows an item's records to its admins.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import msgspec
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from schemas import encode
from schemas.outbound import DeliveryState, OutboundMessage, SendRecord, SendState, decode_outbound, decode_send_record

FINAL_DELIVERY = frozenset({"delivered", "read", "failed", "rejected"})

MAX_DELIVERIES = 8  # provider calls per message before it is recorded as failed (`[outbound] max_deliveries`)
# The channels whose reporters the notifier answers when `[outbound] channels` is not set.
CHANNELS = ("twilio", "kannel", "meta", "telegram", "email", "x")


class DeliverySettings(msgspec.Struct, frozen=True, kw_only=True):
    """The sender loop's part of `[outbound]`; the notifier reads (and checks) the whole section."""

    max_deliveries: int = MAX_DELIVERIES
    channels: list[str] = msgspec.field(default_factory=lambda: list(CHANNELS))


def record_key(item_id: str, message_id: str) -> str:
    """KV key of one message's record."""
    return f"{item_id}.{message_id}"


def reply_key(channel: str, instance: str, reply_ref: str) -> str:
    """KV key naming one message Kanal sent, as the reporter's reply to it names it (`Thread.reply_to`)."""
    import hashlib

    raw = "\x1f".join((channel, instance, reply_ref)).encode()
    return "reply." + hashlib.blake2b(raw, digest_size=12).hexdigest()


def sent_key(channel: str, instance: str, provider_id: str) -> str:
    """KV key of the message Kanal sent under the provider's id, for reports that name only that id (status
    webhooks)."""
    import hashlib

    raw = "\x1f".join((channel, instance, provider_id)).encode()
    return "sent." + hashlib.blake2b(raw, digest_size=12).hexdigest()


async def remember_sent(kv: KeyValue, channel: str, instance: str, provider_id: str, message: OutboundMessage) -> None:
    """Keep the sent message under its provider id: a late failure finds its record, and its words for a fallback."""
    await kv.put(sent_key(channel, instance, provider_id), encode(message))


async def sent_message(kv: KeyValue, channel: str, instance: str, provider_id: str) -> OutboundMessage | None:
    """The message this instance sent under `provider_id`, or None when it sent none (or it is forgotten)."""
    try:
        entry = await kv.get(sent_key(channel, instance, provider_id))
    except (KeyNotFoundError, NotFoundError):
        return None
    return decode_outbound(entry.value) if entry.value else None


async def remember_reply(kv: KeyValue, channel: str, instance: str, provider_id: str, ref: str) -> None:
    """Record which report a sent message was about (its reference), so a reply to it is a follow-up."""
    await kv.put(reply_key(channel, instance, provider_id), ref.encode())


def make(message: OutboundMessage, state: SendState, channel: str, instance: str, reason: str | None = None,
         provider_id: str | None = None, attempts: int = 0, template: str | None = None,
         fallback: str | None = None) -> SendRecord:
    """A record for `message` in `state` (`template`: the WhatsApp template it went as; `fallback`: the instance
    it was handed to when it could not go here)."""
    return SendRecord(message_id=message.id, item_id=message.item_id, purpose=message.purpose, state=state,
                      at=datetime.now(UTC), reason=reason, provider_id=provider_id, channel=channel,
                      instance=instance, attempts=attempts, template=template, fallback=fallback)


async def read(kv: KeyValue, key: str) -> tuple[SendRecord | None, int | None]:
    """The record and its KV revision, or (None, None)."""
    try:
        entry = await kv.get(key)
    except (KeyNotFoundError, NotFoundError):
        return None, None
    if not entry.value:
        return None, entry.revision
    return decode_send_record(entry.value), entry.revision


async def write(kv: KeyValue, record: SendRecord, last: int | None = None, create: bool = False) -> int:
    """Store a record; with `create` or `last`, only if nobody changed it meanwhile (raises otherwise)."""
    key = record_key(record.item_id, record.message_id)
    data = encode(record)
    if create:
        return int(await kv.create(key, data))
    if last is not None:
        return int(await kv.update(key, data, last=last))
    return int(await kv.put(key, data))


async def for_item(kv: KeyValue, item_id: str) -> list[SendRecord]:
    """Every send record of one item (what the reporter was told, or why not), oldest first.

    A watch on `<item_id>.*` filters on the server, so the cost does not grow with the bucket.
    """
    watcher: Any = await kv.watch(f"{item_id}.*", ignore_deletes=True)  # nats-py leaves its methods untyped
    found: list[SendRecord] = []
    try:
        while True:
            entry = await watcher.updates(timeout=5.0)
            if entry is None:
                break
            if entry.value:
                found.append(decode_send_record(entry.value))
    finally:
        await watcher.stop()
    return sorted(found, key=lambda r: r.at)


def with_delivery(record: SendRecord, state: DeliveryState, at: datetime, detail: str | None) -> SendRecord:
    """`record` with a delivery report applied; a final word (delivered, failed) is never undone by a late
    intermediate one (reports of one message can arrive out of order)."""
    if record.delivery in FINAL_DELIVERY and state not in FINAL_DELIVERY:
        return record
    if record.delivery == "read" and state == "delivered":  # "read" already says it was delivered
        return record
    return msgspec.structs.replace(record, delivery=state, delivery_at=at, delivery_detail=detail)


async def record_delivery(kv: KeyValue, item_id: str, message_id: str, state: DeliveryState, at: datetime,
                          detail: str | None, settle: float = 15.0) -> SendRecord | None:
    """Apply a delivery report to the message's send record; None when no such record exists.

    A report can overtake the sender loop (the gateway delivers before `sent` is written): while the record
    still says `sending` it waits up to `settle` seconds, since writing then would break the loop's
    compare-and-set; after that it raises TimeoutError (the gateway is answered 503 and may retry).
    Concurrent reports retry their compare-and-set.
    """
    key = record_key(item_id, message_id)
    deadline = time.monotonic() + settle
    while True:
        record, revision = await read(kv, key)
        if record is None or revision is None:
            return None
        if record.state == "sending":
            if time.monotonic() >= deadline:
                raise TimeoutError(f"send record {key} still says sending; deliver the report again later")
            await asyncio.sleep(0.2)
            continue
        updated = with_delivery(record, state, at, detail)
        if updated is record:
            return record
        try:
            await kv.update(key, encode(updated), last=revision)
        except KeyWrongLastSequenceError:
            continue
        return updated


async def mark_fallback(kv: KeyValue, item_id: str, message_id: str, instance: str, reason: str) -> bool:
    """Record that a message was handed to the fallback `instance` after it failed late; False when its record
    already names a fallback (a provider's retried status webhook) or is gone."""
    key = record_key(item_id, message_id)
    while True:
        record, revision = await read(kv, key)
        if record is None or revision is None or record.fallback is not None:
            return False
        updated = msgspec.structs.replace(record, fallback=instance, reason=reason)
        try:
            await kv.update(key, encode(updated), last=revision)
        except KeyWrongLastSequenceError:
            continue
        return True


class TemplateNote(msgspec.Struct, frozen=True, kw_only=True):
    """The latest WhatsApp template outcome of one sender instance (KV key `whatsapp.<instance>`), for
    `kanal doctor`: a refused template means updates stop reaching reporters who last wrote over 24 h ago."""

    at: datetime
    ok: bool
    template: str | None = None
    reason: str | None = None


def template_key(instance: str) -> str:
    """KV key of an instance's latest template outcome (outside the `<item_id>.<message_id>` records)."""
    return f"whatsapp.{instance}"


async def note_template(kv: KeyValue, instance: str, note: TemplateNote) -> None:
    """Record the latest template outcome (overwrites: doctor wants the current state, not the history)."""
    await kv.put(template_key(instance), msgspec.json.encode(note))


async def template_note(kv: KeyValue, instance: str) -> TemplateNote | None:
    """The latest template outcome of `instance`, or None when it has sent no template."""
    try:
        entry = await kv.get(template_key(instance))
    except (KeyNotFoundError, NotFoundError):
        return None
    return msgspec.json.decode(entry.value, type=TemplateNote) if entry.value else None


__all__ = ["FINAL_DELIVERY", "MAX_DELIVERIES", "DeliverySettings", "TemplateNote", "for_item", "make", "mark_fallback",
           "note_template", "read", "record_delivery", "record_key", "remember_sent", "sent_key", "sent_message",
           "template_key", "template_note", "with_delivery", "write"]

"""Delivering outbound messages inside a connector instance: at most once, every outcome recorded.

Before calling the provider the record goes to `sending` (compare-and-set in KV); after, `sent` or `failed`
with the reason. A restart that finds `sending` cannot know whether the provider got it, so it marks the
message `in_doubt` for the admin instead of sending it a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import msgspec
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig
from nats.js.client import JetStreamContext
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from connectors.errors import PermanentError, TransientError
from connectors.outbound.fallback import by_sms
from kanal import bus, sends
from schemas import SchemaError, encode, subjects
from schemas.outbound import OutboundMessage, SendRecord, SendState, decode_outbound


class SendRefused(Exception):
    """The provider's rules or the reporter's privacy forbid this message (e.g. WhatsApp's 24-hour window).

    `fallback_ok`: the same words may go to the same person on another channel (a WhatsApp template that
    cannot be sent), when the instance names a fallback.
    """

    fallback_ok = False

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Sent(msgspec.Struct, frozen=True, kw_only=True):
    """What a sender may return instead of a bare id: the provider's id and the WhatsApp template used."""

    provider_id: str | None = None
    template: str | None = None


@runtime_checkable
class Sender(Protocol):
    """A connector that can answer reporters implements this."""

    async def send(self, message: OutboundMessage) -> str | Sent | None:
        """Deliver one message in the reporter's thread; return the provider's message id (or a Sent)."""


class SenderLoop:
    """Consumes `kanal.out.<channel>.<instance>` with a durable consumer and calls the connector's `send`."""

    def __init__(self, js: JetStreamContext, kv: KeyValue, sender: Sender, channel: str, instance: str,
                 logger: Any, max_deliveries: int = sends.MAX_DELIVERIES) -> None:
        self.js = js
        self.kv = kv
        self.sender = sender
        self.channel = channel
        self.instance = instance
        self.log = logger
        self.max_deliveries = max_deliveries
        self.on_permanent: Any = None
        # (channel, instance) that takes, as SMS, a WhatsApp message whose template cannot be sent
        self.fallback: tuple[str, str] | None = None

    @classmethod
    async def open(cls, js: JetStreamContext, sender: Sender, channel: str, instance: str, logger: Any) -> SenderLoop:
        """Open the send-record bucket."""
        return cls(js, await bus.ensure_kv(js, subjects.KV_OUTBOUND, history=5), sender, channel, instance, logger)

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch and deliver until `stop`."""
        subject = subjects.outbound(self.channel, self.instance)
        durable = f"sender-{self.instance}"
        # No server-side delivery limit: quiet-hours waits are redeliveries too. Real provider calls are
        # counted in the send record and bounded by `max_deliveries`.
        config = ConsumerConfig(durable_name=durable, filter_subject=subject, ack_wait=60, max_deliver=-1)
        sub = await self.js.pull_subscribe(subject, durable=durable, stream=subjects.STREAM_OUT, config=config)
        try:
            while not stop.is_set():
                try:
                    batch = await sub.fetch(16, timeout=1)
                except TimeoutError:
                    continue
                for msg in batch:
                    await self.deliver(msg)
        finally:
            with contextlib.suppress(Exception):  # a leftover fetch inbox would hold up the connection's close
                await sub.unsubscribe()

    async def deliver(self, msg: Msg) -> SendState | None:
        """Handle one queued message; returns the state it ended in (None when it was only postponed)."""
        try:
            message = decode_outbound(msg.data)
        except SchemaError as err:
            self.log.error("outbound_invalid", error=str(err))
            await msg.term()
            return None
        if message.not_before and message.not_before > datetime.now(UTC):
            wait = (message.not_before - datetime.now(UTC)).total_seconds()
            await msg.nak(delay=min(wait, 3600.0))  # quiet hours: wait, do not count it as a failure
            return None
        key = sends.record_key(message.item_id, message.id)
        record, revision = await sends.read(self.kv, key)
        if record is not None and record.state != "retrying":
            if record.state == "sending":
                await self._record(message, "in_doubt", revision,
                                   reason="interrupted during a send; not repeated so the reporter is never "
                                          "messaged twice", attempts=record.attempts)
                self.log.warning("send_in_doubt", item_id=message.item_id, purpose=message.purpose)
            await msg.ack()
            return record.state if record.state != "sending" else "in_doubt"
        attempts = (record.attempts if record is not None else 0) + 1
        try:
            revision = await self._record(message, "sending", revision, create=record is None, attempts=attempts)
        except KeyWrongLastSequenceError:  # another sender took it first
            await msg.ack()
            return None
        except Exception as err:  # KV unreachable: try again later, never drop the message
            self.log.warning("send_record_unavailable", item_id=message.item_id, error=repr(err))
            await msg.nak(delay=5.0)
            return None
        try:
            sent = await self.sender.send(message)
        except SendRefused as err:
            if err.fallback_ok:
                await self._note(sends.TemplateNote(at=datetime.now(UTC), ok=False, reason=err.reason))
            if err.fallback_ok and self.fallback is not None:
                return await self._hand_over(msg, message, revision, err.reason, attempts)
            return await self._finish(msg, message, "failed", revision, err.reason, attempts=attempts)
        except PermanentError as err:
            if self.on_permanent is not None:
                self.on_permanent(err)
            return await self._finish(msg, message, "failed", revision, str(err), attempts=attempts)
        except (TransientError, OSError, TimeoutError) as err:
            if attempts >= self.max_deliveries:
                return await self._finish(msg, message, "failed", revision, f"gave up after {attempts} tries: {err}",
                                          attempts=attempts)
            await self._record(message, "retrying", revision, reason=str(err), attempts=attempts)
            delay = err.wait_seconds(2.0**attempts) if isinstance(err, TransientError) else 2.0**attempts
            self.log.warning("send_retry", item_id=message.item_id, error=str(err), retry_in_s=round(delay, 1))
            await msg.nak(delay=min(delay, 900.0))
            return "retrying"
        if isinstance(sent, Sent):
            if sent.template is not None:
                await self._note(sends.TemplateNote(at=datetime.now(UTC), ok=True, template=sent.template))
            return await self._finish(msg, message, "sent", revision, None, sent.provider_id, attempts=attempts,
                                      template=sent.template)
        return await self._finish(msg, message, "sent", revision, None, sent, attempts=attempts)

    async def _note(self, note: sends.TemplateNote) -> None:
        """Keep the latest template outcome for `kanal doctor`; losing it loses no message."""
        try:
            await sends.note_template(self.kv, self.instance, note)
        except Exception as err:
            self.log.warning("template_note_not_written", error=repr(err))

    async def _hand_over(self, msg: Msg, message: OutboundMessage, revision: int | None, reason: str,
                         attempts: int) -> SendState:
        """Queue the message's SMS twin on the fallback instance, and record this one as failed with both."""
        assert self.fallback is not None
        channel, instance = self.fallback
        twin = by_sms(message, channel, instance)
        if twin is None:
            return await self._finish(msg, message, "failed", revision,
                                      f"{reason}; no SMS fallback: the reporter's WhatsApp address is not a phone "
                                      "number", attempts=attempts)
        try:
            await self.js.publish(subjects.outbound(channel, instance), encode(twin),
                                  headers={"Nats-Msg-Id": twin.id})
        except Exception as err:  # the bus is away: try the whole message again later
            self.log.warning("send_fallback_unavailable", item_id=message.item_id, error=repr(err))
            await self._record(message, "retrying", revision, reason=f"{reason}; fallback not queued yet",
                               attempts=attempts)
            await msg.nak(delay=5.0)
            return "retrying"
        self.log.info("reporter_message_fallback", item_id=message.item_id, purpose=message.purpose,
                      fallback=f"{channel}.{instance}")
        return await self._finish(msg, message, "failed", revision, f"{reason}; sent by SMS through {instance} "
                                  "instead", attempts=attempts, fallback=instance)

    async def _finish(self, msg: Msg, message: OutboundMessage, state: SendState, revision: int | None,
                      reason: str | None, provider_id: str | None = None, attempts: int = 0,
                      template: str | None = None, fallback: str | None = None) -> SendState:
        if state == "sent" and provider_id:
            try:  # before `sent`: a status webhook can overtake the record (connectors/outbound/late.py)
                await sends.remember_sent(self.kv, self.channel, self.instance, provider_id, message)
                # a reply to this message is a follow-up of its report (router/followups.py)
                await sends.remember_reply(self.kv, self.channel, self.instance, provider_id, message.ref)
            except Exception as err:  # the message is sent; only late outcomes and reply detection are lost
                self.log.warning("reply_index_not_written", item_id=message.item_id, error=repr(err))
        await self._record(message, state, revision, reason=reason, provider_id=provider_id, attempts=attempts,
                           template=template, fallback=fallback)
        if state == "sent":
            self.log.info("reporter_message_sent", item_id=message.item_id, purpose=message.purpose)
        else:  # the citizen did not hear from us: an operator should see it (recorded on the item too)
            self.log.warning("reporter_message_failed", item_id=message.item_id, purpose=message.purpose,
                             state=state, reason=reason)
        await msg.ack()
        return state

    async def _record(self, message: OutboundMessage, state: SendState, revision: int | None, *,
                      reason: str | None = None, provider_id: str | None = None, create: bool = False,
                      attempts: int = 0, template: str | None = None, fallback: str | None = None) -> int:
        record: SendRecord = sends.make(message, state, self.channel, self.instance, reason, provider_id,
                                          attempts, template, fallback)
        if create:
            return await sends.write(self.kv, record, create=True)
        return await sends.write(self.kv, record, last=revision)

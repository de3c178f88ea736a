"""The notifier service: routed items and status changes in, messages to reporters out (`kanal notifier run`).

A FastStream app on one NATS connection (the broker's): durable pull subscribers on KANAL_ADMIN
(acknowledgements), KANAL_STATUS (updates) and KANAL_IN (opt-out words, status questions) take typed msgspec
bodies; the Notifier applies the reporter's rules (opt-out, rate limit, quiet hours, private/anonymous) and
publishes to `kanal.out.<channel>.<instance>` through the app's publisher, with the message id as Nats-Msg-Id.
Every skip is recorded; what cannot be used is dead-lettered with the reason (notifier/delivery.py).
The subjects are declared in schemas/operations.py, which `kanal schema asyncapi` describes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import msgspec
from fast_depends.msgspec import MsgSpecSerializer
from faststream import AckPolicy, Context
from faststream.nats import ConsumerConfig, DeliverPolicy, JStream, NatsBroker, NatsMessage, PullSub
from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from kanal import bus, log, sends
from kanal.config import Config
from kanal.control import ConversationSettings, classify, control_words
from kanal.references import References
from notifier import compose, window
from notifier.delivery import DeadLetters, faststream_logger
from notifier.settings import OutboundSettings
from schemas import decode_envelope, decode_routed, decode_status, encode, operations, subjects
from schemas.envelope import Envelope
from schemas.outbound import OutboundMessage, decode_reply_address
from schemas.routed import RoutedItem
from schemas.status import StatusUpdate

if TYPE_CHECKING:
    from faststream.nats.publisher.usecase import LogicPublisher
    from faststream.nats.subscriber.usecases import PullStreamSubscriber

__all__ = ["App", "Notifier", "build", "faststream_logger", "run"]

_log = log.get("notifier")
_NOTIFIER = "kanal_notifier"  # the FastStream context key the handlers read their Notifier from
MAX_DELIVER = 5  # deliveries of a message whose handling keeps failing before it is dead-lettered
PUBLISH_TIMEOUT = 5.0  # seconds to wait for JetStream's ack of a published message (nats-py's default)


class Notifier:
    """One process; any number may run (they share the durable consumers)."""

    def __init__(self, js: JetStreamContext, outbox: LogicPublisher, settings: OutboundSettings,
                 threads: KeyValue, reporters: KeyValue, outbound: KeyValue,
                 conversations: ConversationSettings | None = None) -> None:
        self.js = js  # for KV reads (references); the same connection as the broker's
        self.outbox = outbox
        self.settings = settings
        self.words = control_words(conversations or ConversationSettings(), settings.opt_out_words,
                                   settings.opt_in_words)
        self.refs = References()
        self.threads = threads
        self.reporters = reporters
        self.outbound = outbound

    @classmethod
    async def open(cls, js: JetStreamContext, outbox: LogicPublisher, settings: OutboundSettings,
                   conversations: ConversationSettings | None = None) -> Notifier:
        """Open the KV buckets it needs (created if missing); `conversations`: `[conversations]`'s words."""
        return cls(js, outbox, settings, await bus.ensure_kv(js, subjects.KV_THREADS),
                   await bus.ensure_kv(js, subjects.KV_REPORTERS), await bus.ensure_kv(js, subjects.KV_OUTBOUND),
                   conversations)

    async def on_routed(self, item: RoutedItem) -> OutboundMessage | None:
        """Acknowledge a routed item to its reporter (or record why not)."""
        try:
            message = compose.for_routed(item, self.settings, datetime.now(UTC))
        except compose.Skip as skip:
            _log.info("reporter_not_answered", item_id=item.item_id, reason=skip.reason)
            return None
        await self.threads.put(item.item_id, encode(message.reply_to))  # the address, not the whole envelope
        return await self._gate_and_publish(message)

    async def on_status(self, update: StatusUpdate) -> OutboundMessage | None:
        """Tell the reporter about a stage change, in the thread of their report."""
        try:
            entry = await self.threads.get(update.item_id)
        except (KeyNotFoundError, NotFoundError):
            _log.info("status_not_sent", item_id=update.item_id, reason="no answerable reporter for this item")
            return None
        address = decode_reply_address(entry.value or b"")  # entries written before v1.1 hold an envelope: fine
        try:
            message = compose.for_status(update, address, self.settings, datetime.now(UTC))
        except compose.Skip as skip:
            _log.info("reporter_not_answered", item_id=update.item_id, reason=skip.reason)
            return None
        return await self._gate_and_publish(message)

    async def on_inbound(self, envelope: Envelope) -> str | None:
        """A message that is not a complaint (kanal/control.py): record an opt-out ('BERHENTI') or opt-in
        ('MULAI'), answer a status question ("status KNL-..."); returns "out", "in", "status" or None.
        Every direct message also moves its reporter's WhatsApp window (notifier/window.py)."""
        await window.note_inbound(self.reporters, envelope)
        control = classify(envelope, self.words)
        if control is None or control.kind == "no_complaint":
            return None
        if control.kind == "status" and control.ref is not None:
            await self._answer_status(envelope, control.ref)
            return "status"
        command = "out" if control.kind == "opt_out" else "in"
        key = f"optout.{compose.reporter_key(envelope)}"
        if command == "out":
            await self.reporters.put(key, b"1")
        else:
            with contextlib.suppress(KeyNotFoundError, NotFoundError):
                await self.reporters.delete(key)
        _log.info("reporter_opted_" + command, channel=envelope.channel, instance=envelope.instance)
        return command

    async def _answer_status(self, question: Envelope, ref: str) -> OutboundMessage | None:
        record = await self.refs.lookup(self.js, ref)
        report = await self.refs.report_status(self.js, ref) if record is not None else None
        try:
            message = compose.for_status_question(question, ref, record.id if record else None,
                                                  report.stage if report else None, self.settings,
                                                  datetime.now(UTC))
        except compose.Skip as skip:
            _log.info("reporter_not_answered", envelope_id=question.id, reason=skip.reason)
            return None
        return await self._gate_and_publish(message)

    async def _gate_and_publish(self, message: OutboundMessage) -> OutboundMessage | None:
        address = message.reply_to
        reporter = compose.reporter_key(address)
        reason = await self._refusal(reporter, message)
        if reason is not None:
            record = sends.make(message, "skipped", address.channel, address.instance, reason=reason)
            with contextlib.suppress(Exception):  # already recorded by an earlier delivery
                await sends.write(self.outbound, record, create=True)
            _log.info("reporter_message_skipped", item_id=message.item_id, purpose=message.purpose, reason=reason)
            return None
        message = await window.stamp(self.reporters, message)  # the reporter's latest message: WhatsApp's window
        subject = subjects.outbound(address.channel, address.instance)
        await self.outbox.publish(message, subject, headers={"Nats-Msg-Id": message.id})
        _log.info("reporter_message_queued", item_id=message.item_id, purpose=message.purpose, subject=subject)
        return message

    async def _refusal(self, reporter: str, message: OutboundMessage) -> str | None:
        try:
            await self.reporters.get(f"optout.{reporter}")
            return "the reporter opted out"
        except (KeyNotFoundError, NotFoundError):
            pass
        if message.purpose in ("ack", "final"):
            return None  # the acknowledgement and the final word always go
        return await self._rate_limited(reporter)

    async def _rate_limited(self, reporter: str) -> str | None:
        key = f"rate.{reporter}"
        window = self.settings.rate_window.total_seconds()
        for _ in range(5):  # compare-and-set loop against concurrent notifiers
            now = time.time()
            try:
                entry = await self.reporters.get(key)
                stamps = [t for t in msgspec.json.decode(entry.value or b"[]", type=list[float]) if now - t < window]
                revision: int | None = entry.revision
            except (KeyNotFoundError, NotFoundError):
                stamps, revision = [], None
            if len(stamps) >= self.settings.rate_limit:
                return f"rate limit: {self.settings.rate_limit} messages per {window:.0f}s to one reporter"
            data = msgspec.json.encode([*stamps, now])
            try:
                if revision is None:
                    await self.reporters.create(key, data)
                else:
                    await self.reporters.update(key, data, last=revision)
                return None
            except Exception as err:  # lost the race to another notifier; read again
                _log.debug("rate_counter_retry", error=repr(err))
        return None


BoundNotifier = Annotated[Notifier, Context(_NOTIFIER)]
Decoder = Callable[[NatsMessage], Awaitable[msgspec.Struct]]


async def _routed_body(msg: NatsMessage) -> RoutedItem:
    return decode_routed(msg.body)  # strict: SchemaError (version, field) is dead-lettered, not retried


async def _status_body(msg: NatsMessage) -> StatusUpdate:
    return decode_status(msg.body)


async def _envelope_body(msg: NatsMessage) -> Envelope:
    return decode_envelope(msg.body)


class App:
    """The notifier's FastStream app: one broker (the process's one NATS connection), the subscribers and
    publishers of schemas/operations.py, and the Notifier the handlers use once `open` has bound it."""

    def __init__(self, config: Config, events: bus.ConnectionEvents | None = None,
                 max_deliver: int = MAX_DELIVER) -> None:
        options = bus.faststream_options(config.nats, name="kanal-notifier", events=events)
        self.servers: list[str] = options["servers"]
        self.broker = NatsBroker(**options, serializer=MsgSpecSerializer(), logger=faststream_logger(),
                                 log_level=logging.DEBUG)
        self.outbox = self._publisher(operations.NOTIFIER_OUT)
        self.dead_letters = self._publisher(operations.NOTIFIER_DLQ)
        inbox = bus.subscriber_inbox_prefix(config.nats)  # replies only where its NATS user may read
        # settles every consumed message: a retry with backoff, or a dead letter with the reason
        self.broker.add_middleware(DeadLetters(self.dead_letters, max_deliver))

        def subscriber(op: operations.Operation, decoder: Decoder) -> PullStreamSubscriber:
            return self.broker.subscriber(
                op.subject, stream=JStream(name=op.stream, declare=False), durable=op.durable,
                pull_sub=PullSub(batch_size=64, timeout=1.0), inbox_prefix=inbox, decoder=decoder,
                # acked when the handler returns; what DeadLetters lets through is nacked, never lost
                ack_policy=AckPolicy.NACK_ON_ERROR,
                config=ConsumerConfig(max_deliver=-1, ack_wait=30,
                                      deliver_policy=DeliverPolicy.NEW if op.deliver_new else DeliverPolicy.ALL),
                title=op.title, description=op.description)

        @subscriber(operations.NOTIFIER_ROUTED, _routed_body)
        async def routed(item: RoutedItem, notifier: BoundNotifier) -> None:
            await notifier.on_routed(item)

        @subscriber(operations.NOTIFIER_STATUS, _status_body)
        async def status(update: StatusUpdate, notifier: BoundNotifier) -> None:
            await notifier.on_status(update)

        @subscriber(operations.NOTIFIER_INBOUND, _envelope_body)
        async def inbound(envelope: Envelope, notifier: BoundNotifier) -> None:
            await notifier.on_inbound(envelope)

    def _publisher(self, op: operations.Operation) -> LogicPublisher:
        return self.broker.publisher(op.subject, stream=JStream(name=op.stream, declare=False),
                                     timeout=PUBLISH_TIMEOUT, title=op.title, description=op.description)

    async def open(self, settings: OutboundSettings, conversations: ConversationSettings | None = None,
                   provision: Config | None = None) -> Notifier:
        """Connect, open the Notifier's buckets through this connection and bind it to the handlers; with
        `provision`, create or update the streams and buckets first. `broker.start()` then starts reading."""
        try:
            await self.broker.connect()
        except Exception as err:  # as bus.connect words it: which servers, and what the client said
            raise bus.BusError(f"cannot connect to NATS at {', '.join(self.servers)}: {err!r}") from err
        js = self.broker.connection.jetstream()
        if provision is not None:
            await bus.provision(js, provision)
        notifier = await Notifier.open(js, self.outbox, settings, conversations)
        self.broker.context.set_global(_NOTIFIER, notifier)
        return notifier


def build(config: Config, events: bus.ConnectionEvents | None = None, max_deliver: int = MAX_DELIVER) -> App:
    """The FastStream app (not yet connected); `kanal notifier run` opens and starts it."""
    return App(config, events, max_deliver)


async def run(config: Config) -> int:
    """Run until SIGTERM/SIGINT."""
    settings = config.section("outbound", OutboundSettings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    events = bus.ConnectionEvents("kanal-notifier")
    app = build(config, events=events)
    # NATS may be unreachable for long (it retries forever): a SIGTERM meanwhile still stops the notifier
    opening = asyncio.create_task(app.open(settings, config.section("conversations", ConversationSettings),
                                           provision=config))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({opening, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not opening.done():
        opening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await opening
        with contextlib.suppress(Exception):
            await app.broker.stop()
        _log.info("notifier_stopped", connected=False)
        return 0
    stopping.cancel()
    opening.result()
    events.client = app.broker.connection  # its own close at shutdown is then no disconnect warning
    await app.broker.start()
    _log.info("notifier_started", channels=settings.channels)
    await stop.wait()
    await app.broker.stop()
    _log.info("notifier_stopped")
    return 0

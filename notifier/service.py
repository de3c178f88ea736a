"""The notifier service: routed items and status changes in, messages to reporters out (`kanal notifier run`).

A FastStream app: it reads KANAL_ADMIN (acknowledgements), KANAL_STATUS (updates) and KANAL_IN (opt-out
words) through durable pull consumers, applies the reporter's rules (opt-out, rate limit, quiet hours,
private/anonymous) and publishes
to `kanal.out.<channel>.<instance>` with the message id as Nats-Msg-Id. Every skip is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import msgspec
from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from kanal import bus, log, sends
from kanal.config import Config
from kanal.control import ConversationSettings, classify, control_words
from kanal.references import References
from notifier import compose
from notifier.settings import OutboundSettings
from schemas import SchemaError, decode_envelope, decode_routed, decode_status, encode, subjects
from schemas.envelope import Envelope
from schemas.outbound import OutboundMessage, decode_reply_address

_log = log.get("notifier")


class Notifier:
    """One process; any number may run (they share the durable consumers)."""

    def __init__(self, js: JetStreamContext, settings: OutboundSettings, threads: KeyValue, reporters: KeyValue,
                 outbound: KeyValue, conversations: ConversationSettings | None = None) -> None:
        self.js = js
        self.settings = settings
        self.words = control_words(conversations or ConversationSettings(), settings.opt_out_words,
                                   settings.opt_in_words)
        self.refs = References()
        self.threads = threads
        self.reporters = reporters
        self.outbound = outbound

    @classmethod
    async def open(cls, js: JetStreamContext, settings: OutboundSettings,
                   conversations: ConversationSettings | None = None) -> Notifier:
        """Open the KV buckets it needs (created if missing); `conversations`: `[conversations]`'s words."""
        return cls(js, settings, await bus.ensure_kv(js, subjects.KV_THREADS),
                   await bus.ensure_kv(js, subjects.KV_REPORTERS), await bus.ensure_kv(js, subjects.KV_OUTBOUND),
                   conversations)

    async def on_routed(self, data: bytes) -> OutboundMessage | None:
        """Acknowledge a routed item to its reporter (or record why not)."""
        item = decode_routed(data)
        try:
            message = compose.for_routed(item, self.settings, datetime.now(UTC))
        except compose.Skip as skip:
            _log.info("reporter_not_answered", item_id=item.item_id, reason=skip.reason)
            return None
        await self.threads.put(item.item_id, encode(message.reply_to))  # the address, not the whole envelope
        return await self._gate_and_publish(message)

    async def on_status(self, data: bytes) -> OutboundMessage | None:
        """Tell the reporter about a stage change, in the thread of their report."""
        update = decode_status(data)
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

    async def on_inbound(self, data: bytes) -> str | None:
        """A message that is not a complaint (kanal/control.py): record an opt-out ('BERHENTI') or opt-in
        ('MULAI'), answer a status question ("status KNL-..."); returns "out", "in", "status" or None."""
        envelope = decode_envelope(data)
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
        subject = subjects.outbound(address.channel, address.instance)
        await self.js.publish(subject, encode(message), headers={"Nats-Msg-Id": message.id})
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


Handler = Callable[[bytes], Awaitable[object]]
Subscriber = Callable[[NatsMessage], Awaitable[None]]


class _IdleFetchTimeout(logging.Filter):
    """FastStream's report of a pull fetch that timed out on an idle stream: one line, not an error.

    nats-py raises a plain `asyncio.TimeoutError` (not its own `nats.errors.TimeoutError`) when the server's
    expiry of an empty pull request beats the client's timer; FastStream 0.7 suppresses only the latter, so
    its supervisor logged "raised an exception, retrying..." with a traceback and restarted the fetch loop
    (nothing is lost: no message was fetched). Any other exception passes through unchanged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if type(exc) is TimeoutError and "raised an exception" in str(record.msg):  # its task supervisor's report
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args, record.exc_info = "idle pull fetch timed out; FastStream restarted it", (), None
        return True


def faststream_logger() -> logging.Logger:
    """The logger FastStream writes to: rendered like Kanal's own events (kanal.log), per-message lines at debug."""
    logger = logging.getLogger("notifier.faststream")
    if not any(isinstance(f, _IdleFetchTimeout) for f in logger.filters):
        logger.addFilter(_IdleFetchTimeout())
    # "waiting for messages" and task callbacks are start/stop chatter: shown when Kanal logs at debug.
    logger.setLevel(logging.NOTSET if logging.getLogger().level <= logging.DEBUG else logging.WARNING)
    return logger


def build(config: Config, notifier: Notifier | None = None,
          events: bus.ConnectionEvents | None = None) -> tuple[NatsBroker, Callable[[Notifier], None]]:
    """The FastStream app: three durable pull subscribers (acks, status updates, opt-outs) and one publisher.

    Handlers are bound to a Notifier once it exists (it needs its own JetStream connection for KV); the
    broker also describes the subjects for `kanal schema asyncapi`.
    """
    options = bus.faststream_options(config.nats, name="kanal-notifier", events=events)
    broker = NatsBroker(**options, logger=faststream_logger(), log_level=logging.DEBUG)
    bound: dict[str, Notifier] = {}
    if notifier is not None:
        bound["notifier"] = notifier

    def subscriber(subject: str, stream: str, durable: str, title: str, description: str,
                   deliver_new: bool = False) -> Callable[[Subscriber], Subscriber]:
        decorator: Callable[[Subscriber], Subscriber] = broker.subscriber(
            subject, stream=JStream(name=stream, declare=False), durable=durable,
            pull_sub=PullSub(batch_size=64, timeout=1.0), ack_policy=AckPolicy.MANUAL,
            inbox_prefix=bus.subscriber_inbox_prefix(config.nats),  # replies only where its NATS user may read
            config=ConsumerConfig(max_deliver=-1, ack_wait=30,  # bounded by _handle, which dead-letters
                                  deliver_policy=DeliverPolicy.NEW if deliver_new else DeliverPolicy.ALL),
            title=title, description=description,
        )
        return decorator

    @subscriber(f"{subjects.ADMIN_PREFIX}.>", subjects.STREAM_ADMIN, subjects.NOTIFIER_CONSUMER,
                "kanal.admin (notifier)", "Routed items: acknowledge each new item to its reporter")
    async def routed(msg: NatsMessage) -> None:
        await _handle(msg, bound["notifier"].on_routed, subjects.NOTIFIER_CONSUMER)

    @subscriber(f"{subjects.STATUS_PREFIX}.>", subjects.STREAM_STATUS, subjects.NOTIFIER_CONSUMER,
                "kanal.status (notifier)", "Stage changes: tell the reporter in the same thread")
    async def status(msg: NatsMessage) -> None:
        await _handle(msg, bound["notifier"].on_status, subjects.NOTIFIER_CONSUMER)

    @subscriber(f"{subjects.IN_PREFIX}.>", subjects.STREAM_IN, f"{subjects.NOTIFIER_CONSUMER}-optout",
                "kanal.in (notifier)", "Inbound envelopes: record opt-out and opt-in words, answer status "
                "questions", deliver_new=True)
    async def inbound(msg: NatsMessage) -> None:
        await _handle(msg, bound["notifier"].on_inbound, f"{subjects.NOTIFIER_CONSUMER}-optout")

    broker.publisher(f"{subjects.OUT_PREFIX}.{{channel}}.{{instance}}", title="kanal.out",
                     description="OutboundMessage for one reporter, Nats-Msg-Id = message id")

    def bind(instance: Notifier) -> None:
        bound["notifier"] = instance

    return broker, bind


MAX_DELIVER = 5


async def _handle(message: NatsMessage, handler: Handler, durable: str) -> None:
    msg: Msg = message.raw_message
    deliveries = msg.metadata.num_delivered if msg.metadata else 1
    js = msg._client.jetstream()
    try:
        await handler(message.body)
    except SchemaError as err:
        await _dead_letter(js, msg, "invalid_message", str(err), deliveries)
        await msg.ack()
    except Exception as err:
        if deliveries >= MAX_DELIVER:
            await _dead_letter(js, msg, "notifier_failed", repr(err), deliveries)
            await msg.ack()
        else:
            _log.warning("notifier_retry", consumer=durable, error=repr(err), deliveries=deliveries)
            await msg.nak(delay=min(30.0, 2.0**deliveries))
    else:
        await msg.ack()


async def _dead_letter(js: JetStreamContext, msg: Msg, reason: str, detail: str, deliveries: int) -> None:
    from schemas import DeadLetter

    letter = DeadLetter(stage="notifier", reason=reason, detail=detail, at=datetime.now(UTC), data=msg.data,
                        subject=msg.subject, deliveries=deliveries)
    seq = msg.metadata.sequence.stream if msg.metadata and msg.metadata.sequence else 0
    await js.publish(subjects.dlq("notifier"), encode(letter),
                     headers={"Nats-Msg-Id": f"notifier-dlq-{msg.subject}-{seq}"})
    _log.warning("message_dead_lettered", reason=reason, detail=detail, subject=msg.subject)


async def run(config: Config) -> int:
    """Run until SIGTERM/SIGINT."""
    settings = config.section("outbound", OutboundSettings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    nc: NATS = await bus.connect(config.nats, name="kanal-notifier-kv")
    js = nc.jetstream()
    await bus.provision(js, config)
    events = bus.ConnectionEvents("kanal-notifier")
    broker, bind = build(config, events=events)
    bind(await Notifier.open(js, settings, config.section("conversations", ConversationSettings)))
    await broker.start()
    events.client = broker.connection  # its own close at shutdown is then no disconnect warning
    _log.info("notifier_started", channels=settings.channels)
    await stop.wait()
    await broker.stop()
    await nc.drain()
    _log.info("notifier_stopped")
    return 0

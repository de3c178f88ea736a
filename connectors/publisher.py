"""Publishing without loss: JetStream with Nats-Msg-Id and an awaited ack, else the local spool.

A caller learns `acked`, `duplicate` (JetStream already held that id) or `spooled`; all three mean the message
is safe. While anything waits in the spool, new messages queue behind it so they reach the stream in the order
they arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from datetime import UTC, datetime
from typing import Literal

import msgspec
from nats.aio.client import Client as NATS
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.object_store import ObjectStore

from connectors.errors import TransientError
from connectors.metrics import Metrics
from connectors.spool import Spool, SpoolFull
from kanal import bus, log
from schemas import DeadLetter, Envelope, RawRef, encode, subjects

# acked: stored by JetStream; duplicate: JetStream already had this id (a provider's retry) and kept the first;
# spooled: fsynced locally, sent later. All three mean the input is safe.
Delivery = Literal["acked", "duplicate", "spooled"]
DRAIN_BATCH = 256
# Raw payloads above this go to the object store (kanal_media, by sha256) instead of KANAL_RAW: NATS's default
# max_payload is 1 MiB, and a message over it could never be published, blocking its page or the spool.
RAW_INLINE_MAX = 256 * 1024
BLOB = "$blob"  # marks a spooled raw payload bound for the object store
# An envelope is kept well under NATS's default 1 MiB max_payload; longer text is cut (flag "text_truncated").
ENVELOPE_MAX = 512 * 1024


class Publisher:
    """One per connector instance; `attach()` hands it a NATS connection once one exists."""

    def __init__(self, spool: Spool, metrics: Metrics, channel: str, instance: str, timeout: float = 2.0) -> None:
        self.spool = spool
        self.metrics = metrics
        self.channel = channel
        self.instance = instance
        self.subject = subjects.inbound(channel, instance)
        self.timeout = timeout
        self._nc: NATS | None = None
        self._js: JetStreamContext | None = None
        self._blobs: ObjectStore | None = None
        self._wake = asyncio.Event()
        self._log = log.get("publisher", channel=channel, instance=instance)
        self.metrics.spool_max_bytes.set(spool.max_bytes)
        self._spool_gauges()

    def _spool_gauges(self) -> None:
        self.metrics.spool_depth.set(self.spool.depth)
        self.metrics.spool_bytes.set(self.spool.size)
        self.metrics.spool_full.set(1 if self.spool.full else 0)

    async def _spool(self, messages: list[tuple[str, str, bytes]]) -> None:
        """Keep messages in the spool; SpoolFull (logged, gauged) when it holds its limit already."""
        try:
            await asyncio.to_thread(self.spool.append, messages)
        except SpoolFull as err:
            self._spool_gauges()
            self._log.error("spool_full", error=str(err), path=str(self.spool.path),
                            hint="NATS has been away long enough to fill spool_max_bytes: new input is refused "
                                 "with 503 (providers retry) until NATS takes the spool; bring NATS back")
            raise
        self._spool_gauges()
        self._wake.set()

    def attach(self, nc: NATS) -> None:
        """Use this connection from now on, and start draining the spool.

        One JetStream context per connection: each new context's first publish_async opens a reply
        subscription of its own, so making one per publish would leak a subscription per message.
        """
        self._nc = nc
        self._js = nc.jetstream()
        self._blobs = None
        self._wake.set()

    @property
    def connected(self) -> bool:
        """True when a NATS connection is up."""
        return self._nc is not None and self._nc.is_connected

    def jetstream(self) -> JetStreamContext:
        """The live JetStream context, for a connector that records provider callbacks (delivery reports) in KV.

        Raises TransientError while NATS is away, so a webhook answers 503 and the provider retries.
        """
        if self._js is None or not self.connected:
            raise TransientError("NATS is not connected")
        return self._js

    def with_raw(
        self, envelope: Envelope, raw: bytes | None, media_type: str
    ) -> tuple[Envelope, list[tuple[str, str, bytes]]]:
        """The envelope pointing at its raw payload, and the (subject, msg_id, data) messages to publish."""
        messages: list[tuple[str, str, bytes]] = []
        if raw is not None:
            digest = hashlib.sha256(raw).hexdigest()
            if len(raw) > RAW_INLINE_MAX:  # too big for one NATS message: keep it in the object store
                ref = RawRef(object_key=digest, sha256=digest, media_type=media_type, size=len(raw))
                messages.append((BLOB, digest, raw))
            else:
                subject = subjects.raw(self.instance, envelope.id)
                ref = RawRef(subject=subject, sha256=digest, media_type=media_type, size=len(raw))
                messages.append((subject, envelope.id, raw))
            envelope = msgspec.structs.replace(envelope, raw=ref)
        encoded = encode(envelope)
        if len(encoded) > ENVELOPE_MAX:  # e.g. a 2 MB e-mail body: the full text stays in the raw payload
            keep = max(0, len(envelope.text) - (len(encoded) - ENVELOPE_MAX) - 1024)
            envelope = msgspec.structs.replace(envelope, text=envelope.text[:keep],
                                               flags=(*envelope.flags, "text_truncated"))
            encoded = encode(envelope)
        messages.append((self.subject, envelope.id, encoded))
        return envelope, messages

    async def publish(self, envelope: Envelope, raw: bytes | None = None,
                      media_type: str = "application/octet-stream", allow_spool: bool = True) -> Delivery:
        """Publish one envelope (and its raw payload); returns once it is acked (or a known duplicate) or fsynced
        in the spool."""
        envelope, messages = self.with_raw(envelope, raw, media_type)
        return await self.publish_messages(messages, count=1, allow_spool=allow_spool)

    async def publish_messages(self, messages: list[tuple[str, str, bytes]], count: int = 1,
                               allow_spool: bool = True) -> Delivery:
        """Publish prepared messages in order; spool them all if any is not acknowledged in time.

        With `allow_spool=False` (pollers, which can read again) an unacknowledged publish raises
        TransientError instead.
        """
        started = time.perf_counter()
        if self.spool.depth == 0 and self.connected:
            try:
                duplicates = await self._send_all(messages)
            except Exception as err:  # any NATS failure: the spool keeps it safe
                self._log.warning("publish_failed_spooling", error=repr(err), messages=len(messages))
            else:
                self.metrics.published.inc(count)
                self.metrics.publish_latency.observe(time.perf_counter() - started)
                return "duplicate" if duplicates and count else "acked"
        if not allow_spool:
            raise TransientError("NATS did not acknowledge in time; this input will be read again")
        await self._spool(messages)
        self.metrics.spooled.inc(count)
        return "spooled"

    async def _send_all(self, messages: list[tuple[str, str, bytes]]) -> int:
        """Publish and await every ack; returns how many envelopes JetStream dropped as duplicates."""
        assert self._js is not None
        js = self._js
        for subject, key, data in messages:
            if subject == BLOB:
                await self._put_blob(js, key, data)
        futures = [
            await js.publish_async(subject, data, headers={"Nats-Msg-Id": msg_id}, wait_stall=self.timeout)
            for subject, msg_id, data in messages
            if subject != BLOB
        ]
        acks = await asyncio.wait_for(asyncio.gather(*futures), self.timeout)
        subjects_sent = [subject for subject, _, _ in messages if subject != BLOB]
        duplicates = 0
        for subject, ack in zip(subjects_sent, acks, strict=True):
            if ack.duplicate and subject == self.subject:
                self.metrics.duplicates.inc()
                duplicates += 1
        return duplicates

    async def _put_blob(self, js: JetStreamContext, key: str, data: bytes) -> None:
        if self._blobs is None:
            self._blobs = await bus.ensure_object_store(js, subjects.OBJ_MEDIA)
        try:
            await self._blobs.get_info(key)
        except NotFoundError:
            await asyncio.wait_for(self._blobs.put(key, data), max(self.timeout, 30.0))

    async def dead_letter(self, reason: str, detail: str, data: bytes, subject: str | None = None,
                          headers: dict[str, str] | None = None) -> Delivery:
        """Keep an unusable input on KANAL_DLQ with the reason (spooled like anything else if NATS is away).

        The message id depends on the reason and the bytes only, so the same bad input dead-lettered on every
        retry of its page or webhook is stored once. Bytes too big for one message go to the object store.
        """
        digest = hashlib.sha256(data).hexdigest()
        messages: list[tuple[str, str, bytes]] = []
        object_key = None
        if len(data) > RAW_INLINE_MAX:
            object_key = digest
            messages.append((BLOB, digest, data))
        letter = DeadLetter(stage="connector", reason=reason, detail=detail, at=datetime.now(UTC),
                            data=b"" if object_key else data, object_key=object_key, subject=subject,
                            instance=self.instance, headers=headers or {})
        msg_id = hashlib.blake2b(f"{self.instance}\x1f{reason}\x1f{digest}".encode(), digest_size=16).hexdigest()
        messages.append((subjects.dlq("connector"), msg_id, encode(letter)))
        self.metrics.rejected.labels(reason=reason).inc()
        self._log.warning("input_dead_lettered", reason=reason, detail=detail, size=len(data))
        return await self.publish_messages(messages, count=0)

    async def spool_blob(self, key: str, data: bytes) -> None:
        """Keep bytes bound for the object store in the spool until NATS takes them (media fallback)."""
        await self._spool([(BLOB, key, data)])

    async def drain_forever(self) -> None:
        """Background task: whenever connected and the spool is not empty, send it in order."""
        while True:
            with contextlib.suppress(TimeoutError):  # also look now and then: a reconnect sets no event
                await asyncio.wait_for(self._wake.wait(), 1.0)
            self._wake.clear()
            while self.spool.depth and self.connected:
                if not await self.drain_once():
                    await asyncio.sleep(0.5)

    async def drain_once(self) -> bool:
        """Send the oldest batch; True if all of it was acknowledged."""
        batch = await asyncio.to_thread(self.spool.peek, DRAIN_BATCH)
        if not batch:
            return True
        try:
            await self._send_all([(m.subject, m.msg_id, m.data) for m in batch])
        except Exception as err:
            self._log.info("spool_drain_retry", error=repr(err), depth=self.spool.depth)
            return False
        await asyncio.to_thread(self.spool.remove, batch[-1].seq)
        drained = sum(1 for m in batch if m.subject == self.subject)
        self.metrics.published.inc(drained)
        self._spool_gauges()
        self._log.info("spool_drained", messages=len(batch), depth=self.spool.depth)
        return True

    async def flush(self, within: float) -> bool:
        """Try to empty the spool within `within` seconds (used at shutdown); True if it is empty."""
        deadline = time.monotonic() + within
        while self.spool.depth and time.monotonic() < deadline:
            if not self.connected or not await self.drain_once():
                with contextlib.suppress(TimeoutError):
                    await asyncio.sleep(0.2)
        return self.spool.depth == 0

"""Report reference -> envelope id, kept in KV bucket `kanal_refs` so a citizen's reference can be looked up.

A reference (`KNL-XXXX-XXXX-XXXX`) is derived from the envelope id and cannot be reversed, so the channels
that hand out references (app, desk) record the pair when they accept a report.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import msgspec
from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from kanal import bus
from schemas import subjects
from schemas.envelope import UtcTime

KV_REFS = subjects.KV_REFS


class RefEntry(msgspec.Struct, frozen=True, kw_only=True):
    """What a reference points at: the envelope (= item) id, and when the report was accepted."""

    id: str
    at: UtcTime
    channel: str


_decoder = msgspec.json.Decoder(RefEntry)


class Refs:
    """The `kanal_refs` bucket, opened on first use (NATS may connect after the HTTP server starts)."""

    def __init__(self) -> None:
        self._kv: KeyValue | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def bucket(self, js: JetStreamContext | None) -> KeyValue:
        """Open (or create) the bucket; ConnectionError while NATS is not connected."""
        if self._kv is None:
            if js is None:
                raise ConnectionError("NATS is not connected yet; references cannot be stored or looked up")
            self._kv = await bus.ensure_kv(js, KV_REFS, history=1)
        return self._kv

    async def remember(self, js: JetStreamContext | None, ref: str, envelope_id: str, channel: str,
                       at: datetime) -> None:
        """Record ref -> id once (a retried submission keeps the first record)."""
        kv = await self.bucket(js)
        existing = await self.lookup(js, ref)
        if existing is None or existing.id != envelope_id:
            await kv.put(ref, msgspec.json.encode(RefEntry(id=envelope_id, at=at, channel=channel)))

    async def remember_soon(self, js: JetStreamContext | None, ref: str, envelope_id: str, channel: str,
                            at: datetime, log: Any) -> None:
        """Record the pair now, or keep trying in the background: the report itself is already safe
        (acknowledged or spooled), so a NATS outage must not turn its receipt into an error page."""
        try:
            await self.remember(js, ref, envelope_id, channel, at)
        except Exception as err:
            log.warning("ref_record_deferred", ref=ref, error=repr(err))
            task = asyncio.create_task(self._retry(js, ref, envelope_id, channel, at, log))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _retry(self, js: JetStreamContext | None, ref: str, envelope_id: str, channel: str, at: datetime,
                     log: Any) -> None:
        delay, last = 2.0, ""
        for _ in range(12):  # about 10 minutes
            await asyncio.sleep(delay)
            try:
                await self.remember(js, ref, envelope_id, channel, at)
                log.info("ref_recorded_late", ref=ref)
                return
            except Exception as err:
                delay = min(delay * 2, 120.0)
                last = repr(err)
        log.error("ref_not_recorded", ref=ref, error=last, hint="the report is routed; only its status look-up "
                  "by reference is missing")

    async def lookup(self, js: JetStreamContext | None, ref: str) -> RefEntry | None:
        """The entry of a reference, or None when it is unknown."""
        kv = await self.bucket(js)
        try:
            entry = await kv.get(ref)
        except (KeyNotFoundError, NotFoundError):
            return None
        return _decoder.decode(entry.value) if entry.value else None

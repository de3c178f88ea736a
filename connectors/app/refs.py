"""Report reference -> envelope id, kept in KV bucket `kanal_refs` so a citizen's reference can be looked up.

A reference (`KNL-XXXX-XXXX-XXXX`) is derived from the envelope id and cannot be reversed, so the channels
that hand out references (app, desk) record the pair when they accept a report.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from kanal import bus
from schemas import subjects
from schemas.envelope import UtcTime

# To move to schemas/subjects.py (KV_REFS) when the lead adds it there.
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

    async def lookup(self, js: JetStreamContext | None, ref: str) -> RefEntry | None:
        """The entry of a reference, or None when it is unknown."""
        kv = await self.bucket(js)
        try:
            entry = await kv.get(ref)
        except (KeyNotFoundError, NotFoundError):
            return None
        return _decoder.decode(entry.value) if entry.value else None

"""What the console knows of every queue without reading it again: one small entry per stored item.

KANAL_ADMIN keeps every item forever, so a page that read its queue whole got slower with every report. The
index reads each message once (only the fields the pages need), then, on every page, only what arrived
since, and it re-reads the admin record and stage of the items still open (one batched request per 1,000).
An item acknowledged or rerouted stays so (the first record for a message wins, see `ItemStore.record`), so
it is not read again. Pages then fetch in full only the items they show.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

import msgspec
from msgspec import Struct

from admin.status import current_stage
from admin.store import Handling, ItemStore
from schemas import subjects


class _DedupHead(Struct, frozen=True, kw_only=True):
    duplicate_of: str | None = None
    incident_id: str | None = None


class _Head(Struct, frozen=True, kw_only=True):
    """The fields of a stored RoutedItem the index keeps (the rest is skipped by the decoder)."""

    item_id: str
    kind: str = "item"
    dedup: _DedupHead = _DedupHead()


_heads = msgspec.json.Decoder(_Head)


@dataclass(slots=True)
class Entry:
    """One message of a queue: enough to count, filter and link it; `handling` None while it is open."""

    seq: int
    queue: str
    item_id: str
    kind: str
    duplicate_of: str | None
    incident_id: str | None
    handling: Handling | None = None
    stage: str = current_stage(None)


class QueueIndex:
    """Entries per queue, refreshed incrementally; one per console process (replicas keep their own)."""

    def __init__(self, store: ItemStore) -> None:
        self.store = store
        self.by_queue: dict[str, list[Entry]] = {}
        self.open: dict[int, Entry] = {}  # stream sequence -> entry, for the items not yet handled
        self.last_seq = 0
        self.read_total = 0  # messages read from the stream since start (each once)
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Read what arrived since the last refresh, then the records and stages of the open items."""
        async with self._lock:
            for seq, subject, data in await self.store.read_raw(f"{subjects.ADMIN_PREFIX}.>", self.last_seq + 1):
                self.last_seq = max(self.last_seq, seq)
                self.read_total += 1
                try:
                    head = _heads.decode(data)
                    queue = sys.intern(subjects.queue_of(subject))  # one string per queue, not per entry
                except (msgspec.DecodeError, ValueError):
                    continue  # not a routed item: nothing an admin can act on (ItemStore.read skips it too)
                entry = Entry(seq=seq, queue=queue, item_id=head.item_id, kind=head.kind,
                              duplicate_of=head.dedup.duplicate_of, incident_id=head.dedup.incident_id)
                self.by_queue.setdefault(queue, []).append(entry)
                self.open[seq] = entry
            if not self.open:
                return
            ids = list({e.item_id for e in self.open.values()})
            states, statuses = await asyncio.gather(self.store.states(ids), self.store.latest_statuses(ids))
            for seq, entry in list(self.open.items()):
                entry.handling = states[entry.item_id].for_seq(seq)
                entry.stage = current_stage(statuses[entry.item_id])
                if entry.handling is not None:
                    del self.open[seq]

    def queue(self, name: str) -> list[Entry]:
        """The queue's entries, oldest first (as of the last refresh)."""
        return self.by_queue.get(name, [])

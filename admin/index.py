"""What the console knows of every queue without reading it again: one small entry per stored item.

KANAL_ADMIN keeps every item forever, so a page that read its queue whole got slower with every report. The
index reads each message once (decoded as strictly as the pages read items, keeping only what they count and
link), then, on every page, only what arrived since, and it re-reads the admin record and stage of the items
still open (one batched request per 1,000). An item acknowledged or rerouted stays so (the first record for a
message wins, see `ItemStore.record`), so it is not read again; a record removed by hand from `kanal_items`
shows only after a console restart. Pages then fetch in full only the items they show.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass

from admin import assign
from admin.finder import search_text
from admin.status import current_stage
from admin.store import ItemStore
from schemas import subjects
from schemas.errors import SchemaError
from schemas.routed import RoutedItem, decode_routed


def category_of(item: RoutedItem) -> str | None:
    """The item's category once the router sets one (an optional field: older items have none)."""
    value = getattr(item, "category", None)
    return value if isinstance(value, str) else getattr(value, "code", None)


@dataclass(slots=True)
class Entry:
    """One message of a queue: enough to count, filter and link it."""

    seq: int
    queue: str
    item_id: str
    duplicate_of: str | None
    incident_id: str | None
    channel: str = ""
    category: str | None = None
    routed: float = 0.0  # epoch seconds of the item's first routing (kept by reroutes): its age
    search: str = ""  # what text search looks in (finder.search_text)
    handled: bool = False  # acknowledged or rerouted (final: the first record for a message wins)
    stage: str = current_stage(None)
    stage_since: float = 0.0  # epoch seconds the item entered its stage (its routing while at Menunggu)
    assignee: str | None = None
    merged_into: str | None = None  # item id of the report this one was merged into (admin/merge.py)
    lat: float | None = None
    lon: float | None = None


class QueueIndex:
    """Entries per queue, refreshed incrementally; one per console process (replicas keep their own)."""

    def __init__(self, store: ItemStore) -> None:
        self.store = store
        self.by_queue: dict[str, list[Entry]] = {}
        self.open: dict[int, Entry] = {}  # stream sequence -> entry, for the items not yet handled
        self.last_seq = 0
        self.read_total = 0  # messages read from the stream since start (each once, unless it was recreated)
        self._lock = asyncio.Lock()
        self._fresh_from = -1.0  # monotonic time the last finished refresh started: it saw every write before

    async def refresh(self) -> None:
        """Read what arrived since the last refresh, then the records and stages of the open items.

        Requests that arrive while one refresh runs wait for it and use its result. A stream that was
        recreated (its last sequence went back) is read afresh; messages removed from its head (limits,
        purges) are dropped.
        """
        asked = time.monotonic()
        async with self._lock:
            if self._fresh_from >= asked:  # one that started after this request arrived has just finished
                return
            started = time.monotonic()
            state = (await self.store.js.stream_info(subjects.STREAM_ADMIN)).state
            if state.last_seq < self.last_seq:
                self._clear()
            if state.first_seq > 1:
                self._drop_before(state.first_seq)
            for seq, subject, data in await self.store.read_raw(f"{subjects.ADMIN_PREFIX}.>", self.last_seq + 1):
                self.last_seq = max(self.last_seq, seq)
                self.read_total += 1
                try:
                    item = decode_routed(data)  # as strict as the pages' own reads: what they cannot show is left out
                    queue = sys.intern(subjects.queue_of(subject))  # one string per queue, not per entry
                except (SchemaError, ValueError):
                    continue
                env = item.envelope
                loc = env.location
                routed = item.routed_at.timestamp()
                entry = Entry(seq=seq, queue=queue, item_id=item.item_id, duplicate_of=item.dedup.duplicate_of,
                              incident_id=item.dedup.incident_id, channel=sys.intern(env.channel),
                              category=category_of(item), routed=routed, stage_since=routed,
                              search=search_text(item.ref, env.subject, env.text),
                              lat=loc.lat if loc is not None else None, lon=loc.lon if loc is not None else None)
                self.by_queue.setdefault(queue, []).append(entry)
                self.open[seq] = entry
            if self.open:
                ids = list({e.item_id for e in self.open.values()})
                states, statuses, desks = await asyncio.gather(self.store.states(ids), self.store.latest_statuses(ids),
                                                               assign.desks(self.store, ids))
                for seq, entry in list(self.open.items()):
                    entry.handled = states[entry.item_id].for_seq(seq) is not None
                    status = statuses[entry.item_id]
                    entry.stage = current_stage(status)
                    entry.stage_since = status.at.timestamp() if status is not None else entry.routed
                    desk = desks.get(entry.item_id)
                    entry.assignee = desk.holder if desk is not None else None
                    entry.merged_into = desk.merged_into if desk is not None else None
                    if entry.handled:
                        del self.open[seq]
            self._fresh_from = started

    def queue(self, name: str) -> list[Entry]:
        """The queue's entries, oldest first (as of the last refresh)."""
        return self.by_queue.get(name, [])

    def forget(self, seq: int) -> None:
        """A message that is gone from the stream (deleted by hand): no longer listed or counted."""
        entry = self.open.pop(seq, None)
        for entries in [self.by_queue.get(entry.queue, [])] if entry else self.by_queue.values():
            for i, e in enumerate(entries):
                if e.seq == seq:
                    del entries[i]
                    return

    def _drop_before(self, first_seq: int) -> None:
        for queue, entries in self.by_queue.items():
            if entries and entries[0].seq < first_seq:
                self.by_queue[queue] = [e for e in entries if e.seq >= first_seq]
        for seq in [s for s in self.open if s < first_seq]:
            del self.open[seq]

    def _clear(self) -> None:
        self.by_queue.clear()
        self.open.clear()
        self.last_seq = 0

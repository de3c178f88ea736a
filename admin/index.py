"""What the console knows of every queue without reading it again: one small entry per stored item.

KANAL_ADMIN keeps every item forever, so a page that read its queue whole got slower with every report. The
index reads each message once (decoded as strictly as the pages read items, keeping only what they count,
filter and link), then, on every page, only what arrived since: new messages of KANAL_ADMIN, and the stage
changes (KANAL_STATUS) and admin and desk records (the items bucket) written since, applied to the open
entries they name. Only new entries have their current record, desk and stage read (batched, one request per
1,000), so a page costs what changed, not what is open (re-reading 90,000 open items took ~6 s per page).
An item acknowledged or rerouted stays so (the first record for a message wins, see `ItemStore.record`); a
record removed by hand from `kanal_items` shows only after a console restart. Pages then fetch in full only
the items they show.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass

import msgspec

from admin import assign
from admin.finder import search_text
from admin.status import current_stage
from admin.store import ItemState, ItemStore
from schemas import subjects
from schemas.errors import SchemaError
from schemas.routed import RoutedItem, decode_routed
from schemas.status import decode_status


def category_of(item: RoutedItem) -> str | None:
    """The item's category: the router's (or an officer's correction) once items carry one, else the one the
    reporter chose (Envelope.category, e.g. from the app)."""
    value = getattr(item, "category", None)
    found = value if isinstance(value, str) else getattr(value, "code", None)
    return found if isinstance(found, str) else item.envelope.category


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
    follow_up_of: str | None = None  # item id of the report this message adds to (shown on that report's page)


class QueueIndex:
    """Entries per queue, refreshed incrementally; one per console process (replicas keep their own)."""

    def __init__(self, store: ItemStore) -> None:
        self.store = store
        self.by_queue: dict[str, list[Entry]] = {}
        self.open: dict[int, Entry] = {}  # stream sequence -> entry, for the items not yet handled
        self.open_by_item: dict[str, list[Entry]] = {}  # the same entries by item id (changes name items)
        self.by_item: dict[str, list[Entry]] = {}  # every entry by item id (an incident's first report is found)
        self.incidents: set[str] = set()  # incident ids seen on a member: their first report belongs too
        self._cursors: dict[str, int] = {}  # stream -> last sequence applied (KANAL_STATUS, the items bucket)
        self.changes_read = 0
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
            fresh: list[Entry] = []
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
                              lat=loc.lat if loc is not None else None, lon=loc.lon if loc is not None else None,
                              follow_up_of=item.follow_up_of)
                self.by_queue.setdefault(queue, []).append(entry)
                self.open[seq] = entry
                self.open_by_item.setdefault(entry.item_id, []).append(entry)
                self._join_incident(entry)
                fresh.append(entry)
            await self._follow_changes()
            if fresh:
                await self._read_current(fresh)
            self._fresh_from = started

    async def _follow_changes(self) -> None:
        """Apply what changed since the last refresh to the open entries: stage changes (KANAL_STATUS) and
        admin and desk records (the items bucket), read in order from where the last refresh stopped.

        The first refresh starts both cursors at the streams' ends: the batched reads of its new entries,
        made after that, see everything before. A stream whose last sequence went back (recreated) is
        followed from its new end, and every open item is read again.
        """
        kv_stream = f"KV_{self.store.bucket}"
        for stream in (subjects.STREAM_STATUS, kv_stream):
            last = (await self.store.js.stream_info(stream)).state.last_seq
            cursor = self._cursors.get(stream)
            if cursor is None or last < cursor:
                self._cursors[stream] = last
                if cursor is not None and self.open:
                    await self._read_current(list(self.open.values()))
                continue
            if last == cursor:
                continue
            is_status = stream == subjects.STREAM_STATUS
            subject = f"{subjects.STATUS_PREFIX}.>" if is_status else f"$KV.{self.store.bucket}.>"
            for change in await self.store.changes(stream, subject, cursor + 1):
                self._cursors[stream] = max(self._cursors[stream], change.seq)
                self.changes_read += 1
                if stream == subjects.STREAM_STATUS:
                    self._apply_status(change.subject, change.data)
                elif not change.deleted:
                    self._apply_record(change.subject.removeprefix(f"$KV.{self.store.bucket}."), change.data)

    def _join_incident(self, entry: Entry) -> None:
        """The first report of an incident was routed before it had company, so its RoutedItem names no incident
        (router/dedup.py names the incident after it): it joins when a member arrives, and so does every later
        message of it (a reroute)."""
        self.by_item.setdefault(entry.item_id, []).append(entry)
        incident = entry.incident_id
        if incident is None:
            if entry.duplicate_of is None and entry.item_id in self.incidents:
                entry.incident_id = entry.item_id
            return
        if incident not in self.incidents:
            self.incidents.add(incident)
            for first in self.by_item.get(incident, ()):
                if first.duplicate_of is None:
                    first.incident_id = first.incident_id or incident

    def incident_members(self, incident: str) -> list[Entry]:
        """The reports of an incident across queues, oldest first: one entry per report (its newest message,
        where it is now), never a duplicate notice (a repeat is not another witness)."""
        newest: dict[str, Entry] = {}
        for entries in self.by_queue.values():
            for e in entries:
                if e.incident_id == incident and e.duplicate_of is None and (
                        e.item_id not in newest or e.seq > newest[e.item_id].seq):
                    newest[e.item_id] = e
        return sorted(newest.values(), key=lambda e: (e.routed, e.seq))

    def _apply_status(self, subject: str, data: bytes) -> None:
        entries = self.open_by_item.get(subject.rsplit(".", 1)[-1])
        if not entries:
            return
        try:
            update = decode_status(data)
        except SchemaError:
            return
        for entry in entries:
            entry.stage, entry.stage_since = update.stage, update.at.timestamp()

    def _apply_record(self, key: str, data: bytes) -> None:
        is_desk = key.startswith("desk.")
        entries = self.open_by_item.get(key.removeprefix("desk.") if is_desk else key)
        if not entries:
            return
        try:
            if is_desk:
                desk = msgspec.json.decode(data, type=assign.Desk)
                for entry in entries:
                    entry.assignee, entry.merged_into = desk.holder, desk.merged_into
                return
            state = msgspec.json.decode(data, type=ItemState)
        except msgspec.DecodeError:
            return
        for entry in list(entries):
            if state.for_seq(entry.seq) is not None:
                self._close(entry)

    async def _read_current(self, entries: list[Entry]) -> None:
        """Records, desks and latest stages of these entries, in batched reads (new entries, or a reset)."""
        ids = list({e.item_id for e in entries})
        states, statuses, desks = await asyncio.gather(self.store.states(ids), self.store.latest_statuses(ids),
                                                       assign.desks(self.store, ids))
        for entry in entries:
            status = statuses[entry.item_id]
            entry.stage = current_stage(status)
            entry.stage_since = status.at.timestamp() if status is not None else entry.routed
            desk = desks.get(entry.item_id)
            entry.assignee = desk.holder if desk is not None else None
            entry.merged_into = desk.merged_into if desk is not None else None
            if states[entry.item_id].for_seq(entry.seq) is not None:
                self._close(entry)

    def _close(self, entry: Entry) -> None:
        """The message was acknowledged or rerouted: final (the first record for a message wins)."""
        entry.handled = True
        self.open.pop(entry.seq, None)
        same = self.open_by_item.get(entry.item_id, [])
        if entry in same:
            same.remove(entry)
        if not same:
            self.open_by_item.pop(entry.item_id, None)

    def attached(self, entry: Entry) -> bool:
        """A follow-up whose report is in the same queue: shown on the report's page, not as work of its own (as
        `kanal inbox` attaches it: admin/inbox.py `attach_follow_ups`)."""
        of = entry.follow_up_of
        return of is not None and any(e.queue == entry.queue for e in self.by_item.get(of, ()))

    def queue(self, name: str) -> list[Entry]:
        """The queue's entries, oldest first (as of the last refresh)."""
        return self.by_queue.get(name, [])

    def forget(self, seq: int) -> None:
        """A message that is gone from the stream (deleted by hand): no longer listed or counted."""
        entry = self.open.get(seq)
        if entry is not None:
            self._close(entry)
        for entries in [self.by_queue.get(entry.queue, [])] if entry else self.by_queue.values():
            for i, e in enumerate(entries):
                if e.seq == seq:
                    del entries[i]
                    same = self.by_item.get(e.item_id, [])
                    if e in same:
                        same.remove(e)
                    if not same:
                        self.by_item.pop(e.item_id, None)
                    return

    def _drop_before(self, first_seq: int) -> None:
        for queue, entries in self.by_queue.items():
            if entries and entries[0].seq < first_seq:
                self.by_queue[queue] = [e for e in entries if e.seq >= first_seq]
        for item_id in [i for i, entries in self.by_item.items() if not entries or entries[0].seq < first_seq]:
            kept = [e for e in self.by_item[item_id] if e.seq >= first_seq]
            if kept:
                self.by_item[item_id] = kept
            else:
                del self.by_item[item_id]
        for seq in [s for s in self.open if s < first_seq]:
            self._close(self.open[seq])

    def _clear(self) -> None:
        self.by_queue.clear()
        self.open.clear()
        self.open_by_item.clear()
        self.by_item.clear()
        self.incidents.clear()
        self.last_seq = 0

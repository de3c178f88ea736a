"""An admin's view of one queue: a durable pull consumer per admin and queue, plus ack and reroute.

The durable consumer (`inbox-<admin>-<queue>`) is this admin's delivery cursor: its ack floor bounds what is
read, and acks advance it. Who did what is recorded in the `kanal_items` bucket, so acks and reroutes survive
restarts, are shared with the console and other admins of the queue, and never depend on holding a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from admin.auth import require
from admin.settings import AdminUser
from admin.store import Handling, ItemNotFound, ItemState, ItemStore, StoredItem, valid_queue
from kanal import log
from kanal.direct import DirectGetError
from kanal.incidents import Member, incidents_of
from schemas import subjects
from schemas.envelope import encode
from schemas.routed import Decision, Reroute, RoutedItem, RuleTrace
from schemas.status import StatusUpdate


class InboxError(ValueError):
    """An inbox request that cannot be done as asked; the message says what to change."""


@dataclass(frozen=True)
class Entry:
    """One item in an inbox listing, with what was done with it and its latest stage."""

    stored: StoredItem
    handling: Handling | None
    status: StatusUpdate | None
    follow_ups: tuple[StoredItem, ...] = ()  # what the reporter added later (RoutedItem.follow_up_of), in order
    incident: Incident | None = None  # the incident it belongs to (as a member or as its first report)


@dataclass(frozen=True)
class Incident:
    """An incident as an inbox entry shows it: its id and every report of it, across queues, where each is now."""

    id: str
    members: tuple[Member, ...]  # queue: where the report is now (after reroutes and dispositions)


def consumer_name(admin: str, queue: str) -> str:
    """Durable consumer name for an admin's view of a queue (NATS names allow no dots or spaces)."""
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", f"inbox-{admin}-{queue}")
    return clean[:200]


class Inbox:
    """One admin, one queue. Every method enforces that the admin is allowed on the queue."""

    def __init__(self, store: ItemStore, queue: str, admin: str, user: AdminUser, ack_wait: float = 30.0) -> None:
        if not valid_queue(queue):
            raise InboxError(f"{queue!r} is not a queue name: write e.g. kelurahan.3171011001 or triage")
        require(user, admin, queue)
        self.store = store
        self.js: JetStreamContext = store.js
        self.queue = queue
        self.admin = admin
        self.user = user
        self.ack_wait = ack_wait
        self.durable = consumer_name(admin, queue)
        self.sub: JetStreamContext.PullSubscription | None = None

    async def open(self) -> Inbox:
        """Create or bind this admin's durable consumer for the queue."""
        subject = subjects.admin(self.queue)
        config = ConsumerConfig(durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT,
                                deliver_policy=DeliverPolicy.ALL, filter_subject=subject, ack_wait=self.ack_wait,
                                max_deliver=-1, description=f"inbox of {self.admin} for {self.queue}")
        self.sub = await self.js.pull_subscribe(subject, durable=self.durable, stream=subjects.STREAM_ADMIN,
                                                config=config)
        return self

    async def close(self) -> None:
        """Stop reading (the durable consumer and its acks stay on the server)."""
        if self.sub is not None:
            await self.sub.unsubscribe()
            self.sub = None

    async def _floor(self) -> int:
        assert self.sub is not None, "call open() first"
        info = await self.sub.consumer_info()
        return int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0

    async def _entries(self, stored: list[StoredItem], include_handled: bool) -> list[Entry]:
        ids = [s.item.item_id for s in stored]
        states, statuses = await asyncio.gather(self.store.states(ids), self.store.latest_statuses(ids))
        out = []
        for s in stored:
            handling = states[s.item.item_id].for_seq(s.seq)
            if handling is None or include_handled:
                out.append(Entry(stored=s, handling=handling, status=statuses[s.item.item_id]))
        return await self._incidents(attach_follow_ups(out))

    async def _incidents(self, entries: list[Entry]) -> list[Entry]:
        """Each entry's incident with all its reports, wherever they are now (kanal/incidents.py); one read
        for the incidents and one for the members' records."""
        try:
            found = await incidents_of(self.store.nc, [e.stored.item for e in entries if e.stored.item.kind == "item"])
        except DirectGetError as err:  # the listing still works; only the incidents' other members are missing
            log.get("inbox").warning("incident_members_unreadable", error=str(err))
            return entries
        if not found:
            return entries
        ids = list({m.id for _, group in found.values() for m in group})
        states = await self.store.states(ids) if ids else {}
        out = []
        for e in entries:
            hit = found.get(e.stored.item.item_id)
            if hit is None or not hit[1]:  # no members recorded (routed before v1.3 routers): the router's count
                out.append(e)
                continue
            incident, group = hit
            here = [msgspec.structs.replace(m, queue=current_queue(m.queue, states.get(m.id))) for m in group]
            if not any(m.id == e.stored.item.item_id for m in here):  # routed before members were recorded
                here.append(Member(id=e.stored.item.item_id, ref=e.stored.item.ref, queue=e.stored.queue,
                                   at=e.stored.item.routed_at))
            out.append(dataclasses.replace(e, incident=Incident(id=incident, members=tuple(here))))
        return out

    async def items(self, include_handled: bool = False) -> list[Entry]:
        """Open items (neither acknowledged nor rerouted), oldest first; with `include_handled`, all of them."""
        start = 1 if include_handled else await self._floor() + 1
        return await self._entries(await self.store.queue(self.queue, start), include_handled)

    async def follow(self, stop: asyncio.Event, after_seq: int = 0, poll: float = 1.0) -> AsyncIterator[Entry]:
        """Open items as they arrive after `after_seq`, until `stop` is set."""
        seen = after_seq
        while not stop.is_set():
            fresh = await self.store.queue(self.queue, seen + 1)
            for entry in await self._entries(fresh, include_handled=False):
                yield entry
            if fresh:
                seen = fresh[-1].seq
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll)

    async def find(self, ref: str) -> Entry:
        """An open item of this queue by item id, reference (KNL-...) or `#<seq>`; the newest if several."""
        wanted = ref.strip()
        matches = [e for e in await self.items()
                   if wanted in (e.stored.item.item_id, e.stored.item.ref, f"#{e.stored.seq}", str(e.stored.seq))]
        if not matches:
            raise ItemNotFound(f"no open item {ref!r} in queue {self.queue} (already acknowledged or rerouted?)")
        return matches[-1]

    async def ack(self, ref: str) -> Handling:
        """Acknowledge an item: recorded with who and when, and acked on this admin's consumer."""
        entry = await self.find(ref)
        handling = await self.store.record(entry.stored.item.item_id, Handling(
            seq=entry.stored.seq, queue=self.queue, action="ack", by=self.admin, at=datetime.now(UTC)))
        for added in entry.follow_ups:  # acknowledged with their report: they never stand open on their own
            await self.store.record(added.item.item_id, Handling(seq=added.seq, queue=self.queue, action="ack",
                                                                 by=self.admin, at=handling.at))
        await self._settle()
        return handling

    async def reroute(self, ref: str, to_queue: str, reason: str) -> StoredItem:
        """Move an item to another queue with the reason: published there first, then recorded and acked here."""
        reason = reason.strip()
        if not reason:
            raise InboxError("a reroute needs a reason (--reason): the next admin reads it")
        if not valid_queue(to_queue):
            raise InboxError(f"{to_queue!r} is not a queue name: write e.g. kelurahan.3171011001 or triage")
        if to_queue == self.queue:
            raise InboxError(f"the item is already in {to_queue}")
        entry = await self.find(ref)
        return await reroute(self.store, entry.stored, to_queue, reason, by=self.admin, user=self.user,
                             after=self._settle)

    async def _settle(self) -> None:
        """Ack, on this admin's consumer, every message the record says is handled; release the others."""
        assert self.sub is not None, "call open() first"
        held = []
        while ((await self.sub.consumer_info()).num_pending or 0) > 0:
            try:
                held.extend(await self.sub.fetch(256, timeout=1.0))
            except TimeoutError:
                break
        metas = [(m, m.metadata.sequence.stream, _item_id(m.data)) for m in held]
        states = await self.store.states([i for _, _, i in metas if i])
        for msg, seq, item_id in metas:
            state = states.get(item_id) if item_id else None
            if item_id is None or (state is not None and state.for_seq(seq) is not None):
                await msg.ack()  # handled (or not an item at all): leaves this admin's inbox
            else:
                await msg.nak()


def attach_follow_ups(entries: list[Entry]) -> list[Entry]:
    """Follow-ups shown on their report's entry instead of as entries of their own; one whose report is not
    in the listing (acknowledged already, or in an earlier page) stays an entry, marked as a follow-up."""
    reports = {e.stored.item.item_id for e in entries if e.stored.item.follow_up_of is None}
    added: dict[str, list[StoredItem]] = {}
    for e in entries:
        of = e.stored.item.follow_up_of
        if of is not None and of in reports:
            added.setdefault(of, []).append(e.stored)
    return [dataclasses.replace(e, follow_ups=tuple(added.get(e.stored.item.item_id, ()))) for e in entries
            if e.stored.item.follow_up_of not in reports]


def current_queue(routed_to: str | None, state: ItemState | None) -> str | None:
    """Where a report is now: the queue of its latest move (a reroute or a disposition), else where it was routed."""
    if state is None:
        return routed_to
    moves = [(h.at, h.to_queue) for h in state.handled if h.action == "reroute" and h.to_queue]
    moves += [(d.at, d.to_queue) for d in state.dispositions]
    return max(moves)[1] if moves else routed_to


def _item_id(data: bytes) -> str | None:
    try:
        return msgspec.json.decode(data, type=_IdOnly).item_id
    except msgspec.DecodeError:
        return None


class _IdOnly(msgspec.Struct):
    item_id: str


def rerouted(item: RoutedItem, from_queue: str, to_queue: str, reason: str, by: str,
             category: str | None = None) -> RoutedItem:
    """The item as it lands in `to_queue`: the move appended to `reroutes` and a `reroute` decision.

    The decision keeps the router's category, or carries `category` when an admin corrected it (then without
    the classifier's confidence and cues).
    """
    move = Reroute(from_queue=from_queue, to_queue=to_queue, reason=reason, by=by, at=datetime.now(UTC))
    why = f"rerouted by {by} from {from_queue}: {reason}"
    d = item.decision
    same = category is None or category == d.category
    decision = Decision(rule_id="reroute", rule_type="reroute", queue=to_queue, reason=why,
                        trail=(*d.trail, RuleTrace(rule_id="reroute", matched=True, reason=why)),
                        category=d.category if same else category,
                        category_confidence=d.category_confidence if same else None,
                        category_cues=d.category_cues if same else ())
    return msgspec.structs.replace(item, decision=decision, reroutes=(*item.reroutes, move))


async def reroute(store: ItemStore, stored: StoredItem, to_queue: str, reason: str, *, by: str, user: AdminUser,
                  after: Callable[[], Awaitable[None]] | None = None, category: str | None = None) -> StoredItem:
    """Publish the item to `to_queue` (idempotent per item, move number and target), then record the move.

    Never a silent move: the new message carries the Reroute, and the old queue's record says where it went.
    """
    require(user, by, stored.queue)
    state, _ = await store.state(stored.item.item_id)
    done = state.for_seq(stored.seq)
    if done is not None and done.action == "reroute" and done.to_queue != to_queue:
        raise InboxError(f"this item was already rerouted to {done.to_queue}")
    if done is not None and done.action == "ack":
        raise InboxError(f"this item was acknowledged by {done.by}; it can no longer be rerouted from here")
    moved = rerouted(stored.item, stored.queue, to_queue, reason, by, category)
    msg_id = f"{stored.item.item_id}:reroute:{len(moved.reroutes)}:{to_queue}"
    ack = await store.js.publish(subjects.admin(to_queue), encode(moved), headers={"Nats-Msg-Id": msg_id})
    await store.record(stored.item.item_id, Handling(seq=stored.seq, queue=stored.queue, action="reroute", by=by,
                                                     at=moved.reroutes[-1].at, to_queue=to_queue, reason=reason))
    if after is not None:
        await after()
    return StoredItem(seq=int(ack.seq), queue=to_queue, item=moved)


__all__ = ["Entry", "Inbox", "InboxError", "Incident", "ItemState", "consumer_name", "reroute", "rerouted"]

"""Asking for what is missing: a chat report with no place is answered with a request for its location, and the
reporter's answer completes it instead of becoming a report of its own.

- When routed (`mark`, `pending_writes`): a direct message or SMS that reached its queue by the fallback rule
  (no rule found a place) and carries no location gets `missing=("location",)`, so the notifier asks for it
  (notifier/compose.py), and its conversation gets `loc.<conversation>` in the reference index (`kanal_refs`):
  the report, its queue, its reporter, until when an answer counts (`[conversations] location_wait`).
- A later message of that conversation, from the same reporter, before then, that carries a location (a pin, a
  venue) or text the rules route to a place, completes the report (`complete`); it makes no item:
  - if no admin has acted on the report (acknowledged, rerouted, a stage, a category, a disposition, an
    assignment), it is re-routed where the answer says, by `router`, as an admin's reroute is recorded: a
    `Reroute` with the reason on the moved item, a `reroute` record for its message in `kanal_items`; the
    moved report carries the location and the words of the answer;
  - otherwise (or when the answer leads to no place), the answer is attached as a follow-up of the report.
  The move is claimed in `kanal_items` before it is published: an admin's record for the same message wins
  (the first record for a message wins), and the answer then is a follow-up. The `loc.` record then names the
  answer, so a redelivery of it does the same again, and a later pin is an ordinary message.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

import msgspec
from msgspec import Struct

from admin import assign
from admin.inbox import current_queue, rerouted
from admin.store import Handling, ItemStore, StoredItem
from kanal import direct, log
from kanal.config import Config
from kanal.control import ConversationSettings
from router.conversations import conversation_key
from router.followups import FollowUp
from router.similarity import reporter_keys
from schemas import subjects
from schemas.envelope import Envelope, UtcTime, encode
from schemas.errors import SchemaError
from schemas.routed import BY_ROUTER, Decision, RoutedItem, decode_routed

if TYPE_CHECKING:
    from nats.aio.msg import Msg

    from router.service import Router, _Work

    Decoded = tuple[Msg, Envelope, str]  # an input, its envelope, and its text as the rules read it

CHAT_KINDS = frozenset({"direct_message", "sms"})
Outcome = Literal["rerouted", "attached"]
SEARCH_PAGES = 8  # pages of 256 messages read in the report's queue from its routing time (a busy triage)


class Pending(Struct, frozen=True, kw_only=True):
    """A report waiting for its location, on its conversation; `done_by`: the message that answered."""

    item_id: str
    ref: str
    queue: str
    at: UtcTime  # when it was routed
    until: UtcTime
    reporters: tuple[str, ...]
    done_by: str | None = None
    outcome: Outcome | None = None
    to_queue: str | None = None


_pending = msgspec.json.Decoder(Pending)


def pending_key(env: Envelope) -> str:
    """The reference-index key of a conversation's report waiting for its location."""
    return f"loc.{conversation_key(env)}"


def needs_location(env: Envelope, decision: Decision) -> bool:
    """A chat report no rule could place and that has no location (pure)."""
    return env.kind in CHAT_KINDS and env.location is None and decision.rule_type == "fallback"


def answer_place(env: Envelope, decision: Decision) -> str | None:
    """Whether a message answers a location request, and where it leads: its queue when the rules found a place,
    "" for a location no rule places, None for no answer (pure)."""
    if decision.rule_type != "fallback":
        return decision.queue
    return "" if env.location is not None else None


def completed(report: RoutedItem, answer: Envelope, from_queue: str, to_queue: str, reason: str,
              at: datetime) -> RoutedItem:
    """The report as it lands where its answer leads: rerouted by the router with the reason, its envelope
    carrying the answer's location, words and attachments (pure)."""
    moved = rerouted(report, from_queue, to_queue, reason, BY_ROUTER)
    env = report.envelope
    words = answer.text.strip()
    env = msgspec.structs.replace(
        env, location=answer.location or env.location, attachments=(*env.attachments, *answer.attachments),
        text=f"{env.text}\n{words}" if words and env.text else words or env.text)
    move = msgspec.structs.replace(moved.reroutes[-1], at=at)
    return msgspec.structs.replace(moved, envelope=env, reroutes=(*moved.reroutes[:-1], move), missing=())


class LocationPrompts:
    """The router's side of location requests: marking, recording, and completing reports."""

    def __init__(self, config: Config) -> None:
        self.wait = config.section("conversations", ConversationSettings).location_wait
        self.items_bucket = str(config.admin.get("items_bucket", subjects.KV_ITEMS))
        self.replicas = config.nats.replicas
        self.store: ItemStore | None = None

    def mark(self, item: RoutedItem) -> RoutedItem:
        """The item, with `missing=("location",)` when its reporter is to be asked for the location."""
        if self.wait <= timedelta(0) or item.kind != "item" or not needs_location(item.envelope, item.decision):
            return item
        return msgspec.structs.replace(item, missing=("location",))

    def pending_writes(self, item: RoutedItem) -> list[tuple[str, bytes]]:
        """The `loc.<conversation>` record of an item whose reporter is asked for the location (pure)."""
        if "location" not in item.missing:
            return []
        env = item.envelope
        record = Pending(item_id=item.item_id, ref=item.ref, queue=item.decision.queue, at=item.routed_at,
                         until=env.received_at.astimezone(UTC) + self.wait, reporters=tuple(reporter_keys(env)))
        return [(pending_key(env), encode(record))]

    async def complete(self, router: Router, decoded: Sequence[Decoded]) -> tuple[list[Decoded], list[_Work]]:
        """Complete the reports these inputs answer, before anything else is done with them (an answer is never
        held as a fragment of a new report). Returns the inputs still to route as usual, and the answers to
        route as their report's follow-up (`follow_up` set); the others are acked or retried here."""
        if self.wait <= timedelta(0):
            return list(decoded), []
        chats = [d for d in decoded if d[1].kind in CHAT_KINDS]
        if not chats:
            return list(decoded), []
        assert router.refs is not None
        try:
            found = await router.refs.get_many([pending_key(env) for _, env, _ in chats])
        except Exception as err:  # the index is not readable: retry the chat messages, route the others
            for msg, _, _ in chats:
                await router._retry_or_dead_letter(msg, "dedup_store_unavailable", f"reading location requests "
                                                   f"failed: {err!r}")
            return [d for d in decoded if d[1].kind not in CHAT_KINDS], []
        left: list[Decoded] = []
        attached: list[_Work] = []
        for msg, env, text in decoded:
            raw = found.get(pending_key(env)) if env.kind in CHAT_KINDS else None
            pending = _pending.decode(raw) if raw else None
            try:
                answer = self._answer(router, env, text, pending) if pending is not None else None
            except Exception as err:  # the rules failed on it: as for any input, retried
                await router._retry_or_dead_letter(msg, "routing_failed", repr(err))
                continue
            if answer is None:
                left.append((msg, env, text))
                continue
            pending, decision, where = answer
            from router.service import _Work

            w = _Work(msg=msg, env=env, decision=decision, text=text)
            try:
                outcome, fresh = await self._complete(router, w, pending, where)
            except Exception as err:  # the store or the stream failed: the answer is retried, never lost
                await router._retry_or_dead_letter(msg, "dedup_store_unavailable",
                                                   f"completing {pending.ref} failed: {err!r}")
                continue
            if fresh:
                router.metrics.location_answers.labels(outcome).inc()
            if outcome == "attached":
                attached.append(w)  # routed as its report's follow-up
            else:
                await msg.ack()
        return left, attached

    def _answer(self, router: Router, env: Envelope, text: str,
                pending: Pending) -> tuple[Pending, Decision, str] | None:
        """The pending report this message answers, the rules' decision for it and where it leads, or None."""
        if pending.item_id == env.id or not set(reporter_keys(env)) & set(pending.reporters):
            return None
        if pending.done_by is not None and pending.done_by != env.id:
            return None  # answered already, by another message: this one is an ordinary message
        if pending.done_by is None and env.received_at.astimezone(UTC) > pending.until:
            return None
        decision = router.book.current.decide(env, text)
        if pending.done_by == env.id:  # a redelivery of the answer: what was done stands
            return pending, decision, pending.to_queue or ""
        where = answer_place(env, decision)
        return None if where is None else (pending, decision, where)

    async def _complete(self, router: Router, w: _Work, pending: Pending, where: str) -> tuple[Outcome, bool]:
        """Re-route or attach; (what was done, whether it was done now rather than by an earlier delivery)."""
        if pending.done_by == w.env.id:  # a redelivery of the answer: what was done stands
            outcome: Outcome = pending.outcome or "attached"
            if outcome == "attached":
                w.follow_up = _follow_up(pending, pending.to_queue or pending.queue)
            return outcome, False
        store = await self._store(router)
        outcome, queue = "attached", pending.queue
        if where and where != pending.queue:
            report = await find(router, pending)
            reason = (f"the reporter's answer to our location request ({_what(w.env)}) places it: "
                      f"{w.decision.reason}")
            if report is not None and not await acted(store, pending.item_id):
                claim = await store.record(pending.item_id, Handling(
                    seq=report.seq, queue=pending.queue, action="reroute", by=BY_ROUTER, at=datetime.now(UTC),
                    to_queue=where, reason=reason))
                if claim.by == BY_ROUTER and claim.action == "reroute" and claim.to_queue == where:
                    moved = completed(report.item, w.env, pending.queue, where, claim.reason or reason, claim.at)
                    await router.js.publish(subjects.admin(where), encode(moved), headers={
                        "Nats-Msg-Id": f"{pending.item_id}:reroute:{len(moved.reroutes)}:{where}"})
                    outcome, queue = "rerouted", where
        if outcome == "attached":
            state, _ = await store.state(pending.item_id)
            queue = current_queue(pending.queue, state) or pending.queue
        done = msgspec.structs.replace(pending, done_by=w.env.id, outcome=outcome, to_queue=queue)
        assert router.refs is not None
        [res] = await router.refs.put_many([(pending_key(w.env), encode(done))])
        if res is not None:
            raise res
        if outcome == "attached":
            w.follow_up = _follow_up(pending, queue)
        log.get("router").info("location_answer", item_id=pending.item_id, envelope_id=w.env.id, outcome=outcome,
                               queue=queue)
        return outcome, True

    async def _store(self, router: Router) -> ItemStore:
        if self.store is None:
            self.store = await ItemStore.open(router.nc, self.items_bucket, self.replicas)
        return self.store


def _follow_up(pending: Pending, queue: str) -> FollowUp:
    return FollowUp(report_id=pending.item_id, ref=pending.ref, queue=queue,
                    reason=f"follow-up: the answer to our location request for {pending.ref}")


def _what(env: Envelope) -> str:
    if env.location is not None:
        return f"{env.location.source} location {env.location.lat:.5f}, {env.location.lon:.5f}"
    return "a place named in the text"


async def acted(store: ItemStore, item_id: str) -> bool:
    """Whether an admin did anything with the report: a record (ack, reroute, category, disposition), an
    assignment or merge, or a stage change."""
    state, _ = await store.state(item_id)
    if any(h.by != BY_ROUTER for h in state.handled) or state.categories or state.dispositions:
        return True  # (a move of the router's own, claimed by an earlier delivery of the answer, is no action)
    desk, _ = await assign.get(store, item_id)
    if desk.history or desk.links:
        return True
    status, _ = await store.latest_status(item_id)
    return status is not None


async def find(router: Router, pending: Pending) -> StoredItem | None:
    """The report's message in the queue it was routed to: read from its routing time on (a few pages at most)."""
    subject = subjects.admin(pending.queue)
    start = (pending.at.astimezone(UTC) - timedelta(seconds=5)).isoformat()
    after = 0
    for _ in range(SEARCH_PAGES):
        msgs = await direct.from_time(router.nc, subjects.STREAM_ADMIN, subject, start, after_seq=after)
        for msg in msgs:
            after = int((msg.headers or {}).get("Nats-Sequence", after))
            try:
                item = decode_routed(msg.data)
            except SchemaError:
                continue
            if item.item_id == pending.item_id and item.kind == "item":
                return StoredItem(seq=after, queue=pending.queue, item=item)
        if len(msgs) < 256:
            break
    return None

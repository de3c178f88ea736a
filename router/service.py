"""The router process: pull batches from KANAL_IN, dedup and route them, deliver to KANAL_ADMIN exactly once.

Order per batch, so a kill at any instant neither loses nor doubles an item:
1. one batched KV read for every key the batch needs;
2. publish every routed item (`Nats-Msg-Id` = the envelope id) as one fast-ingest batch, then the near-dup
   index writes of the stored items (hints, not waited for);
3. once the items are acked by the stream, record their references (router/references.py), then the envelope
   ids in KV (one fast-ingest batch each);
4. only then ack the inputs. A repeat before step 3 is dropped by the stream's duplicate window; after it,
   by the KV record (30 days).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from kanal import bus, http, log, sdnotify
from kanal.config import Config
from kanal.control import Control
from router.assembler import Assembler, Outcome, fragment_writes
from router.assembly import Window
from router.conversations import Conversations
from router.dedup import Deduper, Verdict
from router.fetch import Fetcher
from router.followups import FollowUp, detect, lookup_keys, reply_lookup
from router.gazetteer import envelope_text, plain
from router.metrics import DeadLetterReason, Metrics, RetryReason
from router.pipeline import Pipeline
from router.prompts import LocationPrompts
from router.references import open_index, reference_writes
from router.rules import RuleBook
from router.settings import RouterSettings
from router.store import KvIndex, StoreError
from schemas import subjects
from schemas.deadletter import DeadLetter
from schemas.envelope import Envelope, decode_envelope, encode
from schemas.errors import SchemaError, UnsupportedVersion
from schemas.routed import Decision, Dedup, RoutedItem


def _log() -> Any:
    """The router's logger, bound at call time so it follows `log.configure` (a module-level bind would not)."""
    return log.get("router")

STAGE = "router"


@dataclass(slots=True)
class _Work:
    msg: Msg | None  # None for a report assembled from held fragments (router/assembler.py): no input to ack
    env: Envelope
    decision: Decision
    text: str  # `plain` subject and text
    verdict: Verdict | None = None
    item: RoutedItem | None = None
    twin: _Work | None = None  # the same envelope earlier in this batch, whose outcome this one shares
    follow_up: FollowUp | None = None  # the report this message adds to (router/followups.py)
    fragments: tuple[str, ...] = ()  # an assembled report's fragment envelope ids, in order


class RecentWrites:
    """Index values this process wrote in the last `ttl` seconds: newer than KV while hints are in flight.

    A hint is sent once its item is stored and reaches KV within milliseconds; this covers a concurrent batch
    of this process that decides before then (`ttl`: the router passes its publish timeout plus 2 s; at most
    `cap` entries: ~0.6 s of writes at 10,000 envelopes a second). Kept in write order (an OrderedDict:
    popping its oldest entry is O(1), a plain dict's is not), so expiry pops from the front, once per batch.
    Small on purpose: lookups in a few thousand entries stay in cache.
    """

    def __init__(self, ttl: float = 2.0, cap: int = 20_000) -> None:
        self.ttl = ttl
        self.cap = cap
        self.values: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def put(self, key: str, value: bytes, now: float | None = None) -> None:
        """Remember a write (as the newest); `now`: `time.monotonic()` if the caller has it."""
        values = self.values
        values[key] = (time.monotonic() if now is None else now, value)
        values.move_to_end(key)
        if len(values) > self.cap:
            values.popitem(last=False)

    def overlay(self, view: dict[str, bytes], keys: list[str]) -> None:
        """Replace KV values of `keys` in `view` by this process's fresher writes (dropping expired ones)."""
        values = self.values
        cutoff = time.monotonic() - self.ttl
        while values and next(iter(values.values()))[0] < cutoff:
            values.popitem(last=False)
        for key in keys:
            found = values.get(key)
            if found is not None:
                view[key] = found[1]


class Router:
    """One replica; any number may share the durable consumer."""

    def __init__(self, config: Config, settings: RouterSettings, book: RuleBook, nc: NATS,
                 metrics: Metrics | None = None) -> None:
        self.config = config
        self.s = settings
        self.book = book
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(publish_async_max_pending=20_000)
        self.metrics = metrics or Metrics()
        self.deduper = Deduper(settings.dedup)
        self.ids: KvIndex | None = None  # delivery records (`id.` keys)
        self.index: KvIndex | None = None  # the near-duplicate index (`rep.`, `txt.`, `cell.` keys)
        self.refs: KvIndex | None = None  # the reference index (reference -> report), kanal/references.py
        self.outbound = KvIndex(nc, self.js, subjects.KV_OUTBOUND)  # read only: replies to our messages
        self.pipeline = Pipeline(nc)
        self.conversations = Conversations(config)  # control messages: recorded, not routed
        # chat fragments: held in KV until their report is quiet, then routed once (router/assembler.py)
        self.assembler = Assembler(nc, self.js, Window.of(self.conversations.settings), self.pipeline, self.metrics,
                                   max_deliveries=settings.max_deliveries)
        self.prompts = LocationPrompts(config)  # chat reports asked for their location, and the answers
        self.sub: Any = None
        self.stopping = asyncio.Event()
        # Index writes are cached from the decision until their hint has landed: at most the item publish's
        # timeout, then milliseconds (the cap bounds it at high rates, when publishes are fast).
        self.recent = RecentWrites(ttl=self.pipeline.timeout + 2.0)
        self.fast_admin = False  # KANAL_ADMIN takes fast-ingest batches (checked at start)
        self.handled = 0
        self.metrics.rules.set(len(book.current.rules))
        self.metrics.known_categories(book.current.classifier.ids if book.current.classifier else ())

    async def start(self) -> None:
        """Provision streams, open the dedup bucket, bind the shared durable consumer."""
        await bus.provision(self.js, self.config)
        await self.pipeline.start()
        dedup, replicas = self.s.dedup, self.config.nats.replicas
        self.ids = await KvIndex.open(self.nc, self.js, dedup.bucket, dedup.horizon.total_seconds(), replicas,
                                      self.pipeline, fast=True)
        self.fast_admin = bool((await self.js.stream_info(subjects.STREAM_ADMIN)).config.allow_batched)
        window = max(dedup.same_report_window, dedup.incident_window).total_seconds()
        self.index = await KvIndex.open(self.nc, self.js, dedup.index_bucket, window, replicas, self.pipeline)
        self.refs = await open_index(self.nc, self.js, replicas, self.pipeline)
        await self.conversations.open(self.nc, self.js, replicas, self.pipeline)
        consumer = ConsumerConfig(
            durable_name=self.s.consumer,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.s.ack_wait.total_seconds(),
            max_deliver=-1,  # the router bounds deliveries itself and dead-letters, so nothing is stranded
            max_ack_pending=max(4 * self.s.batch, 1000),
            filter_subject=f"{subjects.IN_PREFIX}.>",
        )
        self.sub = await self.js.pull_subscribe(f"{subjects.IN_PREFIX}.>", durable=self.s.consumer,
                                                stream=subjects.STREAM_IN, config=consumer)
        _log().info("router_started", consumer=self.s.consumer, rules=self.book.current.source,
                    rule_count=len(self.book.current.rules), fast_batches=self.fast_admin and self.ids.fast)

    def reload_rules(self) -> bool:
        """SIGHUP: load the rules file again; keep the old rules if it is bad."""
        err = self.book.reload()
        if err is not None:
            self.metrics.reloads.labels("refused").inc()
            _log().error("rules_reload_refused", error=str(err), kept=len(self.book.current.rules))
            return False
        self.metrics.reloads.labels("ok").inc()
        self.metrics.rules.set(len(self.book.current.rules))
        self.metrics.known_categories(self.book.current.classifier.ids if self.book.current.classifier else ())
        _log().info("rules_reloaded", rules=self.book.current.source, rule_count=len(self.book.current.rules))
        return True

    async def run(self) -> None:
        """`workers` fetch loops until `stopping` is set; each finishes the batch in hand."""
        fetchers = [Fetcher(self.nc, subjects.STREAM_IN, self.s.consumer) for _ in range(self.s.workers)]
        for fetcher in fetchers:
            await fetcher.start()
        await asyncio.gather(*(self._work(fetcher) for fetcher in fetchers), self.close_reports())

    async def close_reports(self) -> None:
        """Route held reports as they fall quiet, until `stopping` is set (nothing to do with `window = "0s"`)."""
        await self.assembler.run(self.stopping, self.route_reports, self.dead_letter_report)

    async def _work(self, fetcher: Fetcher) -> None:
        while not self.stopping.is_set():
            try:
                msgs = await fetcher.fetch(self.s.batch, wait_s=self.s.fetch_wait.total_seconds())
            except TimeoutError:
                continue
            except Exception as err:  # connection trouble: the client reconnects; try again shortly
                _log().warning("fetch_failed", error=repr(err))
                await asyncio.sleep(0.5)
                continue
            await self.handle(msgs)

    async def handle(self, msgs: list[Msg]) -> None:
        """Route one batch; see the module docstring for the order of effects."""
        started = time.perf_counter()
        decoded: list[tuple[Msg, Envelope, str]] = []
        controls: list[tuple[Msg, Envelope, Control]] = []
        for msg in msgs:
            try:
                env = decode_envelope(msg.data)
            except SchemaError as err:
                reason: DeadLetterReason = (
                    "unsupported_version" if isinstance(err, UnsupportedVersion) else "invalid_envelope")
                await self._dead_letter(msg, reason, str(err))
                continue
            control = self.conversations.control(env)
            if control is not None:
                controls.append((msg, env, control))
                continue
            decoded.append((msg, env, plain(envelope_text(env.subject, env.text))))  # rules and dedup read it
        if controls:
            await self._record_controls(controls)
        decoded, answers = await self.prompts.complete(self, decoded)  # answers to a location request: no item
        if self.assembler.enabled and decoded:
            assert self.ids is not None
            decoded = await self.assembler.take(decoded, self.ids, self.outbound, self._retry_or_dead_letter)
        work: list[_Work] = []
        rules = self.book.current
        try:  # the batch's points are looked up together
            decisions = rules.decide_many([env for _, env, _ in decoded], [text for _, _, text in decoded])
            work = [_Work(msg=msg, env=env, decision=decision, text=text)
                    for (msg, env, text), decision in zip(decoded, decisions, strict=True)]
        except Exception:  # one envelope the rules cannot handle: decide one by one, so only it is retried
            for msg, env, text in decoded:
                try:
                    work.append(_Work(msg=msg, env=env, decision=rules.decide(env, text), text=text))
                except Exception as err:
                    await self._retry_or_dead_letter(msg, "routing_failed", repr(err))
        work += answers
        if work:
            await self._deliver(work)
        elapsed = time.perf_counter() - started
        self.handled += len(msgs)
        for _ in msgs:
            self.metrics.observe(elapsed)

    async def _deliver(self, work: list[_Work]) -> dict[int, tuple[RetryReason, str]]:
        """Dedup, publish and record `work`; ack (or hand back) its inputs; the failures by `id()` of the work."""
        assert self.ids is not None and self.index is not None and self.refs is not None
        probes = self.deduper.probe_many([w.env for w in work], [w.text for w in work])
        id_keys = [self.deduper.id_key(p) for p in probes]
        index_keys = [k for p in probes for k in self.deduper.index_keys(p)]
        keys = id_keys + index_keys
        follow_keys = [k for w in work for k in lookup_keys(w.env)]
        reply_keys = [k for w in work for k in reply_lookup(w.env)]
        try:
            # chat replies to our messages: which report each replied-to message was about (rare: one more read)
            replies = await self.outbound.get_many(reply_keys) if reply_keys else {}
            follow_keys += [ref.decode() for ref in replies.values()]
            found = await asyncio.gather(self.ids.get_many(id_keys), self.index.get_many(index_keys),
                                         self.refs.get_many(follow_keys))
            view = found[0] | found[1]
        except StoreError as err:
            for w in work:
                if w.msg is not None:
                    await self._retry_or_dead_letter(w.msg, "dedup_store_unavailable", str(err))
            return {id(w): ("dedup_store_unavailable", str(err)) for w in work}
        now = datetime.now(UTC)
        self.recent.overlay(view, keys)
        # Decide the whole batch without awaiting, so concurrent batches of this process see each other's
        # writes through `recent` (replicas see them through KV once written).
        mono = time.monotonic()
        deciding: dict[str, _Work] = {}  # id record key -> the input of this batch that wrote it
        for w, probe in zip(work, probes, strict=True):
            w.verdict = self.deduper.decide(probe, w.decision.queue, view)
            follow = w.follow_up or (detect(w.env, found[2], replies) if follow_keys else None)
            if follow is not None and w.verdict.kind != "exact":
                # attached to its report: not a first item any later report could be linked to
                w.follow_up, w.verdict = follow, Verdict(kind="duplicate", queue=follow.queue,
                                                         reason=follow.reason, id_write=w.verdict.id_write)
            for key, value in w.verdict.index_writes.items():
                self.recent.put(key, value, mono)
            if w.verdict.id_write is not None:
                deciding[w.verdict.id_write[0]] = w
            elif w.verdict.kind == "exact":
                # An exact repeat of an input earlier in this batch is only done when that one is: it is
                # acked or retried with it (else a failed first copy would leave the report in no queue).
                w.twin = deciding.get(self.deduper.id_key(probe))
            # The id record goes into `recent` only once it is stored (below): were it cached now and the
            # publish failed, the redelivery would look like an exact repeat and be acked unpublished.
        outgoing: list[tuple[_Work, Verdict, RoutedItem]] = []
        for w in work:
            if w.verdict is not None and w.verdict.kind != "exact":
                w.item = self._item(w, w.verdict, now)
                outgoing.append((w, w.verdict, w.item))
        # One fast-ingest batch (one ack) where the stream takes them, else pipelined. The Nats-Msg-Id is the
        # envelope id alone: a redelivery after a kill may reach another verdict (item vs duplicate), and the
        # stream must still see it as the same message (a repeat is skipped and counts as stored).
        published = await self.pipeline.publish_batch(
            [(subjects.admin(item.decision.queue), encode(item), {"Nats-Msg-Id": w.env.id})
             for w, _, item in outgoing], fast=self.fast_admin)
        failed: dict[int, tuple[RetryReason, str]] = {
            id(w): ("publish_failed", repr(res)) for (w, _, _), res in zip(outgoing, published, strict=True) if res}
        stored = [(w, verdict) for w, verdict, _ in outgoing if id(w) not in failed]
        # Near-dup hints only for items the stream has: a later report must never be linked to an item
        # that no queue holds (not waited for; a lost hint only weakens near-dup detection).
        for _, verdict in stored:
            await self.index.hint(verdict.index_writes)
        # Its reference is recorded before its delivery: a redelivery after a failure here is routed and
        # recorded again, where after the delivery record it would be an exact repeat, never recorded.
        referenced = [w for w, _ in stored if w.item is not None]
        writes = [reference_writes(w.item) + self.prompts.pending_writes(w.item) for w in referenced
                  if w.item is not None]
        results = await self.refs.put_many([write for group in writes for write in group])
        for w, group in zip(referenced, writes, strict=True):
            res = next((r for r in results[:len(group)] if r), None)
            results = results[len(group):]
            if res:
                failed[id(w)] = ("dedup_store_unavailable", f"recording the reference failed: {res!r}")
        # Only an item the stream has stored may be recorded as delivered (else a kill here would lose it).
        recorded = [(w, verdict.id_write) for w, verdict in stored if verdict.id_write and id(w) not in failed]
        results = await self.ids.put_many([write for _, write in recorded])
        for (w, (key, value)), res in zip(recorded, results, strict=True):
            if res:  # not recorded: redeliver, so a repeat after the stream's window is still caught
                failed[id(w)] = ("dedup_store_unavailable", f"recording the delivery failed: {res!r}")
            else:
                self.recent.put(key, value)
        for w in work:
            if w.twin is not None and id(w.twin) in failed:
                failed[id(w)] = failed[id(w.twin)]
        counts: Counter[tuple[str, ...]] = Counter()
        for w in work:
            if id(w) in failed:
                if w.msg is not None:
                    await self._retry_or_dead_letter(w.msg, *failed[id(w)])
                continue
            if w.msg is not None:
                await w.msg.ack()
            self._count(w, counts)
        for labels, n in counts.items():  # one inc per label set and batch
            if labels[0] == "routed":
                self.metrics.routed.labels(labels[1], labels[2]).inc(n)
            elif labels[0] == "category":
                self.metrics.categories.labels(labels[1]).inc(n)
            else:
                self.metrics.duplicates.labels(labels[1]).inc(n)
        return failed

    async def _record_controls(self, controls: list[tuple[Msg, Envelope, Control]]) -> None:
        """Not complaints: recorded on their conversation, then acked; no item (kanal/control.py)."""
        results = await self.conversations.record([self.conversations.control_write(env, c) for _, env, c in controls])
        for (msg, env, control), res in zip(controls, results, strict=True):
            if res:
                await self._retry_or_dead_letter(msg, "dedup_store_unavailable", f"recording on the conversation "
                                                 f"failed: {res!r}")
                continue
            await msg.ack()
            self.metrics.control.labels(control.kind).inc()
            _log().info("control_message_recorded", envelope_id=env.id, kind=control.kind, ref=control.ref)

    async def route_reports(self, reports: list[tuple[Envelope, tuple[str, ...]]]) -> list[Outcome]:
        """Route reports assembled from held fragments (router/assembler.py) like any input, then make each
        other fragment's id a delivered repeat and its reference lead to the report; each report's outcome."""
        assert self.ids is not None and self.refs is not None
        out: list[Outcome] = [None] * len(reports)
        work: list[tuple[int, _Work]] = []
        for i, (env, fragments) in enumerate(reports):
            text = plain(envelope_text(env.subject, env.text))
            try:
                decision = self.book.current.decide(env, text)
            except Exception as err:
                out[i] = ("routing_failed", repr(err))
                continue
            work.append((i, _Work(msg=None, env=env, decision=decision, text=text, fragments=fragments)))
        failed = await self._deliver([w for _, w in work]) if work else {}
        for i, w in work:
            if id(w) in failed or w.verdict is None:
                out[i] = failed.get(id(w), ("routing_failed", "no verdict"))
                continue
            item = w.item
            queue = item.decision.queue if item is not None else w.verdict.queue or "triage"
            report_id = (item.dedup.duplicate_of or item.item_id) if item is not None else w.env.id
            ids, refs = fragment_writes(w.env, w.fragments, queue, report_id, datetime.now(UTC))
            # references first, as for any item: a failure before the delivery records routes it again
            results = [r for r in await self.refs.put_many(refs) if r]
            results = results or [r for r in await self.ids.put_many(ids) if r]
            if results:
                out[i] = ("dedup_store_unavailable", f"recording the fragments failed: {results[0]!r}")
        return out

    async def dead_letter_report(self, env: Envelope, reason: RetryReason, detail: str) -> bool:
        """An assembled report that could not be routed `max_deliveries` times: to KANAL_DLQ, with the reason."""
        letter = DeadLetter(stage=STAGE, reason=reason, detail=detail[:2000], at=datetime.now(UTC), data=encode(env),
                            subject=subjects.inbound(env.channel, env.instance), instance=env.instance)
        try:
            await self.js.publish(subjects.dlq(STAGE), encode(letter),
                                  headers={"Nats-Msg-Id": f"router-dlq-assembled-{env.id}"})
        except Exception as err:
            _log().error("dead_letter_failed", reason=reason, error=repr(err))
            return False
        self.metrics.dlq.labels(reason).inc()
        _log().warning("report_dead_lettered", reason=reason, detail=detail[:300], envelope_id=env.id)
        return True

    def _item(self, w: _Work, verdict: Verdict, now: datetime) -> RoutedItem:
        decision = w.decision
        if w.follow_up is not None:
            follow = w.follow_up
            decision = Decision(rule_id=decision.rule_id, rule_type=decision.rule_type, queue=follow.queue,
                                reason=f"{follow.reason}; the rules chose {decision.queue}: {decision.reason}",
                                matched=decision.matched, trail=decision.trail)
            return RoutedItem(kind="duplicate", item_id=w.env.id, ref=w.env.ref, envelope=w.env, decision=decision,
                              dedup=Dedup(duplicate_of=follow.report_id, duplicate_reason="same_reporter"),
                              routed_at=now, follow_up_of=follow.report_id)
        if verdict.kind == "duplicate" and verdict.queue:
            decision = msgspec.structs.replace(
                decision, queue=verdict.queue,
                reason=f"{verdict.reason}; the rules chose {decision.queue}: {decision.reason}")
        return self.prompts.mark(RoutedItem(kind="duplicate" if verdict.kind == "duplicate" else "item",
                                            item_id=w.env.id, ref=w.env.ref, envelope=w.env, decision=decision,
                                            dedup=verdict.dedup, routed_at=now,
                                            fragments=w.fragments if len(w.fragments) > 1 else ()))

    def _count(self, w: _Work, counts: Counter[tuple[str, ...]]) -> None:
        verdict = w.verdict
        if verdict is None:
            return
        if verdict.kind == "exact":
            counts["duplicates", "exact"] += 1
            _log().info("exact_duplicate_skipped", envelope_id=w.env.id, reason=verdict.reason)
            return
        assert w.item is not None
        if w.follow_up is not None:
            counts["duplicates", "follow_up"] += 1
        elif verdict.kind == "duplicate":
            counts["duplicates", verdict.dedup.duplicate_reason or "duplicate"] += 1
        elif verdict.dedup.incident_id:
            counts["duplicates", "incident"] += 1
        counts["routed", w.item.decision.queue, w.item.decision.rule_id] += 1
        if w.item.missing:
            self.metrics.location_asked.inc()
        if w.item.decision.category is not None and w.item.kind == "item":
            counts["category", w.item.decision.category] += 1

    async def _retry_or_dead_letter(self, msg: Msg, reason: RetryReason, detail: str) -> None:
        deliveries = msg.metadata.num_delivered or 1
        if deliveries >= self.s.max_deliveries:
            await self._dead_letter(msg, reason, detail)
            return
        self.metrics.retries.labels(reason).inc()
        _log().warning("input_retry", reason=reason, detail=detail, deliveries=deliveries)
        await msg.nak(delay=min(30.0, 0.5 * 2**deliveries))

    async def _dead_letter(self, msg: Msg, reason: DeadLetterReason, detail: str) -> None:
        letter = DeadLetter(stage=STAGE, reason=reason, detail=detail[:2000], at=datetime.now(UTC), data=msg.data,
                            subject=msg.subject, instance=msg.subject.split(".")[-1],
                            headers={k: str(v) for k, v in (msg.headers or {}).items()},
                            deliveries=msg.metadata.num_delivered)
        seq = msg.metadata.sequence.stream if msg.metadata.sequence else 0
        try:
            await self.js.publish(subjects.dlq(STAGE), encode(letter),
                                  headers={"Nats-Msg-Id": f"router-dlq-{subjects.STREAM_IN}-{seq}"})
        except Exception as err:  # the DLQ is not writable: leave the input for redelivery, never drop it
            _log().error("dead_letter_failed", reason=reason, error=repr(err))
            await msg.nak(delay=5.0)
            return
        await msg.ack()
        self.metrics.dlq.labels(reason).inc()
        _log().warning("input_dead_lettered", reason=reason, detail=detail[:300], subject=msg.subject, stream_seq=seq)


GC_THRESHOLD = (50_000, 20, 100)


def tune_gc() -> None:
    """Collector settings of a router process: its start-up objects are permanent, collections are rarer.

    Rules, polygons, gazetteer and imports are frozen out of the cyclic collector (they live as long as the
    process; freed by reference counting as before, e.g. old rules after SIGHUP). A batch allocates
    thousands of short-lived objects, so with the default 700-object threshold the collector ran over
    1,000 times per 20,000 envelopes, and its full passes rescanned every long-lived object: ~10-20 us per
    envelope. With a 50,000 threshold it runs a few times; memory held between passes is a few MB.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


async def serve(config: Config, settings: RouterSettings) -> int:
    """Run one router until SIGTERM/SIGINT (finish the batch in hand, exit 0); SIGHUP reloads the rules."""
    from router.rules import RulesError

    try:
        book = RuleBook(config.path(settings.rules))
    except RulesError as err:
        _log().error("rules_invalid", error=str(err))
        return 2
    # Every subject the router publishes to is built from checked parts (queue names, hex digests, integers,
    # reply inboxes): the client's per-publish subject regex is skipped (~1 us per envelope).
    nc = await bus.connect(config.nats, name="kanal-router", skip_subject_validation=True)
    router = Router(config, settings, book, nc)
    for attempt in range(1, 11):  # a JetStream leader election at start is answered with timeouts: wait it out
        try:
            await router.start()
            break
        except Exception as err:
            if attempt == 10:
                raise
            _log().warning("router_start_retry", error=repr(err), attempt=attempt)
            await asyncio.sleep(min(10.0, 0.5 * 2**attempt))
    tune_gc()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, router.stopping.set)
    loop.add_signal_handler(signal.SIGHUP, router.reload_rules)
    server = None
    if settings.metrics_port >= 0:
        server, task = await http.start(router.metrics.app(), settings.metrics_host, settings.metrics_port,
                                        http.limits_of(config))
        _log().info("metrics_listening", url=f"http://{settings.metrics_host}:{http.bound_port(server)}/metrics")
    print("router: ready", flush=True)
    sdnotify.notify("READY=1")
    try:
        await router.run()
    finally:
        # Every input in hand is acked or left for redelivery by now; flush the acks and leave.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.flush(), 5)
        await nc.close()
        if server is not None:
            await http.stop(server, task)
    _log().info("router_stopped")
    return 0

"""The router's fragment holding: chat messages wait in KV until their report is quiet, then it is routed once.

Intake (per batch, before routing): a chat message (router/assembly.py `is_fragment`) that names no reference and
replies to no message of ours is recorded in its conversation's KV value (`kanal_conversations`, key
`asm.<hash>`) with compare-and-set on the key's revision, and only then acked: a kill before the write leaves
the input for redelivery, a kill after it leaves the fragment in KV. A fragment already routed in a report (its
`id.` delivery record exists) is an exact repeat.

Closing (a timer in every router replica): each process remembers when the keys it wrote are due and, at
start and every `scan` interval, reads every `asm.` key in the bucket (so a restarted or other replica closes
what a dead one left). A due report is claimed by a compare-and-set write that fixes its fragments (so of two
replicas only one routes it, and a fragment arriving meanwhile starts the next report; a claim older than
`claim_timeout` may be taken over), routed through the router's ordinary path with the
first fragment's envelope id as its `Nats-Msg-Id` (a second routing of the same fragments is dropped by the
stream, then by the delivery record), and only then removed from KV. Nothing is lost or doubled at any kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from kanal import direct, log
from kanal.references import record_for
from router.assembly import (
    Group,
    Held,
    Window,
    add,
    assemble,
    claim,
    closable,
    decode_held,
    encode_held,
    failed,
    holding_key,
    ids,
    is_fragment,
    next_due,
    release,
)
from router.dedup import IdRecord
from router.followups import lookup_keys, reply_lookup
from router.metrics import Metrics, RetryReason
from router.pipeline import Pipeline, PublishError
from router.similarity import reporter_keys
from router.store import KvIndex, StoreError
from schemas import subjects
from schemas.envelope import Envelope, encode, report_ref

# A routed report's fragments, and what became of it: None when routed, else the reason and detail.
Outcome = tuple[RetryReason, str] | None
RouteReports = Callable[[list[tuple[Envelope, tuple[str, ...]]]], Awaitable[list[Outcome]]]
Retry = Callable[[Msg, RetryReason, str], Awaitable[None]]
DeadLetter = Callable[[Envelope, RetryReason, str], Awaitable[bool]]
Taken = tuple[Msg, Envelope, str]  # an input, its envelope, its `plain` text (as Router.handle has them)

# The closing loop wakes at most every TICK seconds (on a fixed cadence): reports due meanwhile are closed
# together (one read, one claim write, one routing batch each). Closing each as it fell due cost ~5 round trips
# per report; at 500 messages/s a 250 ms tick cost ~45 us more CPU per message than a 1 s one (bench/assembly.py).
TICK = 0.5
CLOSE_BATCH = 256  # conversations closed together (one read, one claim batch, one routing batch)
CAS_ATTEMPTS = 8
# At most this much fragment data per conversation value (a NATS message is at most 1 MB by default); a message
# beyond it, from a reporter writing faster than reports close, is routed at once instead of held.
MAX_HELD_BYTES = 256 * 1024  # compare-and-set retries on one key before the inputs are handed back for redelivery
_EXPECTED = "Nats-Expected-Last-Subject-Sequence"


def _log() -> Any:
    return log.get("router")


def _revision(msg: Msg | None) -> int:
    """The stream sequence of a key's last entry (0 if it has none): what a compare-and-set write expects."""
    if msg is None or not msg.headers:
        return 0
    return int(msg.headers.get("Nats-Sequence", "0"))


async def _nothing() -> dict[str, bytes]:
    return {}


def _conflict(err: BaseException) -> bool:
    return "wrong last sequence" in str(err)


def fragment_writes(report: Envelope, fragments: tuple[str, ...], queue: str, report_id: str,
                    at: datetime) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """For each fragment after the first (whose id is the report's): its delivery record (a later copy of it
    is an exact repeat) and its reference -> the report (a reference the reporter was given still leads to the
    report's status, and quoting it is a follow-up of the report). Pure."""
    rest = fragments[1:]
    value = msgspec.json.encode(IdRecord(queue=queue, kind="fragment", at=report.received_at.timestamp()))
    ids = [(f"id.{f}", value) for f in rest]
    reporters = reporter_keys(report)
    refs = [(report_ref(f), encode(record_for(report, item_id=f, kind="duplicate", queue=queue, at=at,
                                               duplicate_of=report_id, incident=None, reporters=reporters)))
            for f in rest]
    return ids, refs


async def held_keys(js: JetStreamContext) -> list[str]:
    """Every `asm.` key of the conversations bucket that holds fragments now.

    An ephemeral consumer over the keys' last entries (headers only) is read until the count it had when it
    was made: exact, where a KV watcher's "initial values done" can come before them under load.
    """
    stream, prefix = f"KV_{subjects.KV_CONVERSATIONS}", f"$KV.{subjects.KV_CONVERSATIONS}."
    # The router may not delete consumers (docs/operations.md): the server removes this one when idle.
    config = ConsumerConfig(deliver_policy=DeliverPolicy.LAST_PER_SUBJECT, ack_policy=AckPolicy.NONE,
                            headers_only=True, mem_storage=True, inactive_threshold=15.0)
    sub = await js.pull_subscribe(f"{prefix}asm.>", stream=stream, config=config)
    keys: list[str] = []
    try:
        left = (await sub.consumer_info()).num_pending or 0
        while left > 0:
            msgs = await sub.fetch(min(left, 1000), timeout=10)
            left -= len(msgs)
            keys += [m.subject[len(prefix):] for m in msgs if (m.headers or {}).get("KV-Operation") is None]
    finally:
        await sub.unsubscribe()
    return keys


@dataclass(slots=True)
class _Key:
    """One conversation key as read: its value and revision."""

    held: Held
    revision: int


class Assembler:
    """Holds chat fragments of this router replica and closes the reports that are due (any replica's)."""

    def __init__(self, nc: NATS, js: JetStreamContext, window: Window, pipeline: Pipeline, metrics: Metrics,
                 *, max_deliveries: int, claim_timeout: timedelta = timedelta(seconds=30),
                 scan: timedelta = timedelta(seconds=30)) -> None:
        self.nc = nc
        self.js = js
        self.w = window
        self.pipeline = pipeline
        self.metrics = metrics
        self.max_deliveries = max_deliveries
        self.claim_timeout = claim_timeout
        self.scan_every = scan
        self.owner = secrets.token_hex(6)  # this process's claims
        self.bucket = subjects.KV_CONVERSATIONS
        self.stream = f"KV_{self.bucket}"
        self.prefix = f"$KV.{self.bucket}."
        self.due: dict[str, datetime] = {}  # key -> when its first report closes (keys this process knows)
        self.wake = asyncio.Event()
        self.sleep_until = datetime.min.replace(tzinfo=UTC)  # when the closing loop wakes by itself

    @property
    def enabled(self) -> bool:
        """Whether chat messages are held at all."""
        return self.w.enabled

    @staticmethod
    def holds(env: Envelope, ours: dict[str, bytes]) -> bool:
        """Whether this message waits for more: a chat message that names no reference and is no reply to a
        message of ours (`ours`: the `kanal_outbound` reply records read for the batch); those are routed at
        once, as follow-ups where they are the reporter's."""
        return is_fragment(env) and not lookup_keys(env) and not any(k in ours for k in reply_lookup(env))

    # -- intake ----------------------------------------------------------------------------------------------

    async def take(self, batch: list[Taken], ids: KvIndex, outbound: KvIndex, retry: Retry) -> list[Taken]:
        """Record the batch's chat fragments and ack them; return the inputs to route now."""
        if not self.enabled:
            return batch
        chat = [t for t in batch if is_fragment(t[1])]
        if not chat:
            return batch
        try:
            reply_keys = [k for _, env, _ in chat for k in reply_lookup(env)]
            replies = outbound.get_many(reply_keys) if reply_keys else _nothing()
            ours, routed = await asyncio.gather(replies, ids.get_many([f"id.{env.id}" for _, env, _ in chat]))
        except StoreError as err:
            for msg, _, _ in chat:
                await retry(msg, "dedup_store_unavailable", str(err))
            return [t for t in batch if not is_fragment(t[1])]
        now_route = [t for t in batch if not self.holds(t[1], ours)]
        held = [t for t in batch if self.holds(t[1], ours)]
        by_key: dict[str, list[Taken]] = {}
        for msg, env, text in held:
            if f"id.{env.id}" in routed:  # already routed in a report: a repeat (a provider retry, a replay)
                await msg.ack()
                self.metrics.duplicates.labels("exact").inc()
                _log().info("exact_duplicate_skipped", envelope_id=env.id, reason="fragment already routed")
                continue
            by_key.setdefault(holding_key(env), []).append((msg, env, text))
        errors, full = await self._record({k: [(env, msg.data) for msg, env, _ in v] for k, v in by_key.items()})
        for key, inputs in by_key.items():
            problem = errors.get(key)
            for msg, env, text in inputs:
                if env.id in full:  # the conversation holds as much as one value may: route this one now
                    now_route.append((msg, env, text))
                    continue
                if problem is not None:
                    await retry(msg, "dedup_store_unavailable", f"holding the fragment failed: {problem!r}")
                    continue
                await msg.ack()
                self.metrics.fragments.inc()
                _log().debug("fragment_held", envelope_id=env.id, conversation=key)
        return now_route

    async def _read(self, keys: list[str]) -> dict[str, _Key]:
        try:
            found = await direct.last_per_subject(self.nc, self.stream, [self.prefix + k for k in keys])
        except direct.DirectGetError as err:
            raise StoreError(str(err)) from err
        out = {}
        for key in keys:
            msg = found.get(self.prefix + key)
            value = direct.kv_value(msg) if msg is not None else None
            try:
                held = decode_held(value or b"")
            except msgspec.DecodeError as err:  # not ours to overwrite: its fragments wait until someone looks
                raise StoreError(f"{self.bucket} key {key} holds something that is not held fragments: {err} "
                                 f"(inspect it with `nats kv get {self.bucket} {key}`)") from err
            out[key] = _Key(held=held, revision=_revision(msg))
        return out

    async def _write(self, changes: dict[str, tuple[Held, int]]) -> dict[str, BaseException | None]:
        """Compare-and-set each key to its new value (an empty one is deleted); each key's outcome."""
        messages = []
        for key, (held, revision) in changes.items():
            headers = {_EXPECTED: str(revision)}
            if held.empty:
                headers["KV-Operation"] = "DEL"
            messages.append((self.prefix + key, b"" if held.empty else encode_held(held), headers))
        # One fast-ingest batch (one acknowledgement; the bucket takes them, see Conversations.open): a write
        # whose revision moved ends the batch, and it and the ones after it come back as conflicts to re-read.
        results = await self.pipeline.publish_batch(messages, fast=True)
        return dict(zip(changes, results, strict=True))

    async def _record(self, pending: dict[str, list[tuple[Envelope, bytes]]]
                      ) -> tuple[dict[str, BaseException], set[str]]:
        """Add fragments to their keys, re-reading a key another writer changed meanwhile: the errors by key,
        and the ids of fragments not held because their conversation already holds `MAX_HELD_BYTES`."""
        errors: dict[str, BaseException] = {}
        full: set[str] = set()
        for _ in range(CAS_ATTEMPTS):
            if not pending:
                return errors, full
            try:
                current = await self._read(list(pending))
            except StoreError as err:
                return errors | dict.fromkeys(pending, err), full
            now = datetime.now(UTC)
            changes: dict[str, tuple[Held, int]] = {}
            left: dict[str, set[str]] = {}
            for key, envs in pending.items():
                held = current[key].held
                size = sum(len(p.data) for p in held.pieces) + sum(len(p.data) for g in held.fixed for p in g.pieces)
                for env, data in envs:
                    if size + len(data) > MAX_HELD_BYTES:
                        left.setdefault(key, set()).add(env.id)
                        continue
                    held, size = add(held, env, now, data), size + len(data)
                if held is current[key].held:  # nothing to add (all held already, or no room)
                    full |= left.get(key, set())
                else:
                    changes[key] = (held, current[key].revision)
            results = await self._write(changes)
            conflicted: dict[str, list[tuple[Envelope, bytes]]] = {}
            for key, res in results.items():
                if res is None:
                    self._schedule(key, changes[key][0])
                    full |= left.get(key, set())
                elif _conflict(res):
                    conflicted[key] = pending[key]
                else:
                    errors[key] = res
            pending = conflicted
        return errors | dict.fromkeys(pending, PublishError(f"{CAS_ATTEMPTS} concurrent changes of the key")), full

    def _schedule(self, key: str, held: Held) -> None:
        when = next_due(held, self.w, self.claim_timeout)
        if when is None:
            self.due.pop(key, None)
        else:
            self.due[key] = when
            if when < self.sleep_until:  # sooner than the closing loop means to wake: wake it
                self.wake.set()
        self.metrics.held.set(len(self.due))

    # -- closing ---------------------------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event, route: RouteReports, dead_letter: DeadLetter) -> None:
        """Close due reports until `stopping` is set: at start and every `scan` all keys, else the known ones."""
        if not self.enabled:
            return
        loop = asyncio.get_running_loop()
        next_scan = 0.0
        next_tick = loop.time()
        while not stopping.is_set():
            try:
                if loop.time() >= next_scan:
                    await self.scan()
                    next_scan = loop.time() + self.scan_every.total_seconds()
                now = datetime.now(UTC)
                ready = [k for k, when in self.due.items() if when <= now]
                for i in range(0, len(ready), CLOSE_BATCH):
                    await self.close(ready[i:i + CLOSE_BATCH], route, dead_letter)
            except Exception as err:  # the store or the bus is away: the client reconnects; try again soon
                _log().warning("assembly_close_failed", error=repr(err))
                await asyncio.sleep(1.0)
            # Wake on a fixed cadence (closing takes time too), at the soonest due report, within a second.
            next_tick = max(next_tick + TICK, loop.time())
            soonest = min(self.due.values(), default=None)
            now = datetime.now(UTC)
            until_due = 1.0 if soonest is None else min(1.0, (soonest - now).total_seconds())
            wait = max(next_tick - loop.time(), until_due, 0.0)
            self.sleep_until = now + timedelta(seconds=wait)
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait)

    async def scan(self) -> None:
        """Learn every held key in the bucket and when it is due (those a dead or other replica left too)."""
        keys = await held_keys(self.js)
        for i in range(0, len(keys), direct.MULTI_LAST_MAX):
            for key, found in (await self._read(keys[i:i + direct.MULTI_LAST_MAX])).items():
                self._schedule(key, found.held)

    async def close(self, keys: list[str], route: RouteReports, dead_letter: DeadLetter) -> None:
        """Claim, route and release the due reports of `keys`."""
        current = await self._read(keys)
        now = datetime.now(UTC)
        claims: dict[str, tuple[Held, int]] = {}
        claimed: list[tuple[str, tuple[str, ...], Group]] = []
        for key, found in current.items():
            held = found.held
            for group_ids in closable(held, now, self.w, self.claim_timeout):
                held, group = claim(held, group_ids, self.owner, now, self.w)
                if group is not None:
                    claimed.append((key, group_ids, group))
            if held is not found.held:
                claims[key] = (held, found.revision)
            else:
                self._schedule(key, held)  # not due after all (a fragment came) or claimed by another router
        results = await self._write(claims)
        won = []
        for key, group_ids, group in claimed:
            res = results.get(key)
            if res is None:
                won.append((key, group_ids, group))
            else:  # another writer changed the key first: look again on the next turn
                self.due[key] = now
                if not _conflict(res):
                    _log().warning("assembly_claim_failed", conversation=key, error=repr(res))
        if not won:
            return
        reports = [assemble(p.envelope() for p in group.pieces) for _, _, group in won]
        outcomes = await route(reports)
        done: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
        for (key, group_ids, group), (report, fragment_ids), outcome in zip(won, reports, outcomes, strict=True):
            if outcome is None:
                self.metrics.assembled.inc()
                _log().info("report_assembled", envelope_id=report.id, ref=report.ref, fragments=len(fragment_ids),
                            conversation=key)
                done.setdefault(key, []).append((group_ids, True))
            elif group.attempts + 1 >= self.max_deliveries and await dead_letter(report, *outcome):
                done.setdefault(key, []).append((group_ids, True))
            else:
                _log().warning("assembly_route_retry", envelope_id=report.id, reason=outcome[0], detail=outcome[1],
                               attempts=group.attempts + 1)
                done.setdefault(key, []).append((group_ids, False))
        await self._settle(done)

    @staticmethod
    def _attempts(held: Held, group_ids: tuple[str, ...]) -> int:
        return next((g.attempts for g in held.fixed if ids(g.pieces) == group_ids), 0) + 1

    async def _settle(self, done: dict[str, list[tuple[tuple[str, ...], bool]]]) -> None:
        """Remove the routed reports from their keys (or count the failed attempt), re-reading on conflicts."""
        for _ in range(CAS_ATTEMPTS):
            if not done:
                return
            current = await self._read(list(done))
            now = datetime.now(UTC)
            changes: dict[str, tuple[Held, int]] = {}
            for key, groups in done.items():
                held = current[key].held
                for group_ids, routed in groups:
                    retry_at = now + timedelta(seconds=min(30.0, 0.5 * 2 ** self._attempts(held, group_ids)))
                    held = release(held, group_ids) if routed else failed(held, group_ids, retry_at)
                changes[key] = (held, current[key].revision)
            results = await self._write(changes)
            retry = {}
            for key, res in results.items():
                if res is None:
                    self._schedule(key, changes[key][0])
                elif _conflict(res):
                    retry[key] = done[key]
                else:  # left claimed: taken over after the claim timeout (a second routing is a dropped repeat)
                    _log().warning("assembly_release_failed", conversation=key, error=repr(res))
                    self.due[key] = datetime.now(UTC) + self.claim_timeout
            done = retry
        for key in done:
            self.due[key] = datetime.now(UTC) + self.claim_timeout

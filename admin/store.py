"""Reading routed items back from KANAL_ADMIN, and the shared record of what admins did with each one.

The stream is the item store: an item is addressed by its stream sequence (one message = one item in one
queue; a reroute is a new message in the target queue). What admins did (acknowledged it, rerouted it) lives
in the KV bucket `kanal_items`, keyed by item id, so every inbox process and the console agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

import msgspec
from msgspec import Struct
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import APIError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError

from kanal import bus, direct
from schemas import subjects
from schemas.envelope import UtcTime, encode
from schemas.errors import SchemaError
from schemas.routed import RoutedItem, decode_routed
from schemas.status import StatusUpdate, decode_status

QUEUE_PATTERN = re.compile(r"^[a-z_]+(\.[A-Za-z0-9_-]+)?$")
R = TypeVar("R", bound=Struct)  # a record kept in the items bucket


class ItemNotFound(LookupError):
    """No routed item at that sequence / with that id in that queue."""


class Handling(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One admin action on one message of an item: acknowledged in its queue, or moved to another."""

    seq: int
    queue: str
    action: Literal["ack", "reroute"]
    by: str
    at: UtcTime
    to_queue: str | None = None
    reason: str | None = None


class CategoryChange(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An admin corrected what the report is about (docs/categories.md): who, when, from, to, in which queue."""

    from_category: str | None
    to_category: str
    by: str
    at: UtcTime
    queue: str


class Disposition(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The message at `seq` in `from_queue` was passed on to the dinas / suku dinas queue `to_queue`."""

    seq: int
    from_queue: str
    to_queue: str
    category: str | None
    reason: str
    by: str
    at: UtcTime


class ItemState(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything admins did with one item, across queues (value in bucket `kanal_items`, key = item id)."""

    v: Literal[1] = 1
    item_id: str
    handled: tuple[Handling, ...] = ()
    categories: tuple[CategoryChange, ...] = ()
    dispositions: tuple[Disposition, ...] = ()

    def for_seq(self, seq: int) -> Handling | None:
        """What was done with the message at stream sequence `seq`, if anything."""
        return next((h for h in self.handled if h.seq == seq), None)


def item_state(value: bytes | None, item_id: str) -> ItemState:
    """An item's record from the bucket's bytes; a fresh one when there are none (never written, or deleted)."""
    return msgspec.json.decode(value, type=ItemState) if value else ItemState(item_id=item_id)


@dataclass(frozen=True)
class StoredItem:
    """A routed item as stored: its stream sequence, its queue and when it was stored."""

    seq: int
    queue: str
    item: RoutedItem
    stored_at: datetime | None = None


@dataclass(frozen=True)
class Change:
    """One message of a stream the index follows."""

    seq: int
    subject: str
    data: bytes
    deleted: bool = False


def valid_queue(queue: str) -> bool:
    """Whether `queue` is a well-formed queue name (`kelurahan.3171011001`, `triage` ...)."""
    return bool(QUEUE_PATTERN.match(queue))


def _stored(seq: int, subject: str, data: bytes, at: datetime | None) -> StoredItem | None:
    try:
        return StoredItem(seq=seq, queue=subjects.queue_of(subject), item=decode_routed(data), stored_at=at)
    except (SchemaError, ValueError):
        return None  # not a routed item: nothing an admin can act on


class ItemStore:
    """KANAL_ADMIN reads plus the `kanal_items` KV record; one per process."""

    def __init__(self, nc: NATS, kv: Any, bucket: str) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.kv = kv
        self.bucket = bucket

    @classmethod
    async def open(cls, nc: NATS, bucket: str = "kanal_items", replicas: int = 1) -> ItemStore:
        """Open (creating if needed) the item-state bucket, with direct gets on (pages read it in batches)."""
        js = nc.jetstream()
        kv = await bus.ensure_kv(js, bucket, replicas=replicas, history=10)
        stream = f"KV_{bucket}"
        config = (await js.stream_info(stream)).config
        if not config.allow_direct:  # a bucket made by an older version or by hand
            config.allow_direct = True
            await js.update_stream(config)
        return cls(nc, kv, bucket)

    async def get(self, seq: int) -> StoredItem:
        """The routed item stored at `seq`, or ItemNotFound."""
        try:
            raw = await self.js.get_msg(subjects.STREAM_ADMIN, seq, direct=True)
        except NotFoundError as err:
            raise ItemNotFound(f"no item #{seq}") from err
        found = _stored(seq, raw.subject or "", raw.data or b"", raw.time)
        if found is None:
            raise ItemNotFound(f"#{seq} is not a routed item")
        return found

    async def read(self, subject: str, start_seq: int = 1, limit: int | None = None) -> list[StoredItem]:
        """Every routed item on `subject` (may be a wildcard) from `start_seq`, oldest first."""
        out: list[StoredItem] = []
        for seq, subj, data, at, _ in await self._read(subject, start_seq, limit):
            found = _stored(seq, subj, data, at)
            if found is not None:
                out.append(found)
        return out

    async def read_raw(self, subject: str, start_seq: int = 1) -> list[tuple[int, str, bytes]]:
        """Every message on `subject` from `start_seq` as (stream sequence, subject, data), oldest first."""
        return [(seq, subj, data) for seq, subj, data, _, _h in await self._read(subject, start_seq, None)]

    async def changes(self, stream: str, subject: str, start_seq: int) -> list[Change]:
        """Every message of `stream` on `subject` from `start_seq` (the index follows KANAL_STATUS and the
        items bucket this way), with whether it deletes its KV key."""
        out = []
        for seq, subj, data, _at, headers in await self._read(subject, start_seq, None, stream):
            deleted = (headers or {}).get("KV-Operation") in ("DEL", "PURGE")
            out.append(Change(seq=seq, subject=subj, data=data, deleted=deleted))
        return out

    async def _read(self, subject: str, start_seq: int, limit: int | None,
                    stream: str = subjects.STREAM_ADMIN) -> list[tuple[int, str, bytes, datetime | None, Any]]:
        config = ConsumerConfig(ack_policy=AckPolicy.NONE, filter_subject=subject, inactive_threshold=30.0,
                                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=max(1, start_seq),
                                mem_storage=True)
        sub = await self.js.pull_subscribe(subject, stream=stream, config=config)
        out: list[tuple[int, str, bytes, datetime | None, Any]] = []
        try:
            pending = (await sub.consumer_info()).num_pending or 0
            while pending > 0 and (limit is None or len(out) < limit):
                try:
                    msgs = await sub.fetch(min(pending, 256), timeout=2.0)
                except TimeoutError:
                    break
                for msg in msgs:
                    meta = msg.metadata
                    pending = meta.num_pending or 0
                    out.append((meta.sequence.stream, msg.subject, msg.data, meta.timestamp, msg.headers))
        finally:
            await sub.unsubscribe()
        return out

    async def queue(self, queue: str, start_seq: int = 1) -> list[StoredItem]:
        """Every item ever delivered to `queue` from `start_seq`, oldest first."""
        return await self.read(subjects.admin(queue), start_seq)

    async def counts(self) -> dict[str, int]:
        """Messages per queue in KANAL_ADMIN (every queue that ever received an item)."""
        info = await self.js.stream_info(subjects.STREAM_ADMIN, subjects_filter=f"{subjects.ADMIN_PREFIX}.>")
        return {subjects.queue_of(subject): count for subject, count in (info.state.subjects or {}).items()}

    async def state(self, item_id: str) -> tuple[ItemState, int]:
        """The item's record and its KV revision (0 when nothing was done yet)."""
        return await self.entry(item_id, ItemState, ItemState(item_id=item_id))

    async def entry(self, key: str, type_: type[R], empty: R) -> tuple[R, int]:
        """The record under `key` and its KV revision: `empty` when the key was never written (revision 0) or
        was deleted or purged (its revision)."""
        try:
            entry = await self.kv.get(key)
        except KeyNotFoundError:
            return empty, 0
        if not entry.value:
            return empty, int(entry.revision or 0)
        return msgspec.json.decode(entry.value, type=type_), int(entry.revision or 0)

    async def states(self, item_ids: list[str]) -> dict[str, ItemState]:
        """Records of many items: one batched read per 1,000 items (a page of a queue is one request)."""
        found = await direct.kv_values(self.nc, self.bucket, item_ids)
        return {item_id: item_state(found.get(item_id), item_id) for item_id in item_ids}

    async def record(self, item_id: str, handling: Handling) -> Handling:
        """Add `handling` (compare-and-set, retried on a concurrent writer); the first record for a seq wins."""
        kept = handling

        def change(current: bytes | None) -> bytes | None:
            nonlocal kept
            state = item_state(current, item_id)
            existing = state.for_seq(handling.seq)
            if existing is not None:
                kept = existing
                return None
            kept = handling
            return msgspec.json.encode(msgspec.structs.replace(state, handled=(*state.handled, handling)))

        await self.update(item_id, change)
        return kept

    async def update(self, key: str, change: Callable[[bytes | None], bytes | None]) -> bytes | None:
        """Compare-and-set one key of the bucket: `change(current value)` -> the new value (None: leave it).

        `change` may raise after seeing the current value: nothing is written then. TooManyWriters when a
        concurrent writer won 20 times in a row."""
        for _ in range(20):
            try:
                entry = await self.kv.get(key)
                current, revision = entry.value or None, int(entry.revision or 0)
            except KeyNotFoundError:
                current, revision = None, 0
            value = change(current)
            if value is None:
                return current
            try:
                if revision:
                    await self.kv.update(key, value, last=revision)
                else:
                    await self.kv.create(key, value)
                return value
            except Exception as err:
                if not is_conflict(err):
                    raise
        raise TooManyWriters(f"{key}: too many concurrent updates; try again")

    async def publish_status(self, update: StatusUpdate, last_seq: int) -> None:
        """Publish a stage change only if the item's status subject is still at `last_seq` (as read before
        deciding), so of two admins moving one item at the same moment one wins; StageConflict for the other."""
        try:
            await self.js.publish(subjects.status(update.item_id), encode(update),
                                  headers={"Nats-Expected-Last-Subject-Sequence": str(last_seq),
                                           "Nats-Msg-Id": f"status:{update.item_id}:{update.stage}"})
        except APIError as err:
            if is_conflict(err):
                raise StageConflict(f"{update.item_id}: the stage changed since it was read") from err
            raise

    async def latest_status(self, item_id: str) -> tuple[StatusUpdate | None, int]:
        """The last StatusUpdate on `kanal.status.<item_id>` and its stream sequence (None, 0 when none)."""
        try:
            raw = await self.js.get_last_msg(subjects.STREAM_STATUS, subjects.status(item_id), direct=True)
        except NotFoundError:
            return None, 0
        try:
            return decode_status(raw.data or b""), int(raw.seq or 0)
        except SchemaError:
            return None, int(raw.seq or 0)

    async def latest_statuses(self, item_ids: list[str]) -> dict[str, StatusUpdate | None]:
        """Latest status of many items: one batched read per 1,000 items."""
        found = await direct.last_per_subject(self.nc, subjects.STREAM_STATUS, [subjects.status(i) for i in item_ids])
        out: dict[str, StatusUpdate | None] = {}
        for item_id in item_ids:
            msg = found.get(subjects.status(item_id))
            try:
                out[item_id] = decode_status(msg.data or b"") if msg is not None else None
            except SchemaError:
                out[item_id] = None
        return out


class StageConflict(RuntimeError):
    """Another stage change was published after the one this change was decided on."""


class TooManyWriters(RuntimeError):
    """A compare-and-set lost to a concurrent writer every time it was retried."""


def is_conflict(err: Exception) -> bool:
    if isinstance(err, KeyWrongLastSequenceError):
        return True
    code = getattr(err, "err_code", None)
    return code in (10071, 10164)

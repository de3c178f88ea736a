"""What a report is about, as admins act on it: correcting its category and disposing it to the dinas or suku
dinas in charge. Shared by `kanal inbox` and the console; every action is recorded in `kanal_items`.

- A correction appends a CategoryChange (who, when, from, to) to the item's record and adds one to the
  count of `<from> -> <to>` corrections (key `stats.category_corrections`), so the city sees where the
  classifier is wrong. The routed item itself keeps what the router read.
- A disposition reroutes the item (a Reroute on the new message, the reason recorded, the category as
  corrected on its decision, so the suku dinas and the CRM read it), records it on the item, and moves the
  report to stage Disposisi, so the citizen and the kelurahan see who has it now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
from msgspec import Struct

from admin.auth import require
from admin.dispositionmap import DispositionMap, Target
from admin.inbox import InboxError, reroute
from admin.settings import AdminUser
from admin.status import current_stage
from admin.store import CategoryChange, Disposition, ItemState, ItemStore, StageConflict, StoredItem, item_state
from router.categories import Classifier
from schemas.routed import RoutedItem
from schemas.status import STAGE_ORDER, Stage, StatusUpdate

STATS_KEY = "stats.category_corrections"
DISPOSISI: Stage = "disposisi"


class CorrectionCounts(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How many times admins changed one category into another: `"<from>><to>"` -> count."""

    v: int = 1
    counts: dict[str, int] = {}


@dataclass(frozen=True)
class DisposedRow:
    """An item a queue passed on: where to, by whom, and the report's stage now."""

    stored: StoredItem
    disposition: Disposition
    stage: str


def current_category(item: RoutedItem, state: ItemState) -> str | None:
    """The category an admin set last, else what the router read from the text."""
    return state.categories[-1].to_category if state.categories else item.decision.category


async def correct_category(store: ItemStore, stored: StoredItem, to: str, *, by: str, user: AdminUser,
                           classifier: Classifier) -> CategoryChange:
    """Set the item's category to `to`; recorded and counted. InboxError when `to` is unknown or unchanged."""
    require(user, by, stored.queue)
    if to not in classifier.ids:
        raise InboxError(f"unknown category {to!r}: use one of {', '.join(classifier.ids)}")
    item_id = stored.item.item_id
    change: CategoryChange | None = None

    def add(value: bytes | None) -> bytes | None:
        nonlocal change
        state = item_state(value, item_id)
        moved = state.for_seq(stored.seq)
        if moved is not None and moved.action == "reroute":
            raise InboxError(f"this item was moved to {moved.to_queue}; its category is corrected there")
        before = current_category(stored.item, state)
        if before == to:
            raise InboxError(f"the category is already {to}")
        change = CategoryChange(from_category=before, to_category=to, by=by, at=datetime.now(UTC),
                                queue=stored.queue)
        return msgspec.json.encode(msgspec.structs.replace(state, categories=(*state.categories, change)))

    await store.update(item_id, add)
    assert change is not None
    counted = f"{change.from_category or '-'}>{to}"

    def bump(value: bytes | None) -> bytes:
        stats = msgspec.json.decode(value, type=CorrectionCounts) if value else CorrectionCounts()
        return msgspec.json.encode(CorrectionCounts(counts={**stats.counts,
                                                            counted: stats.counts.get(counted, 0) + 1}))

    await store.update(STATS_KEY, bump)
    return change


async def correction_counts(store: ItemStore) -> dict[tuple[str, str], int]:
    """(from, to) -> how many corrections; `-` stands for an item the router gave no category."""
    stats = CorrectionCounts()
    raw = await store.update(STATS_KEY, lambda value: None)
    if raw:
        stats = msgspec.json.decode(raw, type=CorrectionCounts)
    return {(k.split(">", 1)[0], k.split(">", 1)[1]): n for k, n in sorted(stats.counts.items())}


async def proposal(store: ItemStore, stored: StoredItem, dmap: DispositionMap) -> Target | None:
    """Where the item should go by its current category and kota; None when nobody is named."""
    state, _ = await store.state(stored.item.item_id)
    return dmap.target(stored.queue, current_category(stored.item, state))


async def dispose(store: ItemStore, stored: StoredItem, dmap: DispositionMap, *, by: str, user: AdminUser,
                  note: str | None = None) -> tuple[StoredItem, Target]:
    """Pass the item to the suku dinas of its category: reroute (reason recorded), record, stage Disposisi.

    Safe to repeat after a failure half way: the reroute and the stage change are idempotent.
    """
    require(user, by, stored.queue)
    if stored.item.kind == "duplicate":
        first = stored.item.dedup.duplicate_of or "the first report"
        raise InboxError(f"this is a duplicate notice of {first}; dispose that item instead")
    if not stored.queue.startswith(("kelurahan.", "kecamatan.", "kota.")):
        raise InboxError(f"{stored.queue} is not a kelurahan, kecamatan or kota queue: only they dispose items")
    target = await proposal(store, stored, dmap)
    if target is None:
        raise InboxError("no suku dinas handles this category here: correct the category, or reroute by hand")
    label = dmap.classifier.label(target.category)
    reason = f"Disposisi ke {target.label} ({label})" + (f": {note.strip()}" if note and note.strip() else "")
    moved = await reroute(store, stored, target.queue, reason, by=by, user=user, category=target.category)
    item_id = stored.item.item_id

    def add(value: bytes | None) -> bytes | None:
        state = item_state(value, item_id)
        if any(d.seq == stored.seq for d in state.dispositions):
            return None
        record = Disposition(seq=stored.seq, from_queue=stored.queue, to_queue=target.queue,
                             category=target.category, reason=reason, by=by, at=moved.item.reroutes[-1].at)
        return msgspec.json.encode(msgspec.structs.replace(state, dispositions=(*state.dispositions, record)))

    await store.update(item_id, add)
    await _stage_disposisi(store, moved, by=by, note=reason)
    return moved, target


async def _stage_disposisi(store: ItemStore, moved: StoredItem, *, by: str, note: str) -> None:
    """Stage Disposisi (from Menunggu or Koordinasi: passing a report on is what Disposisi means)."""
    item = moved.item
    latest, last_seq = await store.latest_status(item.item_id)
    if STAGE_ORDER[current_stage(latest)] >= STAGE_ORDER[DISPOSISI]:
        return
    update = StatusUpdate(item_id=item.item_id, ref=item.ref, stage=DISPOSISI, queue=moved.queue, by=by,
                          at=datetime.now(UTC), note=note)
    try:
        await store.publish_status(update, last_seq)
    except StageConflict as err:
        raise InboxError("someone changed the stage at the same moment; the item is disposed, set the stage "
                         "to Disposisi again") from err


async def disposed(store: ItemStore, queue: str) -> list[DisposedRow]:
    """The items `queue` passed on, newest first, each with its current stage (read-only for the queue)."""
    items = await store.queue(queue)
    ids = list(dict.fromkeys(s.item.item_id for s in items))
    states = await store.states(ids)
    statuses = await store.latest_statuses(ids)
    rows = []
    for s in items:
        found = next((d for d in states[s.item.item_id].dispositions if d.seq == s.seq), None)
        if found is not None:
            rows.append(DisposedRow(stored=s, disposition=found, stage=current_stage(statuses[s.item.item_id])))
    return rows[::-1]

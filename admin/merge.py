"""Merging two reports that are the same thing, and splitting a wrong merge: recorded, reversible, and the
merged report's reporter keeps hearing how the report it joined goes.

A merge writes a `Linked` step on the merged report's desk record and adds it to the surviving report's
`absorbed` list (admin/assign.py: one record per item). Nothing is deleted: a split appends the undo, with
who, when and why, and the report stands on its own again. Every stage change of the surviving report is
also published on the merged report's own status subject (`propagate`), so the notifier tells its reporter
on their channel, with the same stage; at merge time the current stage is sent once the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from nats.js.errors import NotFoundError

from admin.assign import Absorbed, AssignRefused, Desk, Linked, get, update
from admin.reason import Reason
from admin.settings import AdminUser
from admin.store import ItemStore, StoredItem
from schemas import subjects
from schemas.envelope import encode
from schemas.status import StatusUpdate


class MergeRefused(AssignRefused):
    """A merge or split that is not allowed; the message says why."""


def refusal(source: StoredItem, target: StoredItem, source_desk: Desk, target_desk: Desk, user: AdminUser,
            why: str) -> str | None:
    """Why `source` may not join `target` (None when it may). Pure."""
    if source.item.item_id == target.item.item_id:
        return Reason("a report cannot be merged into itself")
    if not why.strip():
        return Reason("say why they are the same (the next officer reads it)")
    if not (user.allowed(source.queue) and user.allowed(target.queue)):
        return Reason("you may merge only reports of queues you work on")
    if source_desk.merged_into is not None:
        return Reason("this report is already merged; undo that merge first")
    if target_desk.merged_into is not None:
        return Reason("%(ref)s is itself merged into another report: merge into that one", ref=target.item.ref)
    if source_desk.absorbed:
        return Reason("other reports were merged into this one: merge the other way round, or split them "
                      "first")
    return None


async def merge(store: ItemStore, source: StoredItem, target: StoredItem, *, by: str, user: AdminUser,
                why: str) -> Desk:
    """`source` becomes a linked duplicate of `target`; its reporter gets `target`'s current stage now."""
    (source_desk, _), (target_desk, _) = await get(store, source.item.item_id), await get(store, target.item.item_id)
    reason = refusal(source, target, source_desk, target_desk, user, why)
    if reason is not None:
        raise MergeRefused(reason)
    step = Linked(action="merge", target=target.item.item_id, target_ref=target.item.ref, by=by,
                  at=datetime.now(UTC), why=why.strip())

    def link(desk: Desk) -> Desk:
        if desk.merged_into is not None:
            raise MergeRefused(Reason("this report was merged meanwhile; reload"))
        return msgspec.structs.replace(desk, links=(*desk.links, step))

    def absorb(desk: Desk) -> Desk:
        kept = tuple(a for a in desk.absorbed if a.item_id != source.item.item_id)
        return msgspec.structs.replace(desk, absorbed=(*kept, Absorbed(item_id=source.item.item_id,
                                                                         ref=source.item.ref)))

    done = await update(store, source.item.item_id, link)
    await update(store, target.item.item_id, absorb)
    latest, _ = await store.latest_status(target.item.item_id)
    if latest is not None:
        await _tell(store, source.item.item_id, source.item.ref, latest)
    return done


async def split(store: ItemStore, source: StoredItem, *, by: str, user: AdminUser, why: str) -> Desk:
    """Undo `source`'s merge: recorded with who, when and why; the report stands on its own again."""
    if not why.strip():
        raise MergeRefused(Reason("say why the merge was wrong (the next officer reads it)"))
    if not user.allowed(source.queue):
        raise MergeRefused(Reason("you do not work on %(queue)s", queue=source.queue))
    current, _ = await get(store, source.item.item_id)
    if current.merged_into is None:
        raise MergeRefused(Reason("this report is not merged"))
    last = current.links[-1]
    step = Linked(action="split", target=last.target, target_ref=last.target_ref, by=by, at=datetime.now(UTC),
                  why=why.strip())

    def unlink(desk: Desk) -> Desk:
        if desk.merged_into != last.target:
            raise MergeRefused(Reason("the merge changed meanwhile; reload"))
        return msgspec.structs.replace(desk, links=(*desk.links, step))

    def release(desk: Desk) -> Desk:
        return msgspec.structs.replace(desk, absorbed=tuple(a for a in desk.absorbed
                                                             if a.item_id != source.item.item_id))

    done = await update(store, source.item.item_id, unlink)
    await update(store, last.target, release)
    return done


async def propagate(store: ItemStore, update_: StatusUpdate) -> int:
    """Publish a surviving report's stage change on each merged report's subject; returns how many."""
    desk, _ = await get(store, update_.item_id)
    for absorbed in desk.absorbed:
        await _tell(store, absorbed.item_id, absorbed.ref, update_)
    return len(desk.absorbed)


async def _tell(store: ItemStore, item_id: str, ref: str, update_: StatusUpdate) -> None:
    """The merged report reaches the surviving report's stage (once per stage: Nats-Msg-Id)."""
    try:
        mine = await store.js.get_last_msg(subjects.STREAM_STATUS, subjects.status(item_id), direct=True)
        if mine.data and msgspec.json.decode(mine.data).get("stage") == update_.stage:
            return
    except NotFoundError:
        pass
    note = f"digabung dengan laporan {update_.ref}"
    told = StatusUpdate(item_id=item_id, ref=ref, stage=update_.stage, queue=update_.queue, by=update_.by,
                        at=update_.at, note=note)
    await store.js.publish(subjects.status(item_id), encode(told),
                           headers={"Nats-Msg-Id": f"status:{item_id}:{update_.stage}:via:{update_.item_id}"})

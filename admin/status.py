"""Stage changes on `kanal.status.<item_id>`: one rule, shared by the inbox CLI and the console, refusing
skipped stages and admins or queues that do not own the item, with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

from admin import assign, merge
from admin.reason import Reason
from admin.settings import AdminUser
from admin.store import ItemStore, StageConflict, StoredItem
from schemas.status import STAGE_ORDER, STAGES, Stage, StageInfo, StatusUpdate

INITIAL: Stage = "menunggu"


class StatusRefused(Exception):
    """A stage change that is not allowed; `reason` says why, in words an admin understands."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def stage_info(stage: str) -> StageInfo:
    """Label and colour of a stage (the first stage for an unknown one)."""
    return STAGES[STAGE_ORDER.get(stage, 0)]


def current_stage(update: StatusUpdate | None) -> Stage:
    """The stage an item is in: its last update's, or Menunggu when nobody has moved it yet."""
    return update.stage if update is not None else INITIAL


def next_stage(stage: str) -> Stage | None:
    """The only stage an item may move to from `stage` (None at Selesai)."""
    index = STAGE_ORDER.get(stage, 0) + 1
    return STAGES[index].stage if index < len(STAGES) else None


def refusal(*, current: str, new: str, username: str, user: AdminUser, stored: StoredItem,
            rerouted_to: str | None) -> str | None:
    """Why this change may not happen, or None when it may. Pure: the console and the CLI both call it."""
    if new not in STAGE_ORDER:
        return Reason("unknown stage %(stage)r: use one of %(stages)s", stage=new, stages=", ".join(STAGE_ORDER))
    if not user.allowed(stored.queue):
        return Reason("admin %(who)r is not allowed on queue %(queue)r, which holds this item", who=username,
                      queue=stored.queue)
    if rerouted_to is not None:
        return Reason("this item was rerouted to %(queue)s; its stage is changed there", queue=rerouted_to)
    if stored.item.kind == "duplicate":
        first = stored.item.dedup.duplicate_of or "the first report"
        return Reason("this is a duplicate notice of %(first)s; change the stage of that item instead", first=first)
    step = STAGE_ORDER[new] - STAGE_ORDER[current]
    if step == 0:
        return Reason("the item is already at %(stage)s", stage=stage_info(current).label)
    if step < 0:
        return Reason("stages only move forward: the item is at %(stage)s", stage=stage_info(current).label)
    if step > 1:
        wanted = next_stage(current)
        nxt = stage_info(wanted).label if wanted else "nothing"
        return Reason("%(current)s → %(new)s skips %(skipped)s: the next stage is %(next)s",
                      current=stage_info(current).label, new=stage_info(new).label, next=nxt,
                      skipped=", ".join(i.label for i in STAGES[STAGE_ORDER[current] + 1:STAGE_ORDER[new]]))
    return None


async def change_stage(store: ItemStore, stored: StoredItem, new: str, *, username: str, user: AdminUser,
                       note: str | None = None) -> StatusUpdate:
    """Publish a stage change after checking it; raises StatusRefused with the reason.

    The publish carries the subject's last sequence as read, so two admins moving the same item at the same
    moment cannot both succeed; the loser is refused and sees the new stage.
    """
    item = stored.item
    latest, last_seq = await store.latest_status(item.item_id)
    state, _ = await store.state(item.item_id)
    handling = state.for_seq(stored.seq)
    rerouted_to = handling.to_queue if handling is not None and handling.action == "reroute" else None
    current = current_stage(latest)
    reason = refusal(current=current, new=new, username=username, user=user, stored=stored,
                     rerouted_to=rerouted_to)
    if reason is None:
        desk, _ = await assign.get(store, item.item_id)
        if desk.merged_into is not None:
            reason = Reason("this report is merged into %(ref)s; change the stage there (its reporter is told "
                            "the same) or undo the merge", ref=desk.links[-1].target_ref)
    if reason is not None:
        raise StatusRefused(reason)
    update = StatusUpdate(item_id=item.item_id, ref=item.ref, stage=new,  # type: ignore[arg-type]
                          queue=stored.queue, by=username, at=datetime.now(UTC), note=note or None)
    try:
        await store.publish_status(update, last_seq)
    except StageConflict as err:
        raise StatusRefused(Reason("someone else changed the stage at the same moment; reload and try "
                                   "again")) from err
    await merge.propagate(store, update)  # reporters of reports merged into this one hear the same
    return update

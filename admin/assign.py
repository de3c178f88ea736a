"""Who handles an item ("saya tangani"): take, hand to a colleague of the same queue, release; with history.

Kept with the item's merge links (admin/merge.py) in one record per item, `Desk`, in the items bucket
(`kanal_items`) under the key `desk.<item_id>`, beside the item's admin record, so every console replica and
`kanal inbox` agree; each change is a compare-and-set on that key, so two officers taking the same item at
the same moment cannot both win (the second is told who has it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

import msgspec
from msgspec import Struct

from admin.reason import Reason
from admin.settings import AdminSettings
from admin.store import ItemStore, StoredItem, TooManyWriters
from kanal import direct
from schemas.envelope import UtcTime

Action = Literal["take", "hand", "release"]


class Assigned(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One change of hands: who did it, to whom (None when released), when, and an optional note."""

    action: Action
    by: str
    to: str | None
    at: UtcTime
    note: str | None = None


class Linked(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One merge or its undo: this report joined `target` (or left it), who did it, when and why."""

    action: Literal["merge", "split"]
    target: str  # item id of the report this one joined / left
    target_ref: str
    by: str
    at: UtcTime
    why: str


class Absorbed(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A report merged into this one (kept on the surviving report, so its stage changes reach that reporter)."""

    item_id: str
    ref: str


class Desk(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the office did around one item: assignment history and merge links (value of `desk.<item_id>`)."""

    v: Literal[1] = 1
    item_id: str
    history: tuple[Assigned, ...] = ()
    links: tuple[Linked, ...] = ()
    absorbed: tuple[Absorbed, ...] = ()

    @property
    def holder(self) -> str | None:
        """Who has the item now (None: nobody)."""
        return self.history[-1].to if self.history else None

    @property
    def merged_into(self) -> str | None:
        """The item id this report is merged into now (None: it stands on its own)."""
        return self.links[-1].target if self.links and self.links[-1].action == "merge" else None



class AssignRefused(Exception):
    """An assignment change that is not allowed; the message says why."""


def key(item_id: str) -> str:
    """The bucket key of an item's desk record."""
    return f"desk.{item_id}"


async def get(store: ItemStore, item_id: str) -> tuple[Desk, int]:
    """The item's desk record and its KV revision (0 when it never had one)."""
    return await store.entry(key(item_id), Desk, Desk(item_id=item_id))


async def desks(store: ItemStore, item_ids: list[str]) -> dict[str, Desk]:
    """The desk records of many items (only those that have one), in batched reads."""
    found = await direct.kv_values(store.nc, store.bucket, [key(i) for i in item_ids])
    return {item_id: msgspec.json.decode(value, type=Desk)
            for item_id in item_ids if (value := found.get(key(item_id)))}


async def update(store: ItemStore, item_id: str, change: Callable[[Desk], Desk]) -> Desk:
    """Apply `change` to the item's record with compare-and-set, retried on a concurrent writer.

    `change` may raise (e.g. AssignRefused) after seeing the current record: nothing is written then.
    """
    new = Desk(item_id=item_id)

    def apply(current: bytes | None) -> bytes:
        nonlocal new
        new = change(msgspec.json.decode(current, type=Desk) if current else Desk(item_id=item_id))
        return msgspec.json.encode(new)

    try:
        await store.update(key(item_id), apply)
    except TooManyWriters as err:
        raise AssignRefused(Reason("too many changes at the same moment; reload and try again")) from err
    return new


def refusal(current: str | None, action: Action, by: str, to: str | None, stored: StoredItem,
            settings: AdminSettings) -> str | None:
    """Why the change may not happen (None when it may). Pure."""
    if action == "take" and current == by:
        return Reason("you already handle this item")
    if action == "take" and current is not None:
        return Reason("%(who)s already handles this item; ask them to hand it over or release it", who=current)
    if action == "release" and current is None:
        return Reason("nobody handles this item")
    if action == "release" and current != by:
        return Reason("only %(who)s, who handles it, can release it (or hand it over)", who=current)
    if action == "hand":
        if current not in (None, by):
            return Reason("%(who)s handles this item; only they can hand it over", who=current)
        colleague = settings.users.get(to or "")
        if colleague is None:
            return Reason("%(who)r is not an admin of this console", who=to)
        if to == by:
            return Reason("you cannot hand an item to yourself")
        if not colleague.allowed(stored.queue):
            return Reason("%(who)s does not work on %(queue)s; hand it to a colleague of the same queue", who=to,
                          queue=stored.queue)
    return None


async def change(store: ItemStore, stored: StoredItem, settings: AdminSettings, action: Action, *, by: str,
                 to: str | None = None, note: str | None = None) -> Desk:
    """Take, hand over or release, after checking it (AssignRefused with the reason)."""
    target = by if action == "take" else (to if action == "hand" else None)

    def step(current: Desk) -> Desk:
        reason = refusal(current.holder, action, by, to, stored, settings)
        if reason is not None:
            raise AssignRefused(reason)
        done = Assigned(action=action, by=by, to=target, at=datetime.now(UTC), note=note or None)
        return msgspec.structs.replace(current, history=(*current.history, done))

    return await update(store, stored.item.item_id, step)


def colleagues(settings: AdminSettings, queue: str, me: str) -> list[str]:
    """The other admins who work on `queue` (superadmins included), by name."""
    return sorted(n for n, u in settings.users.items() if n != me and u.allowed(queue))

"""Who handles an item ("saya tangani"): take, hand to a colleague of the same queue, release; with history.

Kept in the items bucket (`kanal_items`) under the key `who.<item_id>`, beside the item's admin record, so
every console replica and `kanal inbox` agree; each change is a compare-and-set on that key, so two officers
taking the same item at the same moment cannot both win (the second is told who has it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import msgspec
from msgspec import Struct
from nats.js.errors import KeyNotFoundError

from admin.settings import AdminSettings
from admin.store import ItemStore, StoredItem, is_conflict
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


class Assignment(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An item's assignment history, newest last (value of `who.<item_id>`)."""

    v: Literal[1] = 1
    item_id: str
    history: tuple[Assigned, ...] = ()

    @property
    def holder(self) -> str | None:
        """Who has the item now (None: nobody)."""
        return self.history[-1].to if self.history else None


class AssignRefused(Exception):
    """An assignment change that is not allowed; the message says why."""


def key(item_id: str) -> str:
    """The bucket key of an item's assignment."""
    return f"who.{item_id}"


async def get(store: ItemStore, item_id: str) -> tuple[Assignment, int]:
    """The item's assignment and its KV revision (0 when it never had one)."""
    try:
        entry = await store.kv.get(key(item_id))
    except KeyNotFoundError:
        return Assignment(item_id=item_id), 0
    if not entry.value:
        return Assignment(item_id=item_id), int(entry.revision or 0)
    return msgspec.json.decode(entry.value, type=Assignment), int(entry.revision or 0)


async def holders(store: ItemStore, item_ids: list[str]) -> dict[str, str]:
    """Who holds each of many items (only those held), in batched reads."""
    prefix = f"$KV.{store.bucket}."
    found = await direct.last_per_subject(store.nc, f"KV_{store.bucket}", [prefix + key(i) for i in item_ids])
    out: dict[str, str] = {}
    for item_id in item_ids:
        msg = found.get(prefix + key(item_id))
        value = direct.kv_value(msg) if msg is not None else None
        holder = msgspec.json.decode(value, type=Assignment).holder if value else None
        if holder is not None:
            out[item_id] = holder
    return out


def refusal(current: str | None, action: Action, by: str, to: str | None, stored: StoredItem,
            settings: AdminSettings) -> str | None:
    """Why the change may not happen (None when it may). Pure."""
    if action == "take" and current == by:
        return "you already handle this item"
    if action == "take" and current is not None:
        return f"{current} already handles this item; ask them to hand it over or release it"
    if action == "release" and current is None:
        return "nobody handles this item"
    if action == "release" and current != by:
        return f"only {current}, who handles it, can release it (or hand it over)"
    if action == "hand":
        if current not in (None, by):
            return f"{current} handles this item; only they can hand it over"
        colleague = settings.users.get(to or "")
        if colleague is None:
            return f"{to!r} is not an admin of this console"
        if to == by:
            return "you cannot hand an item to yourself"
        if not colleague.allowed(stored.queue):
            return f"{to} does not work on {stored.queue}; hand it to a colleague of the same queue"
    return None


async def change(store: ItemStore, stored: StoredItem, settings: AdminSettings, action: Action, *, by: str,
                 to: str | None = None, note: str | None = None) -> Assignment:
    """Take, hand over or release, after checking it (AssignRefused with the reason)."""
    item_id = stored.item.item_id
    target = by if action == "take" else (to if action == "hand" else None)
    for _ in range(20):
        current, revision = await get(store, item_id)
        reason = refusal(current.holder, action, by, to, stored, settings)
        if reason is not None:
            raise AssignRefused(reason)
        step = Assigned(action=action, by=by, to=target, at=datetime.now(UTC), note=note or None)
        value = msgspec.json.encode(Assignment(item_id=item_id, history=(*current.history, step)))
        try:
            if revision:
                await store.kv.update(key(item_id), value, last=revision)
            else:
                await store.kv.create(key(item_id), value)
            return Assignment(item_id=item_id, history=(*current.history, step))
        except Exception as err:
            if not is_conflict(err):
                raise
    raise AssignRefused("too many changes at the same moment; reload and try again")


def colleagues(settings: AdminSettings, queue: str, me: str) -> list[str]:
    """The other admins who work on `queue` (superadmins included), by name."""
    return sorted(n for n, u in settings.users.items() if n != me and u.allowed(queue))

"""Stage changes: in order only, only by an admin of the item's queue, latest stage read back from NATS."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client as NATS

from admin.inbox import reroute
from admin.status import StatusRefused, change_stage, next_stage
from admin.store import ItemStore, StoredItem
from schemas import subjects
from schemas.routed import Dedup, RoutedItem
from schemas.status import STAGES, decode_status
from tests.admin.helpers import GAMBIR, item, publish, settings

USERS = settings().users


async def _stored(nc: NATS, *items: RoutedItem) -> tuple[ItemStore, list[StoredItem]]:
    await publish(nc, *items)
    store = await ItemStore.open(nc)
    return store, await store.queue(GAMBIR)


async def test_every_stage_in_order_then_no_further(provisioned: NATS) -> None:
    store, [stored] = await _stored(provisioned, item("s-1"))
    for info in STAGES[1:]:
        update = await change_stage(store, stored, info.stage, username="lurah-gambir", user=USERS["lurah-gambir"],
                                    note=f"ke {info.label}")
        assert update.stage == info.stage and update.queue == GAMBIR and update.by == "lurah-gambir"
    latest, _ = await store.latest_status(stored.item.item_id)
    assert latest is not None and latest.stage == "selesai" and latest.note == "ke Selesai"
    assert next_stage("selesai") is None
    with pytest.raises(StatusRefused, match="already at Selesai"):
        await change_stage(store, stored, "selesai", username="pusat", user=USERS["pusat"])
    raw = await provisioned.jetstream().get_last_msg(subjects.STREAM_STATUS, subjects.status(stored.item.item_id))
    assert decode_status(raw.data or b"").ref == stored.item.ref  # the app API reads this very format


async def test_a_skip_a_step_back_and_an_unknown_stage_are_refused(provisioned: NATS) -> None:
    store, [stored] = await _stored(provisioned, item("s-2"))
    lurah = USERS["lurah-gambir"]
    with pytest.raises(StatusRefused, match=r"Menunggu → Proses skips Koordinasi, Disposisi: the next stage is "
                                            r"Koordinasi"):
        await change_stage(store, stored, "proses", username="lurah-gambir", user=lurah)
    await change_stage(store, stored, "koordinasi", username="lurah-gambir", user=lurah)
    with pytest.raises(StatusRefused, match="only move forward"):
        await change_stage(store, stored, "menunggu", username="lurah-gambir", user=lurah)
    with pytest.raises(StatusRefused, match="unknown stage 'done'"):
        await change_stage(store, stored, "done", username="lurah-gambir", user=lurah)
    latest, _ = await store.latest_status(stored.item.item_id)
    assert latest is not None and latest.stage == "koordinasi"


async def test_an_admin_of_another_queue_is_refused(provisioned: NATS) -> None:
    store, [stored] = await _stored(provisioned, item("s-3"))
    with pytest.raises(StatusRefused, match=r"'lurah-kebon' is not allowed on queue 'kelurahan\.3171011001'"):
        await change_stage(store, stored, "koordinasi", username="lurah-kebon", user=USERS["lurah-kebon"])
    assert (await store.latest_status(stored.item.item_id))[0] is None


async def test_rerouted_and_duplicate_items_are_changed_elsewhere(provisioned: NATS) -> None:
    first = item("s-4")
    dup = item("s-5", kind="duplicate", dedup=Dedup(duplicate_of=first.item_id, duplicate_reason="same_text"))
    store, [stored_first, stored_dup] = await _stored(provisioned, first, dup)
    with pytest.raises(StatusRefused, match=f"duplicate notice of {first.item_id}"):
        await change_stage(store, stored_dup, "koordinasi", username="pusat", user=USERS["pusat"])
    moved = await reroute(store, stored_first, "triage", "bukan wilayah kami", by="lurah-gambir",
                          user=USERS["lurah-gambir"])
    with pytest.raises(StatusRefused, match="rerouted to triage"):
        await change_stage(store, stored_first, "koordinasi", username="lurah-gambir", user=USERS["lurah-gambir"])
    update = await change_stage(store, moved, "koordinasi", username="pusat", user=USERS["pusat"])
    assert update.queue == "triage"


async def test_two_admins_moving_at_once_cannot_both_win(provisioned: NATS) -> None:
    store, [stored] = await _stored(provisioned, item("s-6"))
    results = await asyncio.gather(
        change_stage(store, stored, "koordinasi", username="lurah-gambir", user=USERS["lurah-gambir"]),
        change_stage(store, stored, "koordinasi", username="pusat", user=USERS["pusat"]),
        return_exceptions=True)
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(wins) >= 1
    info = await provisioned.jetstream().stream_info(subjects.STREAM_STATUS)
    assert info.state.messages == 1  # never two "koordinasi" updates, whoever won

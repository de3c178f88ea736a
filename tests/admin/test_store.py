"""The item store on a real nats-server: batched reads of admin records, also from a bucket made without direct gets."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig

from admin.store import Handling, ItemState, ItemStore


async def test_states_read_a_bucket_made_without_direct_get(provisioned: NATS) -> None:
    js = provisioned.jetstream()
    kv = await js.create_key_value(KeyValueConfig(bucket="items_old", history=10, direct=False))
    done = ItemState(item_id="a" * 32, handled=(Handling(seq=7, queue="triage", action="ack", by="pusat",
                                                         at=datetime(2026, 11, 24, tzinfo=UTC)),))
    await kv.put(done.item_id, msgspec.json.encode(done))
    await kv.put("b" * 32, b"{}")
    await kv.delete("b" * 32)
    store = await ItemStore.open(provisioned, "items_old")
    states = await store.states([done.item_id, "b" * 32, "c" * 32])
    assert states[done.item_id] == done
    assert states["b" * 32] == ItemState(item_id="b" * 32)  # deleted: nothing done
    assert states["c" * 32] == ItemState(item_id="c" * 32)  # never written
    assert (await js.stream_info("KV_items_old")).config.allow_direct

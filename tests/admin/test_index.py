"""The console's queue index: each stored message is read once, open items are re-checked on every page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from nats.aio.client import Client as NATS

from admin.console import Console
from admin.store import Handling, ItemStore
from schemas.routed import Dedup
from tests.admin.conftest import login
from tests.admin.helpers import GAMBIR, item, publish

Factory = Callable[[], httpx.AsyncClient]


async def test_pages_read_only_new_messages_and_see_other_admins_acks(
        provisioned: NATS, console: Console, client_factory: Factory) -> None:
    first = [item(f"idx-{i}") for i in range(5)]
    seqs = await publish(provisioned, *first)
    client = client_factory()
    assert (await login(client, "lurah-gambir")).status_code == 303
    page = await client.get(f"/q/{GAMBIR}")
    assert "5 open of 5" in page.text
    assert console.index.read_total == 5

    later = [item(f"idx-{i}") for i in range(5, 8)]
    await publish(provisioned, *later)
    other = await ItemStore.open(provisioned)  # another console process or the inbox CLI
    await other.record(first[0].item_id, Handling(seq=seqs[0], queue=GAMBIR, action="ack", by="lurah-gambir",
                                                  at=datetime.now(UTC)))
    page = await client.get(f"/q/{GAMBIR}")
    assert console.index.read_total == 8  # the three new ones, not the whole queue again
    assert "7 open of 8" in page.text
    assert first[0].ref not in page.text and later[-1].ref in page.text
    assert page.text.index(later[-1].ref) < page.text.index(first[1].ref)  # newest first
    home = await client.get("/")
    assert "<strong>7</strong>" in home.text
    everything = await client.get(f"/q/{GAMBIR}?all=1")
    assert first[0].ref in everything.text


async def test_item_page_links_duplicates_and_the_incident_from_the_index(
        provisioned: NATS, client_factory: Factory) -> None:
    original = item("inc-0", dedup=Dedup(incident_id="INC-1", incident_size=1))
    repeat = item("inc-1", kind="duplicate", dedup=Dedup(duplicate_of=original.item_id, incident_id="INC-1"))
    witness = item("inc-2", dedup=Dedup(incident_id="INC-1", incident_size=2))
    unrelated = item("inc-3")
    seqs = await publish(provisioned, original, repeat, witness, unrelated)
    client = client_factory()
    assert (await login(client, "lurah-gambir")).status_code == 303
    page = await client.get(f"/item/{seqs[0]}")
    assert page.status_code == 200
    assert repeat.ref in page.text and witness.ref in page.text and unrelated.ref not in page.text
    dup_page = await client.get(f"/item/{seqs[1]}")
    assert original.ref in dup_page.text

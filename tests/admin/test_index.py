"""The console's queue index: each stored message is read once; what changes later is followed, not re-read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import msgspec
from nats.aio.client import Client as NATS

from admin.console import Console
from admin.store import Handling, ItemStore
from kanal import bus
from kanal.config import Config
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
    assert "5 terbuka dari 5" in page.text
    assert console.index.read_total == 5

    later = [item(f"idx-{i}") for i in range(5, 8)]
    await publish(provisioned, *later)
    other = await ItemStore.open(provisioned)  # another console process or the inbox CLI
    await other.record(first[0].item_id, Handling(seq=seqs[0], queue=GAMBIR, action="ack", by="lurah-gambir",
                                                  at=datetime.now(UTC)))
    page = await client.get(f"/q/{GAMBIR}")
    assert console.index.read_total == 8  # the three new ones, not the whole queue again
    assert "7 terbuka dari 8" in page.text
    assert first[0].ref not in page.text and later[-1].ref in page.text
    assert page.text.index(first[1].ref) < page.text.index(later[-1].ref)  # by age: the longest waiting first
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


async def test_a_message_that_is_not_a_routed_item_breaks_no_page(
        provisioned: NATS, client_factory: Factory) -> None:
    good = item("bad-0")
    await publish(provisioned, good)
    js = provisioned.jetstream()
    for junk in (b'{"item_id": ">"}', b'{"item_id": "abc", "v": 2}', b"not json"):
        await js.publish(f"kanal.admin.{GAMBIR}", junk)
    client = client_factory()
    assert (await login(client, "pusat")).status_code == 303
    assert (await client.get("/")).status_code == 200
    page = await client.get(f"/q/{GAMBIR}")
    assert page.status_code == 200 and "1 terbuka dari 1" in page.text and good.ref in page.text


async def test_purged_and_recreated_streams_are_followed(
        provisioned: NATS, config: Config, client_factory: Factory) -> None:

    seqs = await publish(provisioned, *(item(f"pg-{i}") for i in range(3)))
    client = client_factory()
    assert (await login(client, "lurah-gambir")).status_code == 303
    assert "3 terbuka dari 3" in (await client.get(f"/q/{GAMBIR}")).text
    js = provisioned.jetstream()
    await js.delete_msg("KANAL_ADMIN", seqs[1])  # by hand, in the middle
    assert "2 terbuka dari 2" in (await client.get(f"/q/{GAMBIR}")).text
    await js.purge_stream("KANAL_ADMIN")
    assert "0 terbuka dari 0" in (await client.get(f"/q/{GAMBIR}")).text
    await js.delete_stream("KANAL_ADMIN")
    await bus.provision(js, config)
    fresh = item("pg-new")
    await publish(provisioned, fresh)
    page = await client.get(f"/q/{GAMBIR}")
    assert "1 terbuka dari 1" in page.text and fresh.ref in page.text


async def test_stage_and_desk_changes_of_other_processes_are_followed_not_reread(
        provisioned: NATS, console: Console, client_factory: Factory) -> None:
    from admin import assign
    from admin.settings import AdminUser
    from admin.status import change_stage
    from kanal.settings_types import Secret

    items = [item(f"follow-{i}") for i in range(4)]
    seqs = await publish(provisioned, *items)
    client = client_factory()
    await login(client, "lurah-gambir")
    await client.get(f"/q/{GAMBIR}")
    before = console.index.changes_read
    other = await ItemStore.open(provisioned)  # another console replica or the inbox CLI
    stored = await other.get(seqs[1])
    boss = AdminUser(password_hash=Secret("x"), superadmin=True)
    await change_stage(other, stored, "koordinasi", username="pusat", user=boss)
    await assign.change(other, stored, console.s, "take", by="lurah-gambir")
    page = await client.get(f"/q/{GAMBIR}?stage=koordinasi")
    assert items[1].ref in page.text and items[0].ref not in page.text
    assert "ditangani lurah-gambir" in page.text
    assert console.index.changes_read - before == 2  # the two changes, not the four open items again
    entry = console.index.open[seqs[1]]
    assert entry.stage == "koordinasi" and entry.assignee == "lurah-gambir"


async def test_a_follow_up_is_shown_on_its_report_not_as_work_of_its_own(
        provisioned: NATS, client_factory: Factory) -> None:
    """As `kanal inbox` attaches it: the queue list, its counts and the queue overview count the report once."""
    report = item("fu-report")
    added = msgspec.structs.replace(item("fu-added", kind="duplicate"), follow_up_of=report.item_id)
    elsewhere = msgspec.structs.replace(item("fu-orphan", kind="duplicate"), follow_up_of=item("fu-gone").item_id)
    await publish(provisioned, report, added, elsewhere)
    client = client_factory()
    assert (await login(client, "lurah-gambir")).status_code == 303
    listing = (await client.get(f"/q/{GAMBIR}")).text
    assert "2 terbuka dari 2" in listing and report.ref in listing and elsewhere.ref in listing
    assert added.ref not in listing
    queues = (await client.get("/")).text
    row = queues.split(f'href="/q/{GAMBIR}"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="open" data-label="Terbuka"><strong>2</strong></td>' in row

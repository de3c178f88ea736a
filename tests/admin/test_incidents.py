"""Incidents stay whole: routed by the real router, the first report belongs too, and every member shows the
live count and all the others, across queues, in `kanal inbox` and on the console's item page."""

from __future__ import annotations

from pathlib import Path

import httpx
from nats.aio.client import Client as NATS

from admin.console import build
from admin.inbox import Inbox, reroute
from admin.render import entry_json, entry_text
from admin.store import ItemStore
from kanal.config import Config
from kanal.incidents import members
from schemas import Location, Reporter
from tests.admin.conftest import login
from tests.admin.helpers import GAMBIR, settings
from tests.factories import envelope, later
from tests.router.fixtures import write_rules
from tests.router.helpers import drain, make_router, publish, routed

ALPHA = "kelurahan.3199011001"


def _witness(n: int, text: str) -> object:
    """A report of the flood at the same spot (within the incident radius), each from another citizen."""
    return envelope(f"banjir-{n}", channel="telegram", instance="tg-1", account="kanalbot", kind="direct_message",
                    text=text, reporter=Reporter(user_id=f"90{n}"), received_at=later(n),
                    location=Location(lat=-6.1950 + n * 0.0001, lon=106.8050, source="gps"))


async def test_every_member_of_an_incident_shows_all_of_them_across_queues(
        provisioned: NATS, config: Config, tmp_path: Path) -> None:
    router = await make_router(provisioned, config, write_rules(tmp_path))
    first, second, third = (_witness(1, "Banjir setinggi lutut di Jalan Alpha Raya, air masuk rumah warga"),
                            _witness(2, "Banjir di Jalan Alpha Raya setinggi lutut, air sudah masuk rumah"),
                            _witness(3, "Air banjir masuk rumah warga di Jalan Alpha Raya, setinggi lutut"))
    for env in (first, second, third):  # one at a time: each is routed knowing the ones before
        await publish(provisioned, env)  # type: ignore[arg-type]
        await drain(router)
    items = {i.item_id: i for i in await routed(provisioned)}
    assert items[first.id].dedup.incident_id is None  # type: ignore[attr-defined]
    assert {items[e.id].dedup.incident_id for e in (second, third)} == {first.id}  # type: ignore[attr-defined]
    # the router recorded all three as the incident's members, the first one included
    recorded = await members(provisioned, [first.id])  # type: ignore[attr-defined]
    assert {m.id for m in recorded[first.id]} == {first.id, second.id, third.id}  # type: ignore[attr-defined]

    store = await ItemStore.open(provisioned)
    boss = settings().users["pusat"]
    box = await Inbox(store, ALPHA, "pusat", boss).open()
    try:
        moved_entry = next(e for e in await box.items() if e.stored.item.item_id == third.id)  # type: ignore[attr-defined]
        await reroute(store, moved_entry.stored, GAMBIR, "the flood reaches Gambir's side", by="pusat", user=boss)
        entries = {e.stored.item.item_id: e for e in await box.items()}
    finally:
        await box.close()
    head = entries[first.id]  # type: ignore[attr-defined]
    assert head.incident is not None and head.incident.id == first.id  # type: ignore[attr-defined]
    where = {m.ref: m.queue for m in head.incident.members}
    assert where == {first.ref: ALPHA, second.ref: ALPHA, third.ref: GAMBIR}  # type: ignore[attr-defined]
    text = entry_text(head)
    assert f"incident {first.id}: 3 reports of this: " in text  # type: ignore[attr-defined]
    assert f"{third.ref} ({GAMBIR})" in text and f"{second.ref} ({ALPHA})" in text  # type: ignore[attr-defined]
    shown = entry_json(head, (await store.states([first.id]))[first.id])  # type: ignore[attr-defined]
    assert shown["incident"] == first.id  # type: ignore[attr-defined]
    assert {m["ref"] for m in shown["incident_members"]} == {first.ref, second.ref, third.ref}  # type: ignore[attr-defined]

    console = await build(config, settings(), provisioned)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=console.app()),
                                 base_url="http://testserver") as client:
        await login(client, "pusat")
        page = (await client.get(f"/item/{head.stored.seq}")).text
        assert "3 laporan untuk kejadian ini" in page, page
        assert f'href="/incident/{first.id}"' in page  # type: ignore[attr-defined]
        members_html = page.split('id="incident-members"')[1].split("</ul>")[0]
        assert second.ref in members_html and third.ref in members_html  # type: ignore[attr-defined]
        assert first.ref not in members_html  # type: ignore[attr-defined]
        incident_page = (await client.get(f"/incident/{first.id}")).text  # type: ignore[attr-defined]
        assert "3 laporan untuk kejadian ini" in incident_page
        await client.post("/logout")
        await login(client, "lurah-gambir")  # works on Gambir only: sees the moved member, told of the others
        moved = next(e for e in await store.queue(GAMBIR) if e.item.item_id == third.id)  # type: ignore[attr-defined]
        page = (await client.get(f"/item/{moved.seq}")).text
        assert "3 laporan untuk kejadian ini" in page and "2 di antaranya di antrean yang bukan wewenang Anda" in page

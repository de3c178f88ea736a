"""The overview, an incident's page, and merge/split with the merged reporter told the joined report's stage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
from nats.aio.client import Client as NATS

from admin.console import Console
from kanal.localtime import WIB
from schemas import subjects
from schemas.routed import Dedup
from schemas.status import decode_status
from tests.admin.conftest import csrf_of, geotagged, login
from tests.admin.helpers import KEBON_KELAPA, item, publish

Factory = Callable[[], httpx.AsyncClient]


async def test_overview_counts_charts_and_maps_the_scope(provisioned: NATS, client_factory: Factory) -> None:
    now = datetime.now(UTC)
    items = [msgspec.structs.replace(item(f"ov-{i}", text=f"Laporan {i}", **geotagged()),
                                     routed_at=now - timedelta(days=i % 3, hours=30 if i == 0 else 0))
             for i in range(6)]
    other = item("ov-kebon", KEBON_KELAPA, text="Laporan Kebon Kelapa")
    await publish(provisioned, *items, other)
    client = client_factory()
    await login(client, "lurah-gambir")
    page = (await client.get("/overview")).text
    assert 'id="open-total"><strong>6</strong>' in page  # Kebon Kelapa's report is not in this scope
    assert '<span class="late">' in page.split('id="late-total"')[1][:80]
    assert page.count('class="day"') == 30
    today = now.astimezone(WIB).date().isoformat()
    assert f'data-day="{today}" data-count="1"' in page  # of the six, only ov-3 was routed today
    assert 'class="cluster" data-count="6"' in page  # six reports on the same spot: one circle with 6
    assert "Ikhtisar" in page and "Peta laporan terbuka" in page


async def test_incident_page_lists_members_across_queues(provisioned: NATS, client_factory: Factory) -> None:
    inc = Dedup(incident_id="inc-banjir", incident_size=2)
    a = item("inc-a", text="Banjir di Jl. Kebon Sirih", dedup=inc)
    b = item("inc-b", KEBON_KELAPA, text="Banjir juga di sini", dedup=inc)
    c = item("inc-c", text="Air masuk rumah", dedup=inc)
    await publish(provisioned, a, b, c)
    boss, lurah = client_factory(), client_factory()
    await login(boss, "pusat")
    await login(lurah, "lurah-gambir")
    everyone = (await boss.get("/incident/inc-banjir")).text
    assert "3 laporan untuk kejadian ini" in everyone  # live count, not the router's 2 at routing time
    assert a.ref in everyone and b.ref in everyone and c.ref in everyone
    mine = (await lurah.get("/incident/inc-banjir")).text
    assert b.ref not in mine and "1 di antaranya di antrean yang bukan wewenang Anda" in mine
    assert (await lurah.get("/incident/nothing")).status_code == 404


async def test_merge_tells_the_merged_reporter_and_split_undoes_it(provisioned: NATS, console: Console,
                                                                   client_factory: Factory) -> None:
    first = item("m-first", text="Pohon tumbang menutup jalan", **geotagged())
    again = item("m-again", text="Ada pohon tumbang di jalan dekat Monas", **geotagged())
    first_seq, again_seq = await publish(provisioned, first, again)
    client = client_factory()
    await login(client, "lurah-gambir")
    page = (await client.get(f"/item/{again_seq}")).text
    csrf = csrf_of(page)
    refused = await client.post(f"/item/{again_seq}/merge", data={"csrf": csrf, "target": first.ref, "why": ""},
                                follow_redirects=True)
    assert "tulis mengapa keduanya sama" in refused.text
    merged = await client.post(f"/item/{again_seq}/merge", data={"csrf": csrf, "target": first.ref,
                                                                 "why": "pohon yang sama"}, follow_redirects=True)
    assert f"Digabung ke {first.ref}" in merged.text and 'id="merged-into"' in merged.text
    assert 'id="due"' not in merged.text  # a merged report has no deadline of its own

    target_page = (await client.get(f"/item/{first_seq}")).text
    assert again.ref in target_page.split('id="absorbed"')[1][:200]
    for stage in ("koordinasi", "disposisi"):
        moved = await client.post(f"/item/{first_seq}/stage", data={"csrf": csrf, "stage": stage},
                                  follow_redirects=True)
        assert "Tahap diubah" in moved.text
    js = provisioned.jetstream()
    told = decode_status((await js.get_last_msg(subjects.STREAM_STATUS, subjects.status(again.item_id))).data)
    assert told.stage == "disposisi" and first.ref in (told.note or "")  # the merged reporter hears it
    own = await client.post(f"/item/{again_seq}/stage", data={"csrf": csrf, "stage": "proses"},
                            follow_redirects=True)
    assert f"laporan ini digabung ke {first.ref}" in own.text  # its stage follows the joined report

    split = await client.post(f"/item/{again_seq}/split", data={"csrf": csrf, "why": "ternyata dua pohon"},
                              follow_redirects=True)
    assert "Penggabungan dibatalkan" in split.text and 'id="merged-into"' not in split.text
    history = split.text.split('id="merge-history"')[1]
    assert "lurah-gambir membatalkan penggabungan" in history and "ternyata dua pohon" in history
    assert "pohon yang sama" in history
    await client.post(f"/item/{first_seq}/stage", data={"csrf": csrf, "stage": "proses"})
    told = decode_status((await js.get_last_msg(subjects.STREAM_STATUS, subjects.status(again.item_id))).data)
    assert told.stage == "disposisi"  # split: no longer follows

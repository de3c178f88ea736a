"""The queue page's filters, the «Terlambat» mark, the overdue metric and assignment, through the console's app."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
from nats.aio.client import Client as NATS

from admin.console import Console
from tests.admin.conftest import csrf_of, login
from tests.admin.helpers import GAMBIR, item, publish

Factory = Callable[[], httpx.AsyncClient]


def routed_ago(external_id: str, hours: float, **fields: object) -> object:
    """An item the router delivered `hours` ago (its routing time is what the deadline counts from)."""
    return msgspec.structs.replace(item(external_id, **fields), routed_at=datetime.now(UTC) - timedelta(hours=hours))


async def test_filters_are_bookmarkable_and_late_items_are_marked(provisioned: NATS, client_factory: Factory) -> None:
    late = routed_ago("find-late", 30, text="Banjir setinggi lutut di Jl. Kebon Sirih")
    fresh = routed_ago("find-fresh", 1, text="Lampu jalan mati di Jl. Majapahit")
    await publish(provisioned, late, fresh)  # type: ignore[arg-type]
    client = client_factory()
    await login(client, "lurah-gambir")

    page = (await client.get(f"/q/{GAMBIR}")).text
    assert "<h1>Kelurahan Gambir <span" in page  # named from the boundaries file (the test has no code list)
    rows = page.split('<tr data-item="')[1:]
    assert late.item_id in rows[0] and "Terlambat" in rows[0]  # oldest first, marked late
    assert fresh.item_id in rows[1] and "Terlambat" not in rows[1]
    assert "30 jam yang lalu" in rows[0] and "WIB" in rows[0]

    only_late = (await client.get(f"/q/{GAMBIR}?overdue=1")).text
    assert late.ref in only_late and fresh.ref not in only_late
    words = (await client.get(f"/q/{GAMBIR}", params={"q": "lampu MATI"})).text
    assert fresh.ref in words and late.ref not in words and "1 ditemukan" in words
    assert 'value="lampu MATI"' in words  # the form keeps what was asked
    jalan = routed_ago("find-cat", 2, text="Trotoar rusak", category="jalan")
    await publish(provisioned, jalan)  # type: ignore[arg-type]
    by_category = (await client.get(f"/q/{GAMBIR}?category=jalan")).text
    assert jalan.ref in by_category and late.ref not in by_category  # type: ignore[attr-defined]
    assert '<option value="jalan"' in by_category
    empty = (await client.get(f"/q/{GAMBIR}?stage=proses")).text
    assert "Tidak ada yang cocok" in empty
    wrong = (await client.get(f"/q/{GAMBIR}?from=kemarin")).text
    assert "YYYY-MM-DD" in wrong and late.ref in wrong  # a bad filter is said, the list still shows

    home = (await client.get("/")).text
    assert "Terlambat: 1" in home
    metrics = (await client_factory().get("/metrics")).text
    assert f'kanal_admin_overdue{{queue="{GAMBIR}",stage="menunggu"}} 1.0' in metrics
    assert f'kanal_admin_open{{queue="{GAMBIR}"}} 3.0' in metrics


async def test_take_hand_over_and_release_with_history(provisioned: NATS, console: Console,
                                                       client_factory: Factory) -> None:
    (seq,) = await publish(provisioned, item("assign-1", text="Sampah menumpuk di pasar"))
    lurah, boss = client_factory(), client_factory()
    await login(lurah, "lurah-gambir")
    await login(boss, "pusat")

    page = (await lurah.get(f"/item/{seq}")).text
    assert "Saya tangani" in page
    took = await lurah.post(f"/item/{seq}/take", data={"csrf": csrf_of(page)}, follow_redirects=True)
    assert "Anda sekarang menangani" in took.text and "Ditangani oleh lurah-gambir" in took.text
    mine = (await lurah.get("/mine")).text
    assert "Sampah menumpuk" in mine

    other = (await boss.get(f"/item/{seq}")).text
    refused = await boss.post(f"/item/{seq}/take", data={"csrf": csrf_of(other)}, follow_redirects=True)
    assert "lurah-gambir sudah menangani laporan ini" in refused.text

    wrong = await lurah.post(f"/item/{seq}/hand", data={"csrf": csrf_of(took.text), "to": "lurah-kebon"},
                             follow_redirects=True)
    assert "tidak bertugas di kelurahan.3171011001" in wrong.text
    handed = await lurah.post(f"/item/{seq}/hand", data={"csrf": csrf_of(took.text), "to": "pusat",
                                                         "note": "perlu keputusan kota"}, follow_redirects=True)
    assert "Diserahkan kepada pusat" in handed.text
    assert "Sampah menumpuk" in (await boss.get("/mine")).text
    assert "Sampah menumpuk" not in (await lurah.get("/mine")).text
    released = await boss.post(f"/item/{seq}/release", data={"csrf": csrf_of(other)}, follow_redirects=True)
    assert "Dilepas" in released.text
    history = released.text.split('id="assign-history"')[1]
    assert "pusat melepaskannya" in history and "lurah-gambir menyerahkannya kepada pusat" in history \
        and "lurah-gambir menanganinya" in history and "perlu keputusan kota" in history


async def test_english_is_a_per_user_choice_kept_for_the_next_sign_in(provisioned: NATS,
                                                                      client_factory: Factory) -> None:
    first = client_factory()
    await login(first, "lurah-gambir")
    home = (await first.get("/")).text
    assert "Antrean" in home and 'lang="id"' in home
    await first.post("/lang", data={"csrf": csrf_of(home), "lang": "en", "back": "/"})
    assert 'lang="en"' in (await first.get("/")).text
    later = client_factory()  # another browser, later
    await login(later, "lurah-gambir")
    assert "Queues" in (await later.get("/")).text
    other = client_factory()  # a colleague keeps Indonesian
    await login(other, "lurah-kebon")
    assert 'lang="id"' in (await other.get("/")).text

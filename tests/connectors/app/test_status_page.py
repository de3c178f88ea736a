"""The citizen's status page GET /laporan/<ref>: the API's look-up as Indonesian HTML, nothing personal, limited."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from schemas import encode, subjects
from schemas.status import StatusUpdate
from tests.connectors.app.photos import MONAS, jpeg
from tests.connectors.app.test_api import _now_local, _submit, api
from tests.factories import record_reference

PHONE, NIK, MAIL = "0812 3456 7890", "3171010101010001", "budi.santoso@example.id"


def code_list(tmp_path: Path) -> str:
    path = tmp_path / "wilayah.csv"
    path.write_text("kode,level,nama,parent_kode\n3171,kota,Jakarta Pusat,31\n317101,kecamatan,Gambir,3171\n"
                    "3171011001,kelurahan,Gambir,317101\n", encoding="utf-8")
    return str(path)


async def test_page_shows_stage_history_and_kelurahan_and_nothing_personal(nats_url: str, tmp_path: Path) -> None:
    async with api(nats_url, wilayah=code_list(tmp_path)) as (h, client):
        response = await _submit(client, [("a.jpg", jpeg(_now_local(), MONAS), "image/jpeg")], name="Budi Santoso",
                                 phone=PHONE, nik=NIK, email=MAIL, visibility="private",
                                 description=f"Jalan berlubang, hubungi saya di {PHONE} atau {MAIL}")
        assert response.status_code == 201, response.text
        ref = response.json()["ref"]
        (env,) = await h.published()
        await record_reference(h.nc.jetstream(), env)  # as the router does once it has routed the report
        waiting = await client.get(f"/laporan/{ref}")
        assert waiting.status_code == 200 and waiting.headers["content-type"].startswith("text/html")
        assert "Tahap sekarang" in waiting.text and "Menunggu" in waiting.text and "WIB" in waiting.text

        steps = [("koordinasi", datetime(2026, 11, 25, 2, 30, tzinfo=UTC)),
                 ("disposisi", datetime(2026, 11, 26, 9, 5, tzinfo=UTC))]
        for stage, at in steps:
            update = StatusUpdate(item_id=env.id, ref=ref, stage=stage, queue="kelurahan.3171011001",  # type: ignore[arg-type]
                                  by="lurah-gambir", at=at, note=f"sudah ditelepon ke {PHONE}, NIK {NIK}")
            await h.nc.jetstream().publish(subjects.status(env.id), encode(update))
        page = await client.get(f"/laporan/{ref.lower()}")
        assert page.status_code == 200
        text = page.text
        assert "Disposisi" in text and "Kelurahan: <strong>Gambir</strong>" in text
        assert "2026-11-25 09:30 WIB" in text and "2026-11-26 16:05 WIB" in text  # each stage with its date
        # the API says the same stage, from the same look-up
        assert (await client.get(f"/api/v1/reports/{ref}")).json()["stage"] == "disposisi"
        for personal in ("Budi", "Santoso", "3456", "7890", NIK, "budi.santoso", "example.id", "lurah-gambir",
                         "ditelepon", "berlubang"):
            assert personal not in text, f"{personal!r} is on the public page"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"


async def test_unknown_reference_is_just_not_found(nats_url: str) -> None:
    async with api(nats_url) as (_h, client):
        for ref in ("KNL-0000-0000-0000", "nonsense", "<b>x<b>-<script>alert(1)"):
            page = await client.get(f"/laporan/{ref}")
            assert page.status_code == 404 and "Laporan tidak ditemukan" in page.text
            assert "Tahap sekarang" not in page.text and "<script>alert" not in page.text and "<b>x" not in page.text


async def test_page_views_are_rate_limited_per_address(nats_url: str) -> None:
    async with api(nats_url, status_page_limit=3) as (_h, client):
        answers = [(await client.get("/laporan/KNL-0000-0000-0000")).status_code for _ in range(4)]
        assert answers == [404, 404, 404, 429]
        limited = await client.get("/laporan/KNL-0000-0000-0001")
        assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
        assert "Terlalu banyak permintaan" in limited.text


async def test_citizen_opens_the_page_on_a_phone(nats_url: str, tmp_path: Path) -> None:
    from tests.admin.test_console_office_browser import browser_on, no_sideways_scroll, shots_dir

    async with api(nats_url, wilayah=code_list(tmp_path)) as (h, client):
        response = await _submit(client, [("a.jpg", jpeg(_now_local(), MONAS), "image/jpeg")], name="Budi Santoso",
                                 phone=PHONE, visibility="public")
        ref = response.json()["ref"]
        (env,) = await h.published()
        await record_reference(h.nc.jetstream(), env)
        update = StatusUpdate(item_id=env.id, ref=ref, stage="koordinasi", queue="kelurahan.3171011001",
                              by="lurah-gambir", at=datetime.now(UTC), note=f"ditelepon ke {PHONE}")
        await h.nc.jetstream().publish(subjects.status(env.id), encode(update))
        async with browser_on(h.instance.app()) as (browser, base):
            page = await browser.new_page(viewport={"width": 360, "height": 740}, is_mobile=True)
            await page.goto(f"{base}/laporan/{ref}")
            assert await page.locator("html").get_attribute("lang") == "id"
            assert "Koordinasi" in await page.locator("#stage").inner_text()
            assert "Gambir" in await page.locator("#place").inner_text()
            done = await page.locator("#history li.done").evaluate_all("ls => ls.map(l => l.dataset.stage)")
            assert done == ["menunggu", "koordinasi"]
            assert "WIB" in await page.locator("#history").inner_text()
            body = await page.locator("body").inner_text()
            assert "Budi" not in body and "7890" not in body and "ditelepon" not in body
            await no_sideways_scroll(page)
            await page.screenshot(path=str(shots_dir(tmp_path) / "status-page.png"), full_page=True)
            await page.goto(f"{base}/laporan/KNL-0000-0000-0000")
            assert "Laporan tidak ditemukan" in await page.locator("h1").inner_text()

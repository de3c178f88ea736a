"""The officer's day in headless Chromium: Indonesian pages, search and every filter, a late item, take and hand
over, the overview's chart and map, merge and undo, and a 360 px phone screen. Screenshots go to
$KANAL_SCREENSHOTS (default: the test's temp folder); docs/img/ holds the ones shown in docs/admin.md.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from nats.aio.client import Client as NATS

from admin.console import Console
from kanal import http
from kanal.localtime import WIB
from schemas.envelope import Envelope
from schemas.routed import Dedup, RoutedItem
from tests.admin.conftest import geotagged
from tests.admin.helpers import GAMBIR, PASSWORD, item, publish

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def shots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("KANAL_SCREENSHOTS", str(tmp_path / "screens")))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@asynccontextmanager
async def browser_on(app: Any) -> AsyncIterator[tuple[Any, str]]:
    """Chromium and the app served on a free port."""
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} not installed: run scripts/system-deps.sh (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.async_api", reason="playwright (PyPI) is not installed")
    server, task = await http.start(app, "127.0.0.1", 0)
    try:
        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                yield browser, f"http://127.0.0.1:{http.bound_port(server)}"
            finally:
                await browser.close()
    finally:
        await http.stop(server, task)


async def sign_in(page: Any, base: str, user: str) -> None:
    await page.goto(f"{base}/login")
    await page.get_by_label("Nama pengguna").fill(user)
    await page.get_by_label("Kata sandi").fill(PASSWORD)
    await page.keyboard.press("Enter")  # the keyboard alone signs in
    await page.wait_for_url(f"{base}/")


def aged(external_id: str, hours: float, channel: str = "twilio", **fields: Any) -> RoutedItem:
    it = item(external_id, **fields)
    env: Envelope = msgspec.structs.replace(it.envelope, channel=channel)
    return msgspec.structs.replace(it, envelope=env, routed_at=datetime.now(UTC) - timedelta(hours=hours))


async def no_sideways_scroll(page: Any) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 362, f"the page is {width} px wide on a 360 px screen"


async def test_search_filters_late_item_take_and_hand_over(provisioned: NATS, console: Console,
                                                           tmp_path: Path) -> None:
    shots = shots_dir(tmp_path)
    late = aged("b-late", 30, text="Banjir setinggi lutut di Jl. Kebon Sirih sejak subuh", **geotagged())
    mail = aged("b-mail", 50, channel="email", text="Sampah menumpuk di pasar Gambir, bau sekali")
    fresh = aged("b-fresh", 2, text="Lampu jalan mati di Jl. Majapahit, gelap sekali malam hari")
    late_seq, _, _ = await publish(provisioned, late, mail, fresh)
    async with browser_on(console.app()) as (browser, base):
        page = await browser.new_page(viewport={"width": 1200, "height": 900})
        await sign_in(page, base, "lurah-gambir")
        assert await page.locator("html").get_attribute("lang") == "id"
        row = page.locator(f"tr[data-queue='{GAMBIR}']")
        assert "Kelurahan Gambir" in await row.inner_text()
        assert "Terlambat: 2" in await row.locator("td.overdue").inner_text()
        await page.screenshot(path=str(shots / "queues.png"), full_page=True)

        await row.locator("td.report a").click()
        await page.wait_for_url(f"{base}/q/{GAMBIR}")
        rows = page.locator("tr[data-item]")
        assert await rows.count() == 3
        assert "Terlambat" in await rows.nth(0).inner_text()  # oldest first: 50 h ago
        assert "Terlambat" in await page.locator(f"tr[data-item='{late.item_id}']").inner_text()
        assert "Terlambat" not in await page.locator(f"tr[data-item='{fresh.item_id}']").inner_text()
        assert "jam yang lalu" in await rows.nth(1).inner_text()
        await page.screenshot(path=str(shots / "queue-late.png"), full_page=True)

        async def find(**fields: str) -> set[str]:
            await page.goto(f"{base}/q/{GAMBIR}")
            for label, value in fields.items():
                control = page.get_by_label(label, exact=True)
                if label == "Hanya yang terlambat":
                    await control.check()
                elif await control.evaluate("e => e.tagName") == "SELECT":
                    await control.select_option(value)
                else:
                    await control.fill(value)
            await page.get_by_role("button", name="Cari", exact=True).click()
            await page.wait_for_load_state()
            return set(await page.locator("tr[data-item]").evaluate_all("rs => rs.map(r => r.dataset.item)"))

        await page.goto(f"{base}/q/{GAMBIR}")  # keyboard only: Tab to the search field, type, Enter
        for _ in range(20):
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement.name") == "q":
                break
        else:
            raise AssertionError("the search field cannot be reached with Tab")
        outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"  # focus is visible
        await page.keyboard.type("banjir")
        await page.keyboard.press("Enter")
        await page.wait_for_url("**q=banjir**")
        assert await page.locator("tr[data-item]").count() == 1
        assert await find(**{"Cari teks": "LAMPU mati"}) == {fresh.item_id}
        assert "q=LAMPU+mati" in page.url  # bookmarkable
        await page.screenshot(path=str(shots / "queue-search.png"), full_page=True)
        assert await find(Kanal="email") == {mail.item_id}
        assert await find(**{"Hanya yang terlambat": "1"}) == {late.item_id, mail.item_id}
        assert await find(Tahap="proses") == set()
        # the late item's WIB day; the 50-hour-old one shares it when the test runs between 02:00 and 06:00 WIB
        day = late.routed_at.astimezone(WIB).date()
        on_day = {it.item_id for it in (late, mail, fresh) if it.routed_at.astimezone(WIB).date() == day}
        yesterday = day.isoformat()
        assert fresh.item_id not in on_day  # 28 hours apart: never the same day
        assert await find(**{"Dari (WIB)": yesterday, "Sampai (WIB)": yesterday}) == on_day
        assert f"from={yesterday}" in page.url and f"to={yesterday}" in page.url
        again = await browser.new_page()  # the same address in a new tab gives the same list
        await again.context.add_cookies(await page.context.cookies())
        await again.goto(page.url)
        assert await again.locator("tr[data-item]").count() == len(on_day)
        await again.close()

        await page.goto(f"{base}/q/{GAMBIR}?overdue=1")
        await page.click(f"tr[data-item='{late.item_id}'] td.report a")
        assert await page.locator("#late").inner_text() == "Terlambat"
        await page.get_by_role("button", name="Saya tangani").click()
        await page.wait_for_selector("[role=status]:has-text('Anda sekarang menangani')")
        assert "Ditangani oleh lurah-gambir" in await page.locator("#holder").inner_text()
        await page.goto(f"{base}/mine")
        assert await page.locator("tr[data-item]").count() == 1
        await page.go_back()
        await page.get_by_label("Serahkan kepada").select_option("pusat")
        await page.locator("#assignment input[name=note]").fill("perlu alat berat dari Sudin SDA")
        await page.get_by_role("button", name="Serahkan", exact=True).click()
        await page.wait_for_selector("[role=status]:has-text('Diserahkan kepada pusat')")
        await page.locator("#assign-history summary").click()
        history = await page.locator("#assign-history").inner_text()
        assert "lurah-gambir menyerahkannya kepada pusat" in history and "WIB" in history
        await page.screenshot(path=str(shots / "item-handed.png"), full_page=True)

        phone = await browser.new_page(viewport={"width": 360, "height": 780}, is_mobile=True)
        await phone.context.add_cookies(await page.context.cookies())
        for path in ("/", f"/q/{GAMBIR}", "/overview", "/mine"):
            await phone.goto(base + path)
            await no_sideways_scroll(phone)
        await phone.goto(f"{base}/q/{GAMBIR}")
        await phone.screenshot(path=str(shots / "phone-queue.png"), full_page=True)
        await phone.goto(f"{base}/item/{late_seq}")
        await no_sideways_scroll(phone)
        await phone.screenshot(path=str(shots / "phone-item.png"), full_page=True)

        await page.get_by_label("Bahasa").first.select_option("en")
        await page.get_by_role("button", name="Ganti").click()
        await page.wait_for_selector("text=Handled by pusat")
        assert await page.locator("html").get_attribute("lang") == "en"


async def test_overview_chart_map_and_merge_with_undo(provisioned: NATS, console: Console, tmp_path: Path) -> None:
    shots = shots_dir(tmp_path)
    inc = Dedup(incident_id="inc-monas", incident_size=2)
    reports = [aged(f"o-{i}", 24 * (i % 9) + i, text=f"Trotoar rusak nomor {i} di sekitar Monas", **geotagged())
               for i in range(12)]
    first = aged("o-first", 3, text="Pohon tumbang menutup Jl. Medan Merdeka Barat", dedup=inc, **geotagged())
    again = aged("o-again", 1, channel="email", text="Ada pohon besar tumbang di jalan depan Monas", dedup=inc)
    *_, first_seq, again_seq = await publish(provisioned, *reports, first, again)
    async with browser_on(console.app()) as (browser, base):
        page = await browser.new_page(viewport={"width": 1200, "height": 900})
        await sign_in(page, base, "lurah-gambir")
        await page.get_by_role("link", name="Ikhtisar").click()
        await page.wait_for_url(f"{base}/overview")
        assert await page.locator("#open-total").inner_text() == "14"
        assert await page.locator("svg.chart rect.day").count() == 30
        drawn = await page.locator("svg.chart rect.day").evaluate_all(
            "rs => rs.reduce((n, r) => n + Number(r.dataset.count), 0)")
        assert drawn == 14
        assert await page.locator("svg.overview-map path").count() == 2  # the two test kelurahan
        assert await page.locator("svg.overview-map g.cluster").count() >= 1
        assert "email" in await page.locator("#by-channel").inner_text()
        await page.screenshot(path=str(shots / "overview.png"), full_page=True)

        await page.goto(f"{base}/item/{first_seq}")
        await page.get_by_role("link", name="semua laporan kejadian ini").click()
        await page.wait_for_url(f"{base}/incident/inc-monas")
        assert "2 laporan untuk kejadian ini" in await page.locator("#incident-count").inner_text()
        await page.screenshot(path=str(shots / "incident.png"), full_page=True)

        await page.goto(f"{base}/item/{again_seq}")
        await page.get_by_label("laporan yang diduplikasinya (nomor laporan atau #nomor)").fill(first.ref)
        await page.get_by_label("mengapa keduanya sama", exact=True).fill("pohon yang sama, dua pelapor")
        await page.get_by_role("button", name="Gabungkan").click()
        await page.wait_for_selector(f"[role=status]:has-text('Digabung ke {first.ref}')")
        assert first.ref in await page.locator("#merged-into").inner_text()
        await page.screenshot(path=str(shots / "merged.png"), full_page=True)
        await page.locator("#merged-into a").click()
        await page.wait_for_url(f"{base}/item/{first_seq}")
        assert again.ref in await page.locator("#absorbed").inner_text()

        await page.goto(f"{base}/item/{again_seq}")
        await page.get_by_label("mengapa keduanya tidak sama").fill("ternyata dua pohon berbeda")
        await page.get_by_role("button", name="Batalkan penggabungan").click()
        await page.wait_for_selector("[role=status]:has-text('Penggabungan dibatalkan')")
        assert await page.locator("#merged-into").count() == 0
        await page.locator("#merge-history summary").click()
        history = await page.locator("#merge-history").inner_text()
        assert "membatalkan penggabungan" in history and "menggabungkannya ke" in history

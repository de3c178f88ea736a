"""The console in headless Chromium (Debian's /usr/bin/chromium; no browser is ever downloaded)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from admin.console import Console
from kanal import http
from schemas.routed import Dedup
from tests.admin.conftest import geotagged, stored_photo
from tests.admin.helpers import GAMBIR, PASSWORD, item, publish

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


async def test_admin_logs_in_opens_an_item_changes_stage_and_reroutes(
        provisioned: NATS, console: Console, tmp_path: Path) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} not installed: run scripts/system-deps.sh (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.async_api", reason="playwright (PyPI) is not installed")

    photo = await stored_photo(provisioned)
    report = item("web-1", text="Jalan berlubang besar di depan Monas, sudah dua minggu, motor sering jatuh",
                  **geotagged(attachments=(photo,)), dedup=Dedup(incident_id="inc-monas", incident_size=3))
    again = item("web-2", kind="duplicate", text="Lubang di jalan depan Monas belum diperbaiki",
                 dedup=Dedup(duplicate_of=report.item_id, duplicate_reason="same_reporter"))
    other = item("web-3", text="Lampu jalan mati di Jl. Majapahit", dedup=Dedup(incident_id="inc-monas",
                                                                                 incident_size=3))
    seq, _, _ = await publish(provisioned, report, again, other)

    server, task = await http.start(console.app(), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{http.bound_port(server)}"
    shots = tmp_path / "screens"
    shots.mkdir()
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)  # a fresh profile each launch
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 900})
            await page.goto(f"{base}/")
            assert page.url.endswith("/login")
            await page.fill("input[name=username]", "lurah-gambir")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("form[action='/login'] button[type=submit]")
            await page.wait_for_url(f"{base}/")
            row = page.locator(f"tr[data-queue='{GAMBIR}']")
            assert await row.locator("td.open strong").inner_text() == "3"
            await page.screenshot(path=str(shots / "1-queues.png"), full_page=True)
            await page.set_viewport_size({"width": 390, "height": 844})  # an officer's phone: headers hidden
            label = await row.locator("td.open").evaluate("e => getComputedStyle(e, '::before').content")
            assert label == '"Terbuka: "', label  # so each number still says what it counts
            await page.screenshot(path=str(shots / "1-queues-phone.png"), full_page=True)
            await page.set_viewport_size({"width": 1200, "height": 900})

            await row.locator("td.report a").click()
            await page.wait_for_url(f"{base}/q/{GAMBIR}")
            assert await page.locator("tr[data-item]").count() == 3
            await page.click(f"a[href='/item/{seq}'] >> nth=0")
            await page.wait_for_url(f"{base}/item/{seq}")
            img = page.locator("img.attachment")
            await img.wait_for()
            assert await img.evaluate("i => i.complete && i.naturalWidth") == 320
            assert await page.locator("svg.map circle.pin").count() == 1
            assert await page.locator("svg.map path.outline").count() == 1
            assert "1 pemberitahuan duplikat" in await page.locator("#links").inner_text()
            # the live count of its reports across queues (web-1 and web-3; a duplicate notice is no witness),
            # not the size the router saw when it routed web-1
            assert "2 laporan untuk kejadian ini" in await page.locator("#links").inner_text()
            colour = await page.locator("#current-stage .stage").evaluate("e => getComputedStyle(e).backgroundColor")
            assert colour == "rgb(211, 47, 47)"  # Menunggu, red

            await page.select_option("select[name=stage]", "proses")
            await page.click("#status button[type=submit]")
            await page.wait_for_selector(".flash.error")
            assert "melewati Koordinasi, Disposisi" in await page.locator(".flash.error").inner_text()

            await page.select_option("select[name=stage]", "koordinasi")
            await page.fill("#status input[name=note]", "dikoordinasikan dengan Sudin Bina Marga")
            await page.click("#status button[type=submit]")
            await page.wait_for_selector("[role=status]:has-text('Tahap diubah menjadi Koordinasi')")
            colour = await page.locator("#current-stage .stage").evaluate("e => getComputedStyle(e).backgroundColor")
            assert colour == "rgb(123, 31, 162)"  # Koordinasi, purple
            await page.screenshot(path=str(shots / "2-item.png"), full_page=True)
            await page.set_viewport_size({"width": 390, "height": 844})
            await page.screenshot(path=str(shots / "2-item-phone.png"), full_page=True)
            await page.set_viewport_size({"width": 1200, "height": 900})

            # the target is chosen by name: the list offers every place's queue under its name
            options = await page.locator("#reroute-targets option").evaluate_all(
                "os => os.map(o => [o.value, o.textContent])")
            assert ["kelurahan.3171011002", "Kelurahan Kebon Kelapa"] in options, options[:5]
            await page.fill("input[name=to_queue]", "kecamatan.317101")
            await page.fill("input[name=reason]", "jalan protokol: wewenang kecamatan")
            await page.click("#reroute form button")
            await page.wait_for_selector("[role=status]:has-text('Dialihkan ke kecamatan.317101')")
            assert await page.locator("#actions").count() == 0  # nothing more to do here
            assert await page.locator("#reroute").count() == 0
            await page.screenshot(path=str(shots / "3-rerouted.png"), full_page=True)
        finally:
            await browser.close()
            await http.stop(server, task)
    assert (shots / "2-item.png").stat().st_size > 10_000
    print(f"screenshots in {shots}")

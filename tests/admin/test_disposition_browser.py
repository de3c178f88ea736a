"""End to end in headless Chromium: envelopes through the real router (categories and a category rule), then a
kelurahan admin corrects a category and disposes the report to the suku dinas; the kelurahan's read-only list
shows it at Disposisi, and the suku dinas's queue holds it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from admin.console import build
from admin.store import ItemStore
from kanal import http
from kanal.config import Config
from schemas import Reporter
from tests.admin.conftest import geotagged, write_boundaries
from tests.admin.helpers import GAMBIR, PASSWORD, settings
from tests.admin.test_console_browser import ARGS, CHROMIUM
from tests.factories import envelope
from tests.router.helpers import drain, make_router, publish

ROOT = Path(__file__).resolve().parents[2]


def write_rules(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "deploy/rules/categories.toml", tmp_path / "categories.toml")
    path = tmp_path / "rules.toml"
    path.write_text(
        'version = 1\ncategories = "categories.toml"\n'
        '[[rule]]\nid = "geo"\ntype = "geo"\nboundaries = "kelurahan.geojson"\n'
        '[[rule]]\nid = "bansos"\ntype = "channel"\ncategory = "bantuan_sosial"\nlocated = false\n'
        'queue = "dinas.sosial"\n'
        '[[rule]]\nid = "rest"\ntype = "fallback"\n', encoding="utf-8")
    return path


async def test_router_then_console_correct_and_dispose(provisioned: NATS, config: Config, tmp_path: Path) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} not installed: run scripts/system-deps.sh (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.async_api", reason="playwright (PyPI) is not installed")

    write_boundaries(tmp_path / "kelurahan.geojson")
    router = await make_router(provisioned, config, write_rules(tmp_path))
    flooded = envelope("w-1", text="Air meluap ke jalan tiap hujan, jalanan tergenang depan SDN 01, "
                       "lubang di aspal juga", reporter=Reporter(contact="+6281100000021"), **geotagged())
    aid = envelope("w-2", text="Bansos sembako gak sampai ke warga RW 03",
                   reporter=Reporter(contact="+6281100000022"))
    await publish(provisioned, flooded, aid)
    await drain(router)
    store = await ItemStore.open(provisioned)
    [routed] = await store.queue(GAMBIR)
    assert routed.item.item_id == flooded.id and routed.item.decision.category == "jalan"
    [social] = await store.queue("dinas.sosial")  # the category rule placed the report nobody could locate
    assert social.item.decision.category == "bantuan_sosial"

    admin = settings(boundaries=str(tmp_path / "kelurahan.geojson"),
                     disposition=str(ROOT / "deploy/rules/disposition.toml"))
    console = await build(config, admin, provisioned)
    # the suku dinas queues read as their names everywhere the console names a queue (lists, reroute box)
    assert console.names.queue("sudin.sda-3171") == "Suku Dinas Sumber Daya Air Jakarta Pusat"
    assert ("dinas.pam_jaya", "Dinas PAM Jaya") in console.names.queues()
    server, task = await http.start(console.app(), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{http.bound_port(server)}"
    shots = tmp_path / "screens"
    shots.mkdir()
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 900})
            await page.goto(f"{base}/login")
            await page.fill("input[name=username]", "lurah-gambir")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button.primary[type=submit]")
            await page.wait_for_url(f"{base}/")
            await page.goto(f"{base}/item/{routed.seq}")
            assert await page.locator("#routing-why").inner_text() == (
                "Titik lokasi laporan berada di Kelurahan Gambir.")
            assert not await page.locator("#routing-trail").evaluate("d => d.open")  # the English trail: folded
            await page.set_viewport_size({"width": 360, "height": 780})  # the smallest phone we serve
            assert await page.evaluate("document.documentElement.scrollWidth") <= 360  # nothing runs off-screen
            await page.screenshot(path=str(shots / "0-item-phone.png"), full_page=True)
            await page.set_viewport_size({"width": 1200, "height": 900})
            card = page.locator("#category")
            assert await card.locator("#category-label").inner_text() == "Jalan dan trotoar rusak"
            assert "lubang" in await card.inner_text() and "aspal" in await card.inner_text()
            button = page.locator("#dispose-form button")
            assert await button.inner_text() == "Disposisi ke Suku Dinas Bina Marga Jakarta Pusat"

            await page.select_option("#category-form select[name=category]", "saluran_air")
            await page.click("#category-form button")
            await page.wait_for_selector("[role=status]:has-text('Kategori diubah: Jalan dan trotoar rusak → "
                                         "Saluran air dan kali')")
            assert await card.locator("#category-label").inner_text() == "Saluran air dan kali"
            assert "oleh lurah-gambir" in await card.locator(".correction").inner_text()
            assert "WIB" in await card.locator(".correction").inner_text()
            assert await button.inner_text() == "Disposisi ke Suku Dinas Sumber Daya Air Jakarta Pusat"
            await page.screenshot(path=str(shots / "1-corrected.png"), full_page=True)

            await page.fill("#dispose-form input[name=note]", "air dari saluran tersumbat")
            await button.click()
            await page.wait_for_selector("[role=status]:has-text('Didisposisikan ke Suku Dinas Sumber Daya Air "
                                         "Jakarta Pusat')")
            assert await page.locator("#dispose-form").count() == 0  # done: nothing more to dispose here
            assert await page.locator("#current-stage .stage").inner_text() == "Disposisi"

            await page.click("#category a[href$='/disposisi']")
            await page.wait_for_url(f"{base}/q/{GAMBIR}/disposisi")
            row = page.locator(f"#disposed tr[data-ref='{flooded.ref}']")
            assert "Disposisi" in await row.locator(".stage").inner_text()
            assert "Suku Dinas Sumber Daya Air Jakarta Pusat" in await row.inner_text()
            assert await page.locator("#disposed form, #disposed button").count() == 0  # read-only
            await page.screenshot(path=str(shots / "2-disposed.png"), full_page=True)
            await page.set_viewport_size({"width": 360, "height": 780})
            assert await page.evaluate("document.documentElement.scrollWidth") <= 360  # nothing runs off-screen
            await page.screenshot(path=str(shots / "3-disposed-phone.png"), full_page=True)
            await page.set_viewport_size({"width": 1200, "height": 900})

            metrics = await page.goto(f"{base}/metrics/categories")
            assert metrics is not None
            assert 'kanal_admin_category_corrections_total{from="jalan",to="saluran_air"} 1' in await metrics.text()
            await page.goto(f"{base}/q/dinas.sosial/disposisi")  # another queue's list: refused
            assert "not allowed" in await page.locator("body").inner_text()
        finally:
            await browser.close()
            await http.stop(server, task)
    [at_sudin] = await store.queue("sudin.sda-3171")
    assert at_sudin.item.item_id == flooded.id
    decision = at_sudin.item.decision  # the corrected category travels with the disposed item (and to the CRM)
    assert (decision.category, decision.category_confidence, decision.category_cues) == ("saluran_air", None, ())
    assert at_sudin.item.reroutes[-1].reason.startswith("Disposisi ke Suku Dinas Sumber Daya Air Jakarta Pusat")
    state, _ = await store.state(flooded.id)
    assert [(c.from_category, c.to_category, c.by) for c in state.categories] == [
        ("jalan", "saluran_air", "lurah-gambir")]

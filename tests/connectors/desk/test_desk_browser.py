"""The desk page driven in headless Chromium (Debian's /usr/bin/chromium via Playwright), on real HTTP and NATS."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from connectors.desk import spec
from connectors.testkit import Harness, harness
from kanal import http
from tests.connectors.app.photos import MONAS, jpeg
from tests.connectors.desk.helpers import GAMBIR, MENTENG, PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                                reason=f"{CHROMIUM} is absent: install Debian's chromium (scripts/system-deps.sh)")


@asynccontextmanager
async def served(nats_url: str, settings: dict[str, Any], instance: str) -> AsyncIterator[tuple[Harness, str]]:
    async with harness(spec, settings, nats_url, instance=instance) as h:
        server, task = await http.start(h.instance.app(), "127.0.0.1", 0)
        try:
            yield h, f"http://127.0.0.1:{http.bound_port(server)}"
        finally:
            await http.stop(server, task)


@asynccontextmanager
async def browser(tmp_path: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = await chromium.new_context(viewport={"width": 1100, "height": 900}, locale="id-ID")
        context.set_default_timeout(10_000)
        try:
            yield context
        finally:
            await context.close()
            await chromium.close()


async def test_officer_logs_in_submits_and_prints_the_reference(nats_url: str, tmp_path: Path) -> None:
    photo = tmp_path / "foto-lokasi.jpg"
    photo.write_bytes(jpeg(gps=MONAS, size=(320, 240)))
    scan = tmp_path / "surat-pengantar.pdf"
    scan.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    settings = {**GAMBIR, "status_url": "https://lapor.jakarta.go.id/laporan/{ref}"}
    async with served(nats_url, settings, "desk-kec-gambir") as (h, base), browser(tmp_path) as context:
        page = await context.new_page()
        await page.goto(base + "/")
        assert page.url.endswith("/desk/login")
        await page.fill("#username", "petugas")
        await page.fill("#password", "bukan-sandinya")
        await page.click("#login")
        assert "Nama pengguna atau kata sandi salah" in await page.inner_text(".alert")
        await page.fill("#password", PASSWORD)
        await page.click("#login")
        await page.wait_for_url("**/desk/")
        await page.fill("#name", "Siti Rahma")
        await page.fill("#nik", "31710145059")  # too short: the form comes back with the values kept
        await page.fill("#contact", "081299887766")
        await page.fill("#description", "Saluran air di depan SDN 01 tersumbat, air meluap ke jalan.")
        await page.fill("#address", "Jl. Kebon Sirih No. 10, RT 03/RW 02, Kebon Sirih")
        await page.set_input_files("#attachments", [str(photo), str(scan)])
        await page.click("#submit-report")
        assert "NIK harus tepat 16 angka" in await page.inner_text("#nik-error")
        assert await page.input_value("#address") == "Jl. Kebon Sirih No. 10, RT 03/RW 02, Kebon Sirih"
        await page.screenshot(path=str(tmp_path / "form-errors.png"), full_page=True)
        await page.fill("#nik", "3171014505900002")
        await page.set_input_files("#attachments", [str(photo), str(scan)])
        await page.click("#submit-report")
        await page.wait_for_url("**/desk/receipt/*")
        ref = (await page.inner_text("#ref")).strip()
        await page.screenshot(path=str(tmp_path / "receipt.png"), full_page=True)
        await page.emulate_media(media="print")
        assert not await page.is_visible("#print") and not await page.is_visible("header")
        assert await page.is_visible("#ref")
        assert await page.is_visible("#status-url")  # the printed receipt says where to follow the report
        assert f"/laporan/{ref}" in await page.inner_text("#status-url")
        await page.screenshot(path=str(tmp_path / "receipt-print.png"), full_page=True)
        await page.emulate_media(media="screen")
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.screenshot(path=str(tmp_path / "receipt-phone.png"), full_page=True)
        (env,) = await h.published()
        assert env.ref == ref
        assert (env.channel, env.instance, env.account, env.kind) == ("desk", "desk-kec-gambir", "317101", "walk_in")
        assert env.reporter.nik == "3171014505900002" and env.reporter.contact == "+6281299887766"
        assert [a.name for a in env.attachments] == ["foto-lokasi.jpg", "surat-pengantar.pdf"]
        assert all(a.object_key and not a.error for a in env.attachments)
    print(f"screenshots in {tmp_path}")


async def test_a_gambir_login_does_not_open_the_menteng_desk(nats_url: str, tmp_path: Path) -> None:
    async with served(nats_url, GAMBIR, "desk-kec-gambir") as (_g, gambir), \
            served(nats_url, MENTENG, "desk-kec-menteng") as (menteng_h, menteng), browser(tmp_path) as context:
        page = await context.new_page()
        await page.goto(gambir + "/desk/login")
        await page.fill("#username", "petugas")
        await page.fill("#password", PASSWORD)
        await page.click("#login")
        await page.wait_for_url("**/desk/")
        # Same host, other port: the browser sends the Gambir cookie along, and Menteng still asks to log in.
        await page.goto(menteng + "/desk/")
        assert page.url.endswith("/desk/login")
        # Even the Gambir session under Menteng's cookie name (both desks share a secret here) is refused.
        cookies = {c["name"]: c for c in await context.cookies(gambir)}
        stolen = cookies["kanal_desk_desk-kec-gambir"]
        await context.add_cookies([{"name": "kanal_desk_desk-kec-menteng", "value": stolen["value"],
                                    "url": menteng}])
        await page.goto(menteng + "/desk/")
        assert page.url.endswith("/desk/login")
        assert await menteng_h.published() == []

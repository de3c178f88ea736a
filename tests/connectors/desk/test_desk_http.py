"""The desk page over HTTP (no browser) on a real nats-server: login, CSRF, field errors, sniffing, office binding."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from connectors.desk import spec
from connectors.testkit import Harness, harness
from kanal import log
from tests.connectors.app.photos import jpeg
from tests.connectors.desk.helpers import BALAI_KOTA, GAMBIR, MENTENG, PASSWORD, csrf_of, key_of, login

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@asynccontextmanager
async def desk(nats_url: str, settings: dict[str, Any], instance: str
               ) -> AsyncIterator[tuple[Harness, httpx.AsyncClient]]:
    async with harness(spec, settings, nats_url, instance=instance) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://desk.test") as client:
            yield h, client


async def _form(client: httpx.AsyncClient) -> tuple[str, str]:
    page = await client.get("/desk/")
    assert page.status_code == 200, page.text
    return csrf_of(page.text), key_of(page.text)


@asynccontextmanager
async def at_the_desk(nats_url: str, settings: dict[str, Any], instance: str
                      ) -> AsyncIterator[tuple[Harness, httpx.AsyncClient, dict[str, str]]]:
    """A desk with the officer logged in, and the complaint form's hidden fields (CSRF token, submission key)."""
    async with desk(nats_url, settings, instance) as (h, client):
        await login(client)
        csrf, key = await _form(client)
        yield h, client, {"csrf": csrf, "key": key}


async def test_login_required_and_wrong_password_refused(nats_url: str) -> None:
    async with desk(nats_url, GAMBIR, "desk-kec-gambir") as (h, client):
        assert (await client.get("/")).headers["location"] == "/desk/"
        first = await client.get("/desk/")
        assert first.status_code == 303 and first.headers["location"] == "/desk/login"
        wrong = await login(client, password="bukan-sandinya")
        assert wrong.status_code == 401 and "Nama pengguna atau kata sandi salah" in wrong.text
        unknown = await login(client, username="siapa")
        assert unknown.status_code == 401
        no_csrf = await client.post("/desk/login", data={"username": "petugas", "password": PASSWORD})
        assert no_csrf.status_code == 403
        assert (await client.get("/desk/")).status_code == 303
        ok = await login(client)
        assert ok.status_code == 303 and ok.headers["location"] == "/desk/"
        page = await client.get("/desk/")
        assert "Kecamatan Gambir" in page.text and "317101" in page.text and 'name="office' not in page.text
        assert await h.published() == []


async def test_submit_publishes_for_the_configured_office_only(nats_url: str) -> None:
    async with at_the_desk(nats_url, GAMBIR, "desk-kec-gambir") as (h, client, form):
        response = await client.post("/desk/reports", data={
            **form, "name": "Siti Rahma", "nik": "3171 0145 0590 0002", "contact": "0812-9988-7766",
            "description": "Lampu jalan mati sejak seminggu", "address": "Jl. Tanah Abang II, RT 02/RW 04",
            "office_code": "317106", "account": "317106",  # a forged office is ignored: it comes from config
        }, files=[("attachments", ("surat.pdf", PDF, "application/pdf")),
                  ("attachments", ("foto.jpg", jpeg(), "image/jpeg"))])
        assert response.status_code == 303, response.text
        ref = response.headers["location"].rsplit("/", 1)[-1]
        receipt = await client.get(response.headers["location"])
        assert receipt.status_code == 200 and ref in receipt.text and "window.print()" in receipt.text
        (env,) = await h.published()
        assert env.ref == ref and env.kind == "walk_in" and env.visibility == "private"
        assert env.account == "317101" and env.instance == "desk-kec-gambir" and env.channel == "desk"
        assert env.reporter.nik == "3171014505900002" and env.reporter.contact == "+6281299887766"
        assert env.reporter.display_name == "Siti Rahma" and env.reporter.anonymous is False
        assert "Alamat: Jl. Tanah Abang II" in env.text and env.subject == "Pengaduan tatap muka: Kecamatan Gambir"
        assert [a.media_type for a in env.attachments] == ["application/pdf", "image/jpeg"]
        assert await h.instance.media.get(env.attachments[0].object_key or "") == PDF
        again = await client.post("/desk/reports", data={**form, "name": "Siti Rahma",
                                                         "description": "Lampu jalan mati sejak seminggu"})
        assert again.headers["location"].endswith(ref)  # a resubmitted form is the same report
        assert len(await h.published()) == 1
        other = await client.get("/desk/receipt/KNL-0000-0000-0000")
        assert other.status_code == 404


async def test_field_errors_keep_values_and_publish_nothing(nats_url: str) -> None:
    async with at_the_desk(nats_url, GAMBIR, "desk-kec-gambir") as (h, client, form):
        response = await client.post("/desk/reports", data={
            **form, "name": "Budi", "nik": "12345", "contact": "bukan kontak",
            "description": "", "address": "Jl. Kebon Sirih 1"},
            files=[("attachments", ("scan.jpg", b"GIF89a not really", "image/jpeg"))])
        assert response.status_code == 422
        html = response.text
        assert "NIK harus tepat 16 angka" in html and "Uraian pengaduan wajib diisi" in html
        assert "Kontak harus nomor telepon" in html and "Lampiran 1 (scan.jpg) bukan gambar" in html
        assert 'value="Budi"' in html and 'value="Jl. Kebon Sirih 1"' in html and 'value="12345"' in html
        assert form["key"] in html  # the same submission key: fixing and resending is one report
        assert await h.published() == []


async def test_oversized_attachment_is_refused(nats_url: str) -> None:
    async with at_the_desk(nats_url, {**GAMBIR, "max_file_bytes": 20_000}, "desk-kec-gambir") as (h, client, form):
        response = await client.post("/desk/reports", data={**form, "name": "Budi",
                                                            "description": "Got mampet"},
                                     files=[("attachments", ("big.jpg", jpeg(pad_to=30_000), "image/jpeg"))])
        assert response.status_code == 413 and "batasnya 20000 byte" in response.text
        assert await h.published() == []


async def test_balai_kota_desk_requires_a_region(nats_url: str) -> None:
    async with at_the_desk(nats_url, BALAI_KOTA, "desk-balai-kota") as (h, client, form):
        page = await client.get("/desk/")
        assert "Kepulauan Seribu" in page.text and "Jakarta Utara" in page.text
        missing = await client.post("/desk/reports", data={**form, "name": "Budi",
                                                           "description": "Banjir"})
        assert missing.status_code == 422 and "Pilih wilayah" in missing.text
        ok = await client.post("/desk/reports", data={**form, "name": "Budi", "anonymous": "true",
                                                      "description": "Banjir setinggi lutut", "region": "3175"})
        assert ok.status_code == 303
        (env,) = await h.published()
        assert env.account == "31" and "Wilayah: Jakarta Utara" in env.text and env.reporter.anonymous is True


async def test_csrf_and_session_are_required_to_submit(nats_url: str) -> None:
    async with desk(nats_url, GAMBIR, "desk-kec-gambir") as (h, client):
        anonymous = await client.post("/desk/reports", data={"name": "x", "description": "y"})
        assert anonymous.status_code == 403
        await login(client)
        _csrf, key = await _form(client)
        forged = await client.post("/desk/reports", data={"csrf": "forged", "key": key, "name": "x",
                                                          "description": "y"})
        assert forged.status_code == 403
        assert await h.published() == []


async def test_a_session_from_another_desk_is_refused(nats_url: str) -> None:
    async with desk(nats_url, GAMBIR, "desk-kec-gambir") as (_a, gambir), \
            desk(nats_url, MENTENG, "desk-kec-menteng") as (menteng_h, menteng):
        await login(gambir)
        csrf, key = await _form(gambir)
        stolen = gambir.cookies["kanal_desk_desk-kec-gambir"]
        menteng.cookies.set("kanal_desk_desk-kec-menteng", stolen)  # same secret: the signature is valid
        assert (await menteng.get("/desk/")).status_code == 303  # sent to log in
        menteng.cookies.set("kanal_desk_desk-kec-menteng", stolen)
        attempt = await menteng.post("/desk/reports", data={"csrf": csrf, "key": key, "name": "Budi",
                                                            "description": "Atas nama Gambir"})
        assert attempt.status_code == 403
        assert await menteng_h.published() == []
        wrong_user = await login(menteng, username="petugas", password="salah-sandi")
        assert wrong_user.status_code == 401


async def test_personal_data_never_reaches_the_logs(nats_url: str) -> None:
    out = io.StringIO()
    log.configure("debug", "json", stream=out)
    try:
        async with at_the_desk(nats_url, GAMBIR, "desk-kec-gambir") as (_h, client, form):
            ok = await client.post("/desk/reports", data={
                **form, "name": "Siti Rahma", "nik": "3171014505900002",
                "contact": "siti.rahma@example.id", "description": "Trotoar rusak"})
            assert ok.status_code == 303
            bad = await client.post("/desk/reports", data={**form, "nik": "3171014505900002",
                                                           "contact": "081299887766", "description": ""})
            assert bad.status_code == 422
    finally:
        log.configure("debug", "json")
    text = out.getvalue()
    assert "desk_report_received" in text and "desk_report_refused" in text
    for value in ("3171014505900002", "siti.rahma@example.id", "081299887766", "Siti Rahma", PASSWORD):
        assert value not in text


async def test_repeated_wrong_passwords_slow_the_officer_down(nats_url: str) -> None:
    async with desk(nats_url, GAMBIR, "desk-kec-gambir") as (h, client):
        h.instance.connector.throttle.clock = lambda: 1_000_000.0  # the delay never runs out in this test
        for _ in range(3):
            assert (await login(client, password="tebak-tebakan")).status_code == 401
        waiting = await login(client)  # even the right password, until the delay has passed
        assert waiting.status_code == 429 and "Terlalu banyak percobaan" in waiting.text


async def test_the_receipt_says_where_to_follow_the_report(nats_url: str) -> None:
    settings = {**GAMBIR, "status_url": "https://lapor.jakarta.go.id/laporan/{ref}"}
    async with at_the_desk(nats_url, settings, "desk-kec-gambir") as (_, client, form):
        response = await client.post("/desk/reports", data={**form, "name": "Siti Rahma",
                                                            "description": "Lampu jalan mati sejak seminggu"})
        ref = response.headers["location"].rsplit("/", 1)[-1]
        receipt = await client.get(response.headers["location"])
    assert f"https://lapor.jakarta.go.id/laporan/{ref}" in receipt.text
    async with at_the_desk(nats_url, GAMBIR, "desk-kec-gambir") as (_, client, form):
        response = await client.post("/desk/reports", data={**form, "name": "Siti Rahma",
                                                            "description": "Lampu jalan mati sejak seminggu"})
        receipt = await client.get(response.headers["location"])
    assert 'id="status-url"' not in receipt.text  # no status page configured: nothing to point at

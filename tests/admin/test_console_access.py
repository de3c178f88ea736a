"""The console over HTTP (no browser): login, CSRF, and per-queue access on every route (403 elsewhere)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from nats.aio.client import Client as NATS

from admin.console import Console
from admin.store import ItemStore
from schemas import subjects
from tests.admin.conftest import csrf_of, geotagged, login, photo_png, stored_photo
from tests.admin.helpers import GAMBIR, KEBON_KELAPA, item, publish

Factory = Callable[[], httpx.AsyncClient]


async def test_login_required_and_wrong_password_refused(provisioned: NATS, client_factory: Factory) -> None:
    client = client_factory()
    assert (await client.get("/")).headers["location"] == "/login"
    assert (await client.get("/q/" + GAMBIR)).status_code == 303
    assert (await client.get("/media/1/0")).status_code == 401
    bad = await login(client, "lurah-gambir", "salah")
    assert bad.status_code == 401 and "Nama pengguna atau kata sandi salah" in bad.text
    assert (await login(client, "nobody", "x")).status_code == 401
    page = await client.get("/login")
    no_csrf = await client.post("/login", data={"username": "lurah-gambir", "password": "rahasia-lurah-123"})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
    assert "content-security-policy" in page.headers


async def test_an_admin_sees_and_acts_only_on_their_queue(provisioned: NATS, client_factory: Factory) -> None:
    photo = await stored_photo(provisioned)
    mine = item("acc-1", **geotagged(attachments=(photo,)))
    theirs = item("acc-2", KEBON_KELAPA, attachments=(photo,))
    mine_seq, their_seq = await publish(provisioned, mine, theirs)
    client = client_factory()
    assert (await login(client, "lurah-gambir")).status_code == 303

    home = await client.get("/")
    assert GAMBIR in home.text and KEBON_KELAPA not in home.text
    own = await client.get(f"/item/{mine_seq}")
    assert own.status_code == 200 and mine.ref in own.text and 'class="pin"' in own.text
    assert "Gambir (3171011001)" in own.text  # the kelurahan outline from the boundaries file
    media = await client.get(f"/media/{mine_seq}/0")
    assert media.status_code == 200 and media.content == photo_png()
    assert media.headers["content-type"] == "image/png"

    token = csrf_of(own.text)
    assert (await client.get(f"/q/{KEBON_KELAPA}")).status_code == 403
    assert (await client.get(f"/item/{their_seq}")).status_code == 403
    assert (await client.get(f"/media/{their_seq}/0")).status_code == 403
    for action, data in (("stage", {"stage": "koordinasi"}), ("reroute", {"to_queue": GAMBIR, "reason": "x"}),
                         ("ack", {})):
        response = await client.post(f"/item/{their_seq}/{action}", data={"csrf": token, **data})
        assert response.status_code == 403, action
    store = await ItemStore.open(provisioned)
    assert (await store.state(theirs.item_id))[0].handled == ()
    assert (await store.latest_status(theirs.item_id))[0] is None

    forged = await client.post(f"/item/{mine_seq}/stage", data={"stage": "koordinasi", "csrf": "forged"})
    assert forged.status_code == 403
    assert (await store.latest_status(mine.item_id))[0] is None

    superadmin = client_factory()
    await login(superadmin, "pusat")
    assert (await superadmin.get(f"/item/{their_seq}")).status_code == 200
    assert KEBON_KELAPA in (await superadmin.get("/")).text


async def test_forms_change_stage_refuse_skips_and_reroute(provisioned: NATS, client_factory: Factory) -> None:
    mine = item("form-1")
    [seq] = await publish(provisioned, mine)
    client = client_factory()
    await login(client, "lurah-gambir")
    token = csrf_of((await client.get(f"/item/{seq}")).text)
    skipped = await client.post(f"/item/{seq}/stage", data={"stage": "proses", "csrf": token}, follow_redirects=True)
    assert "Ditolak: Menunggu → Proses melewati Koordinasi, Disposisi" in skipped.text
    ok = await client.post(f"/item/{seq}/stage", data={"stage": "koordinasi", "note": "rapat RT", "csrf": token},
                           follow_redirects=True)
    assert "Tahap diubah menjadi Koordinasi" in ok.text and 'data-stage="koordinasi"' in ok.text
    moved = await client.post(f"/item/{seq}/reroute", data={"to_queue": "kecamatan.317101", "reason": "lintas "
                              "kelurahan", "csrf": token}, follow_redirects=True)
    assert "Dialihkan ke kecamatan.317101" in moved.text
    info = await provisioned.jetstream().stream_info(subjects.STREAM_ADMIN,
                                                     subjects_filter=subjects.admin("kecamatan.317101"))
    assert info.state.subjects == {subjects.admin("kecamatan.317101"): 1}
    listing = await client.get(f"/q/{GAMBIR}")
    assert mine.ref not in listing.text  # no longer open here
    assert mine.ref in (await client.get(f"/q/{GAMBIR}?all=1")).text


async def test_item_page_shows_what_the_reporter_was_told(provisioned: NATS, client_factory: Factory) -> None:
    from datetime import UTC, datetime

    from kanal import bus, sends
    from schemas.outbound import OutboundMessage, reply_address

    mine = item("told-1", **geotagged())
    [seq] = await publish(provisioned, mine)
    kv = await bus.ensure_kv(provisioned.jetstream(), subjects.KV_OUTBOUND, history=5)
    now = datetime.now(UTC)
    for purpose, state, reason in (("ack", "sent", None), ("status", "failed", "whatsapp_24h_window_closed")):
        message = OutboundMessage(id=f"{purpose}-msg", item_id=mine.item_id, ref=mine.ref, purpose=purpose,
                                  text="...", reply_to=reply_address(mine.envelope), created_at=now)
        record = sends.make(message, state, "twilio", "twilio-sms", reason=reason)
        if state == "sent":  # an SMS gateway's delivery report (Kannel's dlr-url) on the same record
            record = sends.with_delivery(record, "delivered", datetime(2026, 11, 24, 3, 5, tzinfo=UTC), None)
        await sends.write(kv, record)
    # a WhatsApp template Meta took, then reported failed (a late status), handed to the SMS fallback
    message = OutboundMessage(id="final-msg", item_id=mine.item_id, ref=mine.ref, purpose="final", text="...",
                              reply_to=reply_address(mine.envelope), created_at=now)
    late = sends.make(message, "sent", "meta", "wa-jkt", template="final/id", fallback="sms-jkt")
    late = sends.with_delivery(late, "failed", now, "whatsapp_template_paused: Meta paused the template")
    await sends.write(kv, late)
    client = client_factory()
    await login(client, "lurah-gambir")
    page = (await client.get(f"/item/{seq}")).text
    assert "Pesan kepada pelapor" in page
    assert '<span class="send sent">dikirim</span>' in page and "sampai di ponsel 2026-11-24 10:05 WIB" in page
    assert '<span class="send failed">gagal</span>' in page
    assert "pelapor terakhir menulis lebih dari 24 jam yang lalu" in page and "whatsapp_24h_window_closed" in page
    assert "templat final/id" in page and "tidak sampai" in page and "templat WhatsApp dijeda Meta" in page
    assert "dikirim lewat SMS melalui sms-jkt" in page


async def test_attachments_with_non_latin_names_download(provisioned: NATS, client_factory: Factory) -> None:
    import msgspec

    photo = msgspec.structs.replace(await stored_photo(provisioned), name="banjir Kemang — 😢.png")
    [seq] = await publish(provisioned, item("named-1", **geotagged(attachments=(photo,))))
    client = client_factory()
    await login(client, "lurah-gambir")
    media = await client.get(f"/media/{seq}/0")
    assert media.status_code == 200
    assert media.content == photo_png()
    assert "filename*=UTF-8''banjir%20Kemang%20%E2%80%94%20%F0%9F%98%A2.png" in media.headers["content-disposition"]


async def test_repeated_wrong_passwords_slow_that_user_down_from_that_address(
        provisioned: NATS, console: Console, client_factory: Factory) -> None:
    console.throttle.clock = lambda: 1_000_000.0  # time stands still: the delay never runs out in this test
    client = client_factory()
    for _ in range(3):
        assert (await login(client, "lurah-gambir", "salah-lagi")).status_code == 401
    waiting = await login(client, "lurah-gambir")  # even the right password waits out the delay
    assert waiting.status_code == 429 and waiting.headers["retry-after"] == "1"
    assert "Terlalu banyak percobaan masuk" in waiting.text
    other = client_factory()
    assert (await login(other, "pusat")).status_code == 303  # other users are not affected


async def test_item_page_shows_the_reporters_follow_ups(provisioned: NATS, client_factory: Factory) -> None:
    import msgspec

    from schemas import Attachment
    from schemas.routed import Dedup

    report = item("fu-1", **geotagged())
    added_env = msgspec.structs.replace(report.envelope, id="e" * 32, external_id="fu-2",
                                        text="Sudah seminggu, belum ada petugas",
                                        attachments=(Attachment(kind="image", sha256="d" * 64),), location=None)
    added = msgspec.structs.replace(item("fu-2", env=added_env, kind="duplicate", dedup=Dedup(
        duplicate_of=report.item_id, duplicate_reason="same_reporter")), follow_up_of=report.item_id)
    seq, _ = await publish(provisioned, report, added)
    client = client_factory()
    await login(client, "lurah-gambir")
    page = (await client.get(f"/item/{seq}")).text
    assert "Tambahan dari pelapor" in page
    assert "Sudah seminggu, belum ada petugas (1 lampiran)" in page
    assert "duplicate notice(s)" not in page  # a follow-up is not shown as a duplicate

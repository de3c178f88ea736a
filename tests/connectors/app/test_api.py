"""The app API on a real nats-server, with real JPEGs carrying EXIF time and GPS made by the tests."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import piexif
import pytest

from connectors.app import images, spec
from connectors.app.openapi import document
from connectors.testkit import Harness, harness
from kanal import log
from kanal.config import Config
from schemas import encode, subjects
from schemas.status import StatusUpdate
from tests.connectors.app.photos import MONAS, jpeg, png
from tests.router.fixtures import write_rules
from tests.router.helpers import drain, make_router

JAKARTA = ZoneInfo("Asia/Jakarta")
SETTINGS: dict[str, Any] = {"account": "jaki", "max_body_bytes": 2_000_000, "max_photo_bytes": 500_000,
                            "max_photos": 3}
ROOT = Path(__file__).resolve().parents[3]


def _now_local(minutes_ago: int = 10) -> datetime:
    """A naive local Jakarta time, as a phone camera writes DateTimeOriginal."""
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).astimezone(JAKARTA).replace(tzinfo=None)


@asynccontextmanager
async def api(nats_url: str, **settings: Any) -> AsyncIterator[tuple[Harness, httpx.AsyncClient]]:
    async with harness(spec, {**SETTINGS, **settings}, nats_url) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
            yield h, client


async def _submit(client: httpx.AsyncClient, photos: list[tuple[str, bytes, str]], headers: dict[str, str] | None
                  = None, **fields: str) -> httpx.Response:
    data = {"description": "Jalan berlubang besar di depan halte", "category": "jalan", **fields}
    files = [("photos", photo) for photo in photos]
    return await client.post("/api/v1/reports", data=data, files=files, headers=headers or {})


async def test_exif_gps_becomes_the_location_and_private_photo_is_kept_whole(nats_url: str) -> None:
    photo = jpeg(_now_local(), MONAS)
    async with api(nats_url) as (h, client):
        response = await _submit(client, [("IMG_0412.jpg", photo, "image/jpeg")], name="Budi",
                                 phone="0812 3456 7890", nik="3171010101010001", visibility="private")
        assert response.status_code == 201, response.text
        body = response.json()
        (env,) = await h.published()
        assert body["ref"] == env.ref and body["status_url"] == f"http://app.test/api/v1/reports/{env.ref}"
        assert env.kind == "report" and env.account == "jaki" and env.instance == h.instance.name
        assert env.location is not None and env.location.source == "exif"
        assert env.location.lat == pytest.approx(MONAS[0], abs=1e-5)
        assert env.location.lon == pytest.approx(MONAS[1], abs=1e-5)
        assert env.reporter.contact == "+6281234567890" and env.reporter.nik == "3171010101010001"
        assert env.visibility == "private" and env.category == "jalan"
        (attachment,) = env.attachments
        assert attachment.kind == "image" and attachment.media_type == "image/jpeg"
        assert attachment.name == "IMG_0412.jpg" and attachment.object_key
        assert await h.instance.media.get(attachment.object_key) == photo  # private: original kept


async def test_without_exif_the_request_location_is_used(nats_url: str) -> None:
    async with api(nats_url) as (h, client):
        response = await _submit(client, [("a.png", png(), "image/png")], lat="-6.2088", lon="106.8456",
                                 accuracy_m="12", address="RT 03/RW 05, dekat masjid")
        assert response.status_code == 201, response.text
        (env,) = await h.published()
        assert env.location is not None and env.location.source == "gps"
        assert (env.location.lat, env.location.lon, env.location.accuracy_m) == (-6.2088, 106.8456, 12.0)
        assert env.location.address == "RT 03/RW 05, dekat masjid"
        assert env.attachments[0].media_type == "image/png"


async def test_request_location_wins_over_exif(nats_url: str) -> None:
    async with api(nats_url) as (h, client):
        response = await _submit(client, [("a.jpg", jpeg(_now_local(), MONAS), "image/jpeg")],
                                 lat="-6.3", lon="106.9")
        assert response.status_code == 201
        (env,) = await h.published()
        assert env.location is not None and (env.location.source, env.location.lat) == ("gps", -6.3)


async def test_no_location_at_all_keeps_address_in_text(nats_url: str) -> None:
    async with api(nats_url) as (h, client):
        response = await _submit(client, [("a.jpg", jpeg(_now_local()), "image/jpeg")], address="Jl. Kramat Raya 5")
        assert response.status_code == 201
        (env,) = await h.published()
        assert env.location is None and "Jl. Kramat Raya 5" in env.text


async def test_photo_older_than_two_hours_is_refused_and_nothing_published(nats_url: str) -> None:
    old = jpeg(_now_local(minutes_ago=185), MONAS)
    async with api(nats_url) as (h, client):
        response = await _submit(client, [("fresh.jpg", jpeg(_now_local()), "image/jpeg"),
                                          ("old.jpg", old, "image/jpeg")])
        assert response.status_code == 422
        message = response.json()["errors"]["photos"]
        assert "photo 2 (old.jpg) was taken at" in message and "3 h 5 min before" in message
        assert "within 2 hours" in message
        assert await h.published() == []
        assert await h.messages(f"{subjects.RAW_PREFIX}.>") == []


async def test_exif_offset_is_honoured_else_the_configured_timezone(nats_url: str) -> None:
    utc_now = (datetime.now(UTC) - timedelta(minutes=5)).replace(tzinfo=None)
    async with api(nats_url) as (h, client):
        # Written in UTC with its offset: 5 minutes old.
        ok = await _submit(client, [("utc.jpg", jpeg(utc_now, offset="+00:00"), "image/jpeg")])
        assert ok.status_code == 201, ok.text
        # The same clock reading without an offset is Jakarta time (UTC+7): 7 hours old.
        old = await _submit(client, [("local.jpg", jpeg(utc_now), "image/jpeg")])
        assert old.status_code == 422 and "7 h" in old.json()["errors"]["photos"]
        assert [e.ref for e in await h.published()] == [ok.json()["ref"]]
    async with api(nats_url, timezone="UTC") as (_h, client):
        ok = await _submit(client, [("local.jpg", jpeg(utc_now), "image/jpeg")])
        assert ok.status_code == 201


async def test_oversized_photo_and_request_are_413(nats_url: str) -> None:
    big = jpeg(_now_local(), pad_to=60_000)
    async with api(nats_url, max_photo_bytes=50_000) as (h, client):
        response = await _submit(client, [("big.jpg", big, "image/jpeg")])
        assert response.status_code == 413
        assert "limit is 50000 bytes per photo" in response.json()["errors"]["photos"]
    async with api(nats_url, max_body_bytes=40_000) as (h, client):
        response = await _submit(client, [("big.jpg", big, "image/jpeg")])
        assert response.status_code == 413 and "_request" in response.json()["errors"]
        assert await h.published() == []


async def test_non_image_sent_as_jpeg_is_refused(nats_url: str) -> None:
    async with api(nats_url) as (h, client):
        fake = b"%PDF-1.4\n" + b"not a photo at all" * 10
        response = await _submit(client, [("photo.jpg", fake, "image/jpeg")])
        assert response.status_code == 422
        assert "photo 1 (photo.jpg) is not a readable image" in response.json()["errors"]["photos"]
        gif = io.BytesIO()
        from PIL import Image

        Image.new("RGB", (4, 4)).save(gif, format="GIF")
        response = await _submit(client, [("anim.jpg", gif.getvalue(), "image/jpeg")])
        assert response.status_code == 422 and "a GIF file" in response.json()["errors"]["photos"]
        assert await h.published() == []


async def test_field_errors_name_each_field(nats_url: str) -> None:
    async with api(nats_url) as (h, client):
        response = await client.post("/api/v1/reports", data={"description": " ", "lat": "-6.2", "nik": "12345",
                                                              "email": "budi@", "visibility": "semua"},
                                     files=[("other", ("x.txt", b"x", "text/plain"))])
        assert response.status_code == 422
        errors = response.json()["errors"]
        assert set(errors) == {"description", "lon", "nik", "email", "visibility", "photos"}
        assert errors["nik"] == "NIK must be exactly 16 digits"
        too_many = await _submit(client, [(f"{n}.jpg", jpeg(_now_local()), "image/jpeg") for n in range(4)])
        assert too_many.status_code == 422 and "at most 3 photos" in too_many.json()["errors"]["photos"]
        not_form = await client.post("/api/v1/reports", json={"description": "x"})
        assert not_form.status_code == 415
        assert await h.published() == []


async def test_public_report_photo_is_stored_without_gps_but_keeps_orientation(nats_url: str) -> None:
    photo = jpeg(_now_local(), MONAS, orientation=6)
    assert images.has_gps(photo)
    async with api(nats_url) as (h, client):
        response = await _submit(client, [("IMG.jpg", photo, "image/jpeg")], visibility="public", anonymous="true")
        assert response.status_code == 201
        (env,) = await h.published()
        assert env.visibility == "public" and env.reporter.anonymous is True
        assert env.location is not None and env.location.source == "exif"  # routing still knows the place
        stored = await h.instance.media.get(env.attachments[0].object_key or "")
        assert stored != photo and not images.has_gps(stored)
        exif = piexif.load(stored)
        assert exif["GPS"] == {} and exif["0th"][piexif.ImageIFD.Orientation] == 6
        assert env.attachments[0].sha256 == env.attachments[0].object_key


async def test_retry_with_idempotency_key_gives_the_same_ref_once(nats_url: str, config: Config,
                                                                  tmp_path: Path) -> None:
    key = str(uuid.uuid4())
    photo = jpeg(_now_local(), MONAS)
    async with api(nats_url) as (h, client):
        first = await _submit(client, [("a.jpg", photo, "image/jpeg")], headers={"Idempotency-Key": key})
        early = await _submit(client, [("a.jpg", photo, "image/jpeg")], headers={"Idempotency-Key": key})
        await drain(await make_router(h.nc, config, write_rules(tmp_path)))  # now the reference index knows it
        again = await _submit(client, [("a.jpg", photo, "image/jpeg")], headers={"Idempotency-Key": key})
        other = await _submit(client, [("a.jpg", photo, "image/jpeg")])
        # Before routing a retry is accepted again under the same envelope id (the stream keeps one copy);
        # once routed, the reference index answers it without reading the photos again.
        assert (first.status_code, early.status_code, again.status_code, other.status_code) == (201, 201, 200, 201)
        assert first.json() == early.json() == again.json()
        assert other.json()["ref"] != first.json()["ref"]
        published = await h.published()
        assert [e.ref for e in published] == [first.json()["ref"], other.json()["ref"]]
        assert published[0].external_id == key
        bad = await _submit(client, [("a.jpg", photo, "image/jpeg")], headers={"Idempotency-Key": "a b"})
        assert bad.status_code == 422 and "Idempotency-Key" in bad.json()["errors"]


async def test_status_before_and_after_an_update(nats_url: str, config: Config, tmp_path: Path) -> None:
    async with api(nats_url) as (h, client):
        response = await _submit(client, [("a.jpg", jpeg(_now_local(), MONAS), "image/jpeg")],
                                 phone="0812 3456 7890", visibility="public",
                                 description="Jalan berlubang di depan halte, telepon saya 0812 3456 7890")
        ref = response.json()["ref"]
        unrouted = await client.get(response.json()["status_url"])
        assert unrouted.status_code == 404 and "within a minute" in unrouted.json()["errors"]["ref"]
        await drain(await make_router(h.nc, config, write_rules(tmp_path)))
        waiting = await client.get(response.json()["status_url"])
        assert waiting.status_code == 200
        assert waiting.json()["stage"] == "menunggu" and waiting.json()["label"] == "Menunggu"
        assert waiting.json()["colour"] == "#d32f2f" and waiting.json()["ref"] == ref
        assert waiting.json()["text"] == "Jalan berlubang di depan halte, telepon saya 08*******890"
        assert waiting.json()["channel"] == "app" and waiting.json()["history"] == []
        (env,) = await h.published()
        at = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
        for stage in ("koordinasi", "disposisi"):
            update = StatusUpdate(item_id=env.id, ref=ref, stage=stage, queue="kelurahan.3173011001",
                                  by="admin-gambir", at=at)
            await h.nc.jetstream().publish(subjects.status(env.id), encode(update))
        moved = (await client.get(f"/api/v1/reports/{ref.lower()}")).json()
        assert {k: moved[k] for k in ("ref", "stage", "label", "colour", "updated_at")} == {
            "ref": ref, "stage": "disposisi", "label": "Disposisi", "colour": "#1976d2",
            "updated_at": "2026-11-25T02:30:00Z"}
        assert [step["stage"] for step in moved["history"]] == ["koordinasi", "disposisi"]
        assert "phone" not in json.dumps(moved) and "6281234567890" not in json.dumps(moved)
        assert (await client.get("/api/v1/reports/KNL-0000-0000-0000")).status_code == 404
        assert (await client.get("/api/v1/reports/nonsense")).status_code == 404


async def test_openapi_served_equals_the_committed_document(nats_url: str) -> None:
    committed = json.loads((ROOT / "docs" / "openapi" / "app.json").read_text())
    assert committed == document(), "regenerate: python -m connectors.app.openapi > docs/openapi/app.json"
    async with api(nats_url) as (_h, client):
        served = await client.get("/api/v1/openapi.json")
        assert served.status_code == 200 and served.json() == committed


async def test_personal_data_never_reaches_the_logs(nats_url: str) -> None:
    out = io.StringIO()
    log.configure("debug", "json", stream=out)
    try:
        async with api(nats_url) as (_h, client):
            ok = await _submit(client, [("a.jpg", jpeg(_now_local()), "image/jpeg")], phone="081299887766",
                               email="siti.rahma@example.id", nik="3171014505900002", name="Siti Rahma")
            bad = await client.post("/api/v1/reports", data={"phone": "081299887766", "nik": "3171014505900002"},
                                    files=[("note", ("n.txt", b"x", "text/plain"))])
            assert (ok.status_code, bad.status_code) == (201, 422)
    finally:
        log.configure("debug", "json")
    text = out.getvalue()
    assert "report_received" in text and "report_refused" in text
    for value in ("081299887766", "6281299887766", "siti.rahma@example.id", "3171014505900002", "Siti Rahma"):
        assert value not in text


async def test_nats_gone_is_a_503_in_the_api_error_shape(nats_url: str) -> None:
    """Found in a walk-through: this JSON API answered its 503 in plain text, unlike every other refusal."""
    async with api(nats_url) as (h, client):
        response = await _submit(client, [("a.jpg", jpeg(_now_local(), MONAS), "image/jpeg")])
        assert h.instance.nc is not None
        await h.instance.nc.close()  # the instance's own connection: NATS is gone for it
        gone = await client.get(response.json()["status_url"])
        assert gone.status_code == 503
        assert gone.json() == {"errors": {"_service": "temporarily unavailable: retry later (a report: with the "
                                                      "same Idempotency-Key)"}}
        assert gone.headers["retry-after"] == "5"

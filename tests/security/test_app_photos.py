"""The app API with hostile or identifying photos: an impossible EXIF time is a 422 and a dead letter (it was
an OverflowError answered 503), and an anonymous report's photos lose what identifies the phone."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import piexif
from PIL import Image

from connectors.app import images, spec
from connectors.testkit import harness
from schemas import subjects
from tests.connectors.app.photos import MONAS, jpeg

SETTINGS: dict[str, Any] = {"account": "jaki", "max_body_bytes": 2_000_000, "max_photo_bytes": 500_000}
JAKARTA = ZoneInfo("Asia/Jakarta")
DEVICE = {"0th": {271: b"Samsung", 272: b"SM-A546E", 315: b"Budi Santoso", 305: b"A546EXXU4BWK1"},
          "Exif": {42032: b"Budi Santoso", 42033: b"R58W12ABCDE", 42037: b"LS-99812", 42016: b"F00DFACE0001"}}


def photo_with(stamp: str, offset: str | None = None, device: bool = False, gps: bool = False) -> bytes:
    exif: dict[str, Any] = {"0th": {}, "Exif": {piexif.ExifIFD.DateTimeOriginal: stamp.encode()}, "GPS": {}}
    if offset:
        exif["Exif"][piexif.ExifIFD.OffsetTimeOriginal] = offset.encode()
    if device:
        exif["0th"].update(DEVICE["0th"])
        exif["Exif"].update(DEVICE["Exif"])
    base = jpeg(None, MONAS if gps else None)
    if gps:
        exif["GPS"] = piexif.load(base)["GPS"]
    out = io.BytesIO()
    piexif.insert(piexif.dump(exif), base, out)
    return out.getvalue()


def fresh_stamp() -> str:
    return (datetime.now(UTC) - timedelta(minutes=5)).astimezone(JAKARTA).strftime("%Y:%m:%d %H:%M:%S")


async def submit(client: httpx.AsyncClient, photo: bytes, **fields: str) -> httpx.Response:
    data = {"description": "Pohon tumbang menutup jalan", **fields}
    return await client.post("/api/v1/reports", data=data, files=[("photos", ("IMG_1.jpg", photo, "image/jpeg"))])


async def test_year_one_exif_time_with_plus_14_is_422_and_dead_lettered(nats_url: str) -> None:
    photo = photo_with("0001:01:01 00:00:00", "+14:00")
    async with harness(spec, SETTINGS, nats_url) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
            response = await submit(client, photo)
        letters = [json.loads(m) for m in await h.messages(subjects.dlq("connector"))]
        assert await h.published() == [] and await h.messages(f"{subjects.RAW_PREFIX}.>") == []
    assert response.status_code == 422, response.text
    assert "0001:01:01 00:00:00 +14:00" in response.json()["errors"]["photos"]
    assert [x["reason"] for x in letters] == ["invalid_submission"]
    assert "photos:" in letters[0]["detail"]


async def test_every_refused_submission_is_dead_lettered_with_its_reason(nats_url: str) -> None:
    async with harness(spec, SETTINGS, nats_url) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
            no_photo = await client.post("/api/v1/reports", data={"description": "x"},
                                         files=[("note", ("n.txt", b"x", "text/plain"))])
            broken = await client.post("/api/v1/reports", content=b"--b\r\nContent-Disposition: form-data; na",
                                       headers={"content-type": "multipart/form-data; boundary=b"})
        letters = [json.loads(m) for m in await h.messages(subjects.dlq("connector"))]
    assert no_photo.status_code == 422 and broken.status_code in (400, 422)
    assert len(letters) == 2 and {x["reason"] for x in letters} == {"invalid_submission"}


async def test_anonymous_photo_loses_make_model_serial_and_owner_private_keeps_them(nats_url: str) -> None:
    photo = photo_with(fresh_stamp(), device=True, gps=True)
    assert set(images.device_tags(photo)) >= {271, 272, 42032, 42033}
    async with harness(spec, SETTINGS, nats_url) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
            anon = await submit(client, photo, visibility="private", anonymous="true", name="Budi Santoso")
            named = await submit(client, photo, visibility="private", name="Budi Santoso")
        assert (anon.status_code, named.status_code) == (201, 201), anon.text
        first, second = await h.published()
        anon_stored = await h.instance.media.get(first.attachments[0].object_key or "")
        named_stored = await h.instance.media.get(second.attachments[0].object_key or "")
    assert images.device_tags(anon_stored) == {}
    assert b"Budi" not in anon_stored and b"R58W12ABCDE" not in anon_stored and b"Samsung" not in anon_stored
    assert images.has_gps(anon_stored)  # private and strip_private_gps off: GPS is as configured, kept
    exif = piexif.load(anon_stored)["Exif"]
    assert exif[piexif.ExifIFD.DateTimeOriginal]  # the capture time stays: it says when the problem was seen
    with Image.open(io.BytesIO(anon_stored)) as image:
        assert image.size == (64, 48)
    assert named_stored == photo  # a named private report keeps its photo whole


async def test_anonymous_public_photo_loses_gps_and_device(nats_url: str) -> None:
    photo = photo_with(fresh_stamp(), device=True, gps=True)
    async with harness(spec, SETTINGS, nats_url) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
            response = await submit(client, photo, visibility="public", anonymous="true")
        assert response.status_code == 201
        (env,) = await h.published()
        stored = await h.instance.media.get(env.attachments[0].object_key or "")
    assert not images.has_gps(stored) and images.device_tags(stored) == {}
    assert env.location is not None and env.location.source == "exif"  # routing still knows the place


def test_png_fallback_also_loses_device_tags() -> None:
    exif = Image.Exif()
    exif[271] = "Samsung"
    exif[272] = "SM-A546E"
    exif.get_ifd(0x8769)[42033] = "R58W12ABCDE"
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="PNG", exif=exif.tobytes())
    data = out.getvalue()
    photo = images.inspect(data, UTC)
    assert images.device_tags(data)
    cleaned, media_type = images.scrubbed(data, photo, gps=False, device=True)
    assert media_type == "image/png" and images.device_tags(cleaned) == {}

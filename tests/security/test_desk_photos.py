"""The desk with a citizen's identifying photo: an anonymous walk-in report's photos lose what names the phone
or its owner, as the app's do; a named report keeps its photo whole."""

from __future__ import annotations

import httpx

from connectors.app import images
from connectors.desk import spec
from connectors.testkit import harness
from tests.connectors.desk.helpers import GAMBIR, csrf_of, key_of, login
from tests.security.test_app_photos import fresh_stamp, photo_with


async def _submit(client: httpx.AsyncClient, photo: bytes, **fields: str) -> httpx.Response:
    page = await client.get("/desk/")
    data = {"csrf": csrf_of(page.text), "key": key_of(page.text), "description": "Pohon tumbang menutup jalan",
            **fields}
    return await client.post("/desk/reports", data=data, files=[("attachments", ("IMG_1.jpg", photo, "image/jpeg"))])


async def test_anonymous_walk_in_photo_loses_make_model_serial_and_owner(nats_url: str) -> None:
    photo = photo_with(fresh_stamp(), device=True, gps=True)
    assert set(images.device_tags(photo)) >= {271, 272, 42032, 42033}
    async with harness(spec, GAMBIR, nats_url, instance="desk-kec-gambir") as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://desk.test") as client:
            await login(client)
            anon = await _submit(client, photo, anonymous="on")
            named = await _submit(client, photo, name="Budi Santoso")
        assert (anon.status_code, named.status_code) == (303, 303), anon.text
        first, second = await h.published()
        anon_stored = await h.instance.media.get(first.attachments[0].object_key or "")
        named_stored = await h.instance.media.get(second.attachments[0].object_key or "")
    assert first.reporter.anonymous is True and second.reporter.anonymous is False
    assert images.device_tags(anon_stored) == {}
    assert b"Budi" not in anon_stored and b"R58W12ABCDE" not in anon_stored and b"Samsung" not in anon_stored
    assert images.has_gps(anon_stored)  # a private walk-in report: where the photo was taken stays for the admin
    assert named_stored == photo

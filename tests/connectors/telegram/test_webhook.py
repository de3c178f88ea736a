"""Telegram webhook mode over HTTP on a real nats-server, with files fetched from a local Bot API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from connectors.errors import PermanentError
from connectors.telegram import spec
from connectors.telegram.connector import TelegramWebhook
from connectors.testkit import Harness, harness
from schemas import subjects
from tests.connectors.telegram.cases import CALLBACK, DOCUMENT, EDITED, GROUP, LOCATION, PHOTO, TEXT, VENUE
from tests.fakes.telegram import TOKEN, fake_bot_api

SECRET = "kanal-webhook-secret_0123456789"
SETTINGS: dict[str, Any] = {"bot_token": TOKEN, "secret_token": SECRET}
HEADER = "X-Telegram-Bot-Api-Secret-Token"


@asynccontextmanager
async def client_for(h: Harness) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=h.instance.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8085") as client:
        yield client


async def post(client: httpx.AsyncClient, body: bytes, secret: str | None = SECRET) -> httpx.Response:
    headers = {"content-type": "application/json"} | ({HEADER: secret} if secret is not None else {})
    return await client.post("/telegram/webhook", content=body, headers=headers)


async def test_updates_are_published_once_each_and_others_ignored(nats_url: str) -> None:
    async with harness(spec, SETTINGS, nats_url) as h, client_for(h) as client:
        assert isinstance(h.instance.connector, TelegramWebhook)
        for body in (TEXT, TEXT, LOCATION, VENUE, GROUP, EDITED, CALLBACK):  # TEXT twice: Telegram retried
            response = await post(client, body)
            assert response.status_code == 200
        published = await h.published()
        metrics = (await client.get("/metrics")).text
    assert [e.location is not None for e in published] == [False, True, True, False]
    assert all(e.account == "bot7012345678" for e in published)
    assert published[0].created_at.isoformat() == "2025-11-24T03:00:00+00:00"
    assert published[3].flags == ("forwarded",) and published[3].thread and published[3].thread.reply_to
    assert 'reason="edited_message"} 1.0' in metrics and 'reason="unsupported_update"} 1.0' in metrics


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x", SECRET.upper()])
async def test_wrong_or_missing_secret_token_is_403_and_publishes_nothing(nats_url: str, secret: str | None) -> None:
    async with harness(spec, SETTINGS, nats_url) as h, client_for(h) as client:
        assert (await post(client, TEXT, secret=secret)).status_code == 403
        assert await h.published() == []
        assert await h.messages(subjects.dlq("connector")) == []


@pytest.mark.parametrize(("body", "reason"), [
    (b'{"update_id": 815000001, "message": {"message_id": 1', "malformed_update"),
    (b"[]", "malformed_update"),
    (b'{"update_id": "satu"}', "malformed_update"),
])
async def test_malformed_update_is_400_and_dead_lettered(nats_url: str, body: bytes, reason: str) -> None:
    async with harness(spec, SETTINGS, nats_url) as h, client_for(h) as client:
        response = await post(client, body)
        letters = [json.loads(m) for m in await h.messages(subjects.dlq("connector"))]
        assert await h.published() == []
    assert response.status_code == 400 and reason in response.text
    assert [x["reason"] for x in letters] == [reason]


async def test_webhook_without_secret_token_refuses_to_start(nats_url: str) -> None:
    with pytest.raises(PermanentError, match="secret_token"):
        async with harness(spec, {"bot_token": TOKEN}, nats_url):
            pass


async def test_largest_photo_and_document_are_fetched_through_getfile(nats_url: str) -> None:
    photo = b"\xff\xd8\xff\xe0 jalan berlubang 1280x960"
    pdf = b"%PDF-1.4 surat pengaduan"
    async with fake_bot_api() as bot, \
            harness(spec, {**SETTINGS, "base_url": bot.base_url}, nats_url) as h, client_for(h) as client:
        bot.add_file("AgACAgUAAxkBAAIBd2VPhotoLarge", photo, "photos/file_12.jpg")
        bot.add_file("BQACAgUAAxkBAAIBeGVDocument", pdf, "documents/file_13.pdf")
        assert (await post(client, PHOTO)).status_code == 200
        assert (await post(client, DOCUMENT)).status_code == 200
        first, second = await h.published()
        (image,) = first.attachments
        (document,) = second.attachments
        assert image.kind == "image" and image.object_key and await h.instance.media.get(image.object_key) == photo
        assert first.text == "Lubang besar di Jl. Gatot Subroto 🕳️"
        assert document.kind == "document" and document.name == "surat_pengaduan_RT05.pdf"
        assert document.object_key and await h.instance.media.get(document.object_key) == pdf
        assert TOKEN not in (image.source_url or "") + (document.source_url or "")
    assert [name for name, _ in bot.calls] == ["getFile", "getFile"]


async def test_a_failed_download_is_recorded_not_dropped(nats_url: str) -> None:
    async with fake_bot_api() as bot, \
            harness(spec, {**SETTINGS, "base_url": bot.base_url, "media_max_bytes": 10}, nats_url) as h, \
            client_for(h) as client:
        bot.add_file("AgACAgUAAxkBAAIBd2VPhotoLarge", b"x" * 100, "photos/file_12.jpg")
        assert (await post(client, PHOTO)).status_code == 200
        assert (await post(client, DOCUMENT)).status_code == 200  # unknown file_id: getFile says 400
        first, second = await h.published()
    assert first.attachments[0].error and "over the limit" in first.attachments[0].error
    assert second.attachments[0].error and second.attachments[0].object_key is None

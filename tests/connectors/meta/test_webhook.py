"""The Meta webhook over HTTP on a real nats-server: handshake, signatures, batches, media through a fake Graph."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from connectors.meta import spec
from connectors.meta.signature import sign
from connectors.testkit import Harness, harness
from schemas import subjects
from tests.conftest import shared_path
from tests.connectors.meta import bodies as b
from tests.fakes.meta import VERSION, FakeGraph, Media, fake_graph

SECRET = "meta-app-secret-123456"
VERIFY = "verify-kanal-dki-123456"
BASE = {"app_secret": SECRET, "verify_token": VERIFY, "page_ids": [b.PAGE], "instagram_ids": [b.IG],
        "phone_number_ids": [b.PHONE, "277321005464405"], "api_version": VERSION}


@asynccontextmanager
async def meta(nats_url: str, graph: FakeGraph | None = None, **extra: Any) -> AsyncIterator[
        tuple[Harness, httpx.AsyncClient]]:
    settings: dict[str, Any] = dict(BASE)
    if graph is not None:
        settings.update(graph_url=graph.base_url, access_token=graph.token)
    settings.update(extra)
    async with harness(spec, settings, nats_url) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="https://kanal.jakarta.go.id") as client:
            yield h, client


async def post(client: httpx.AsyncClient, body: bytes, secret: str = SECRET,
               header: str | None = None) -> httpx.Response:
    headers = {"content-type": "application/json",
               "x-hub-signature-256": header if header is not None else sign(secret, body)}
    return await client.post("/webhook", content=body, headers=headers)


async def test_handshake_echoes_challenge_only_for_our_verify_token(nats_url: str) -> None:
    async with meta(nats_url) as (_, client):
        ok = await client.get("/webhook", params={"hub.mode": "subscribe", "hub.verify_token": VERIFY,
                                                  "hub.challenge": "1158201444"})
        assert (ok.status_code, ok.text) == (200, "1158201444")
        wrong = await client.get("/webhook", params={"hub.mode": "subscribe", "hub.verify_token": "guess",
                                                     "hub.challenge": "1158201444"})
        assert (wrong.status_code, wrong.text) == (403, "refused: bad_verify_token")  # not "signature"
        assert (await client.get("/webhook", params={"hub.verify_token": VERIFY,
                                                     "hub.challenge": "1"})).status_code == 403
        assert (await client.get("/webhook")).status_code == 403


async def test_real_signed_whatsapp_vector_is_accepted(nats_url: str) -> None:
    body = shared_path("samples", "whatsapp-cloud", "whatsapp_cloud_signed_text.raw_body.json").read_bytes()
    vector = json.loads(shared_path("samples", "whatsapp-cloud",
                                    "whatsapp_cloud_signed_text.signature_vector.json").read_text())
    async with meta(nats_url, app_secret=vector["app_secret"]) as (h, client):
        response = await post(client, body, header=vector["x_hub_signature_256"])
        assert response.status_code == 200
        tampered = await post(client, body.replace(b"Hey there", b"Hey thera"),
                              header=vector["x_hub_signature_256"])
        assert tampered.status_code == 403
        [envelope] = await h.published()
    assert envelope.account == "277321005464405"
    assert envelope.text == "Hey there! I am using PyWa."
    assert envelope.reporter.display_name == "PyWa Tests"


@pytest.mark.parametrize("header", [None, "", "sha256=", "sha1=1c99183cb7c44ea27fb834746086b65b89800db8",
                                    "sha256=" + "0" * 64, "wrong-secret"])
async def test_bad_or_missing_signature_is_403_and_publishes_nothing(nats_url: str, header: str | None) -> None:
    body = b.whatsapp(b.wa(b.wamid(1), "text", {"body": "Laporan palsu"}))
    async with meta(nats_url) as (h, client):
        if header is None:
            response = await client.post("/webhook", content=body)
        elif header == "wrong-secret":
            response = await post(client, body, secret="not-the-app-secret")
        else:
            response = await post(client, body, header=header)
        assert response.status_code == 403
        assert await h.published() == []
        assert await h.messages(f"{subjects.RAW_PREFIX}.>") == []
        assert await h.messages(subjects.dlq("connector")) == []


async def test_verify_token_is_not_a_signature(nats_url: str) -> None:
    body = b.page(b.messenger("m_forged", "forged"))
    async with meta(nats_url) as (h, client):
        response = await client.post("/webhook", content=body, params={"hub.verify_token": VERIFY})
        assert response.status_code == 403
        assert await h.published() == []


async def test_malformed_json_is_400_with_reason_and_dead_lettered(nats_url: str) -> None:
    async with meta(nats_url) as (h, client):
        response = await post(client, b'{"object":"page","entry":[')
        assert response.status_code == 400 and "malformed_json" in response.text
        letters = [json.loads(m) for m in await h.messages(subjects.dlq("connector"))]
    assert [x["reason"] for x in letters] == ["malformed_json"]


async def test_batch_each_event_published_bad_one_dead_lettered_answer_200(nats_url: str) -> None:
    body = b.dumps({"object": "page", "entry": [
        {"id": b.PAGE, "time": 1732418400123, "messaging": [
            b.messenger("m_1", b.TEXT_ID), b.receipt("read"), b.messenger("m_2", "Kedua 🙏"),
            {"sender": {"id": b.PSID}, "recipient": {"id": b.PAGE}, "timestamp": 1, "message": {"text": "no mid"}},
        ]},
        {"id": b.PAGE, "time": 1732418400124, "changes": [
            b.feed("comment", post_id=f"{b.PAGE}_1", comment_id="1_9", message="Komentar warga")]},
        {"id": b.OTHER_PAGE, "time": 1732418400125, "messaging": [b.messenger("m_3", "bukan halaman kita")]},
    ]})
    async with meta(nats_url) as (h, client):
        assert (await post(client, body)).status_code == 200
        assert (await post(client, body)).status_code == 200  # Meta retries: same ids, deduplicated
        published = await h.published()
        letters = [json.loads(m) for m in await h.messages(subjects.dlq("connector"))]
    assert [e.external_id for e in published] == ["m_1", "m_2", "1_9"]
    assert published[0].text == b.TEXT_ID
    assert {x["reason"] for x in letters} == {"malformed_event"}
    assert "mid" in letters[0]["detail"]


async def test_unknown_fields_and_objects_are_200_and_counted(nats_url: str) -> None:
    async with meta(nats_url) as (h, client):
        unknown = b.dumps({"object": "permissions", "entry": [{"id": "1", "time": 1, "changes": [
            {"field": "ads_management", "value": {"verb": "granted"}}]}]})
        assert (await post(client, unknown)).status_code == 200
        status = b.whatsapp(statuses=[{"id": b.wamid(1), "status": "read", "timestamp": "1", "recipient_id": b.WA_ID}])
        assert (await post(client, status)).status_code == 200
        metrics = (await client.get("/metrics")).text
        assert await h.published() == []
    assert 'reason="unsupported_object"} 1.0' in metrics
    assert 'reason="status"} 1.0' in metrics


async def test_whatsapp_media_is_fetched_by_id_through_the_graph_api(nats_url: str) -> None:
    photo = b"\xff\xd8\xff\xe0 JFIF jalan berlubang"
    async with fake_graph() as graph, meta(nats_url, graph) as (h, client):
        graph.media["1479537139650973"] = Media(photo, "image/jpeg")
        body = b.whatsapp(b.wa(b.wamid(30), "image", {"caption": "Lubang di Jl. Gatot Subroto",
                                                      "mime_type": "image/jpeg", "sha256": "x",
                                                      "id": "1479537139650973"}),
                          b.wa(b.wamid(31), "document", {"filename": "surat.pdf", "mime_type": "application/pdf",
                                                         "sha256": "x", "id": "404404404"}))
        assert (await post(client, body)).status_code == 200
        ok, missing = await h.published()
        stored = ok.attachments[0]
        assert stored.object_key and stored.sha256 == stored.object_key and stored.error is None
        assert await h.instance.media.get(stored.object_key) == photo
        assert stored.source_url == "whatsapp-media:1479537139650973" and stored.kind == "image"
        assert ok.text == "Lubang di Jl. Gatot Subroto"
        failed = missing.attachments[0]
        assert failed.object_key is None and failed.error and "code 100" in failed.error
        assert failed.name == "surat.pdf"
    assert ("lookup", "1479537139650973", f"Bearer {graph.token}") in graph.requests
    assert ("download", "1479537139650973", f"Bearer {graph.token}") in graph.requests


async def test_rejected_token_is_recorded_on_the_attachment(nats_url: str) -> None:
    async with fake_graph() as graph, meta(nats_url, graph, access_token="EAAG-revoked-token") as (h, client):
        graph.media["77"] = Media(b"RIFF....WEBP", "image/webp")
        body = b.whatsapp(b.wa(b.wamid(32), "sticker", {"mime_type": "image/webp", "sha256": "x", "id": "77"}))
        assert (await post(client, body)).status_code == 200
        [envelope] = await h.published()
    assert envelope.attachments[0].error and "code 190" in envelope.attachments[0].error
    assert "EAAG-revoked-token" not in envelope.attachments[0].error


async def test_messenger_cdn_media_is_downloaded_without_the_token(nats_url: str) -> None:
    async with fake_graph() as graph, meta(nats_url, graph) as (h, client):
        graph.cdn["467580915_n.jpg"] = Media(b"\x89PNG banjir", "image/png")
        body = b.page(b.messenger("m_photo", attachments=[
            {"type": "image", "payload": {"url": graph.cdn_url("467580915_n.jpg")}},
            {"type": "fallback", "payload": None, "title": "Berita banjir", "URL": "https://example.org/berita"}]))
        assert (await post(client, body)).status_code == 200
        [envelope] = await h.published()
    image, link = envelope.attachments
    assert image.object_key and image.media_type == "image/png" and image.kind == "image"
    assert link.kind == "other" and link.object_key is None and link.source_url == "https://example.org/berita"
    assert [r for r in graph.requests if r[0] == "cdn"] == [("cdn", "467580915_n.jpg", None)]


async def test_same_account_and_message_id_on_two_products_are_two_envelopes_and_retries_stay_one(
        nats_url: str) -> None:
    shared = "555000111222333"  # a page id and a phone_number_id that happen to be equal, one message id on both
    messenger = b.page(b.messenger("wamid.SAME0001", "Lewat Messenger", recipient=shared), page_id=shared)
    whatsapp = b.whatsapp(b.wa("wamid.SAME0001", "text", {"body": "Lewat WhatsApp"}), phone=shared)
    async with meta(nats_url, page_ids=[shared], phone_number_ids=[shared]) as (h, client):
        for body in (messenger, whatsapp, messenger, whatsapp):  # each delivered twice, as Meta retries
            assert (await post(client, body)).status_code == 200
        published = await h.published()
    assert sorted(e.text for e in published) == ["Lewat Messenger", "Lewat WhatsApp"]
    assert len({e.id for e in published}) == 2 and {e.external_id for e in published} == {"wamid.SAME0001"}


async def test_a_dead_lettered_sender_or_timestamp_is_never_published(nats_url: str) -> None:
    body = b.whatsapp(b.wa(b.wamid(60), "text", {"body": "x"}, sender="US.1234.bad"),
                      b.wa(b.wamid(61), "text", {"body": "y"}, timestamp="-5"),
                      b.wa(b.wamid(62), "text", {"body": "z"}, sender="+62 812-3456-7890"),
                      b.wa(b.wamid(63), "system", {"body": "User Siti changed from 6281234567890 to 6281298765432",
                                                   "wa_id": "6281298765432", "type": "user_changed_number"}))
    async with meta(nats_url) as (h, client):
        assert (await post(client, body)).status_code == 200
        assert await h.published() == []
        letters = [json.loads(m) for m in await h.messages(subjects.dlq("connector"))]
    assert [x["reason"] for x in letters] == ["invalid_sender", "invalid_timestamp", "invalid_sender",
                                              "system_message"]
    assert all(x["detail"] for x in letters)
    # A detail is logged (input_dead_lettered): the numbers stay in the dead letter's data, out of the detail.
    assert not [x["detail"] for x in letters if "812" in x["detail"] or "6281298765432" in x["detail"]]

"""The webhook side of the runtime on a real nats-server: publish once, refuse bad input, spool while NATS is away."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest

from connectors.testkit import harness, served
from connectors.testkit.harness import stored_messages
from kanal.testing import connected
from schemas import decode_envelope, subjects
from tests.connectors.providers import feed_provider
from tests.connectors.sample_channels import hook, message, sign

SECRET = "hook-secret-123456"
SETTINGS = {"account": "+628111272206", "secret": SECRET}


def _body(*numbers: int, **fields: object) -> bytes:
    return json.dumps({"messages": [message(n, **fields) for n in numbers]}).encode()


async def _post(client: httpx.AsyncClient, body: bytes, secret: str = SECRET) -> httpx.Response:
    return await client.post("/inbound", content=body, headers={"x-hook-signature": sign(secret, body)})


async def test_signed_request_publishes_each_envelope_once_with_raw(nats_url: str) -> None:
    async with harness(hook, SETTINGS, nats_url) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://hook") as client:
            body = _body(1, 2)
            assert (await _post(client, body)).status_code == 200
            assert (await _post(client, body)).status_code == 200  # provider retry
        published = await h.published()
        assert [e.external_id for e in published] == ["m1", "m2"]
        assert all(e.instance == h.instance.name for e in published)
        raw = await h.messages(published[0].raw.subject if published[0].raw else "")
        assert raw == [body]


async def test_bad_signature_is_refused_and_publishes_nothing(nats_url: str) -> None:
    async with harness(hook, SETTINGS, nats_url) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://hook") as client:
            assert (await _post(client, _body(1), secret="wrong-secret")).status_code == 403
            unsigned = await client.post("/inbound", content=_body(2))
            assert unsigned.status_code == 403
        assert await h.published() == []
        assert await h.messages(f"{subjects.RAW_PREFIX}.>") == []
        assert await h.messages(subjects.dlq("connector")) == []


async def test_malformed_body_is_400_and_dead_lettered_with_reason(nats_url: str) -> None:
    async with harness(hook, SETTINGS, nats_url) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://hook") as client:
            before = len(await h.messages(subjects.dlq("connector")))
            response = await _post(client, b'{"messages": [{"id": 1')
            assert response.status_code == 400
            assert "malformed_json" in response.text
        letters = [json.loads(m) for m in await h.messages(subjects.dlq("connector"))][before:]
        assert [x["reason"] for x in letters] == ["malformed_json"]
        assert letters[0]["instance"] == h.instance.name


async def test_oversized_body_is_413(nats_url: str) -> None:
    async with harness(hook, {**SETTINGS, "max_body_bytes": 1000}, nats_url) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://hook") as client:
            body = _body(1, text="x" * 2000)
            assert (await _post(client, body)).status_code == 413
        assert await h.published() == []


async def test_receipts_are_ignored_and_counted(nats_url: str) -> None:
    async with harness(hook, SETTINGS, nats_url) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://hook") as client:
            assert (await _post(client, _body(1, kind="receipt"))).status_code == 200
            metrics = (await client.get("/metrics")).text
        assert await h.published() == []
        assert 'kanal_connector_ignored_total{channel="hook"' in metrics
        assert 'reason="delivery_receipt"} 1.0' in metrics


async def test_media_is_stored_by_sha256_and_failures_are_recorded(nats_url: str) -> None:
    async with feed_provider() as provider, harness(hook, SETTINGS, nats_url) as h:
        provider.media["photo.jpg"] = b"\xff\xd8\xff\xe0 fake jpeg bytes"
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://hook") as client:
            ok = _body(1, media_url=f"{provider.base_url}/media/photo.jpg")
            gone = _body(2, media_url=f"{provider.base_url}/media/expired.jpg")
            assert (await _post(client, ok)).status_code == 200
            assert (await _post(client, gone)).status_code == 200
        first, second = await h.published()
        stored = first.attachments[0]
        assert stored.object_key and stored.sha256 == stored.object_key and stored.error is None
        assert await h.instance.media.get(stored.object_key) == provider.media["photo.jpg"]
        failed = second.attachments[0]
        assert failed.object_key is None and failed.error and "http_404" in failed.error
        assert failed.source_url and failed.source_url.endswith("expired.jpg")


async def test_readyz_reports_spool_and_credentials(nats_url: str) -> None:
    async with harness(hook, SETTINGS, nats_url) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://hook") as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["nats_connected"] is True
            h.instance.health.set_credentials(False, "token revoked")
            unready = await client.get("/readyz")
            assert unready.status_code == 503
            assert "credentials rejected: token revoked" in unready.json()["problems"]


@pytest.mark.slow
async def test_nats_down_spools_then_delivers_everything_in_order_once(tmp_path: Path) -> None:
    async with served(hook, SETTINGS, tmp_path, "hook-1") as run:
        async with httpx.AsyncClient(base_url=run.base_url, timeout=10) as client:
            for n in range(1, 21):
                assert (await _post(client, _body(n))).status_code == 200
            run.kill_nats()
            for n in range(21, 61):  # NATS is gone: answered from the spool
                assert (await _post(client, _body(n))).status_code == 200
            assert run.instance.spool.depth > 0
            run.restart_nats()
            for n in range(61, 71):
                assert (await _post(client, _body(n))).status_code == 200
        ids = await run.external_ids(70)
        assert ids == [f"m{n}" for n in range(1, 71)], "every envelope once, in the order received"
        assert await run.spool_depth_after_drain() == 0


async def test_large_raw_payload_goes_to_the_object_store(nats_url: str) -> None:
    async with harness(hook, SETTINGS, nats_url) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://hook") as client:
            body = _body(1, text="Genangan air setinggi lutut. " * 12_000)  # ~350 KB
            assert (await _post(client, body)).status_code == 200
        [published] = await h.published()
        assert published.raw is not None
        assert published.raw.subject is None
        assert published.raw.object_key == published.raw.sha256
        assert published.raw.size == len(body)
        assert await h.instance.media.get(published.raw.object_key) == body


@pytest.mark.slow
async def test_media_received_while_nats_is_down_is_kept_and_stored_later(tmp_path: Path) -> None:
    async with feed_provider() as provider, served(hook, SETTINGS, tmp_path, "hook-media") as run:
        provider.media["banjir.jpg"] = b"\xff\xd8\xff\xe0 banjir di Kemang"
        async with httpx.AsyncClient(base_url=run.base_url, timeout=10) as client:
            run.kill_nats()
            body = _body(1, media_url=f"{provider.base_url}/media/banjir.jpg")
            assert (await _post(client, body)).status_code == 200  # media downloaded, bytes spooled
            run.restart_nats()
        assert await run.external_ids(1) == ["m1"]
        async with connected(run.server.url) as nc:
            [data] = await stored_messages(nc, subjects.inbound("hook", "hook-media"))
            [attachment] = decode_envelope(data).attachments
            assert attachment.error is None
            assert attachment.object_key == hashlib.sha256(provider.media["banjir.jpg"]).hexdigest()
            store = await nc.jetstream().object_store(subjects.OBJ_MEDIA)
            assert (await store.get(attachment.object_key)).data == provider.media["banjir.jpg"]


async def test_a_huge_text_is_cut_in_the_envelope_and_kept_whole_in_the_raw_payload(nats_url: str) -> None:
    async with harness(hook, SETTINGS, nats_url) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://hook") as client:
            body = _body(1, text="Air naik terus di Kampung Melayu. " * 40_000)  # ~1.3 MB of text
            assert (await _post(client, body)).status_code == 200
        [published] = await h.published()
        assert "text_truncated" in published.flags
        assert 0 < len(published.text) < 600_000
        assert published.raw is not None
        assert published.raw.object_key is not None
        assert await h.instance.media.get(published.raw.object_key) == body


async def test_the_same_bad_input_is_dead_lettered_once(nats_url: str) -> None:
    async with harness(hook, SETTINGS, nats_url) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://hook") as client:
            for _ in range(3):  # the provider retries a body we answered 400 to
                assert (await _post(client, b'{"messages": [')).status_code == 400
        assert len(await h.messages(subjects.dlq("connector"))) == 1

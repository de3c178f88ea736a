"""JSON nested 50,000 deep to the Telegram and (signed) Meta webhooks: 400 and a dead letter, never a 503."""

from __future__ import annotations

import json

import httpx
import pytest

from connectors.meta import spec as meta_spec
from connectors.meta.signature import sign
from connectors.telegram import spec as telegram_spec
from connectors.testkit import harness
from schemas import jsondepth, subjects
from tests.connectors.telegram.cases import TEXT
from tests.fakes.telegram import TOKEN

DEEP_ARRAY = b"[" * 50_000 + b"]" * 50_000
DEEP_OBJECT = b'{"update_id": 1, "message": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001
TG_SECRET = "kanal-webhook-secret_0123456789"
META_SECRET = "meta-app-secret-123456"


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
async def test_telegram_deep_json_is_400_and_dead_lettered(nats_url: str, body: bytes) -> None:
    async with harness(telegram_spec, {"bot_token": TOKEN, "secret_token": TG_SECRET}, nats_url) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            response = await client.post("/telegram/webhook", content=body, headers={
                "content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
            fine = await client.post("/telegram/webhook", content=TEXT, headers={
                "content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
        letters = [json.loads(m) for m in await h.messages(subjects.dlq("connector"))]
        published = await h.published()
    assert response.status_code == 400, response.text
    assert "too_deeply_nested" in response.text
    assert [x["reason"] for x in letters] == ["too_deeply_nested"]
    assert fine.status_code == 200 and len(published) == 1  # the process is fine and takes the next update


async def test_signed_meta_deep_json_is_400_and_dead_lettered(nats_url: str) -> None:
    body = b'{"object": "page", "entry": ' + DEEP_ARRAY + b"}"
    async with harness(meta_spec, {"app_secret": META_SECRET, "verify_token": "verify-kanal-dki-123456"},
                       nats_url) as h:
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="https://kanal.jakarta.go.id") as client:
            response = await client.post("/webhook", content=body, headers={
                "content-type": "application/json", "x-hub-signature-256": sign(META_SECRET, body)})
            unsigned = await client.post("/webhook", content=body, headers={
                "content-type": "application/json", "x-hub-signature-256": sign("not-the-secret", body)})
        letters = [json.loads(m) for m in await h.messages(subjects.dlq("connector"))]
        assert await h.published() == []
    assert response.status_code == 400, response.text
    assert unsigned.status_code == 403  # the signature is still checked before anything is read
    assert [x["reason"] for x in letters] == ["too_deeply_nested"]


@pytest.mark.parametrize(("data", "expected"), [
    (b"{}", 1), (b"[]", 1), (b"  [[1, [2]], {}]", 3), (b'{"a": "[[[[{{{{"}', 1), (b'["\\"[[["]', 1),
    (b'["\\\\", [[]]]', 3), (b'"[[[["', 0), (b"[" * 100, 100), (b'["unterminated [[[', 1),
])
def test_depth_ignores_brackets_inside_strings(data: bytes, expected: int) -> None:
    assert jsondepth.depth(data) == expected


def test_payloads_within_the_limit_are_not_refused() -> None:
    nested = b"[" * jsondepth.MAX_DEPTH + b"]" * jsondepth.MAX_DEPTH
    assert jsondepth.too_deep(nested) is None
    assert jsondepth.too_deep(b"[" + nested + b"]") == jsondepth.MAX_DEPTH + 1
    assert jsondepth.too_deep(b"Body=halo&From=%2B628") is None  # form bodies are not JSON

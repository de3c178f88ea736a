"""X Account Activity webhook mode: the CRC challenge, signed deliveries over HTTP on a real nats-server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from connectors.errors import PermanentError
from connectors.testkit import Harness, harness
from connectors.x import spec
from connectors.x.activity import is_activity
from connectors.x.connector import XWebhook
from kanal.plugin.testing import SignedRequest, WebhookContract
from schemas import subjects
from tests.conftest import shared_path
from tests.fakes.x import x_provider

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "test_consumer_secret"
# Computed with the documented algorithm (also in ../shared/samples/x/x_webhook_crc_and_signature.md).
VECTOR = ("challenge_string", "sha256=583uAmerwtjpykYEAEm+CEIRm6dOywK4QKRr0ha/Pd4=")


def settings(**extra: Any) -> dict[str, Any]:
    return {"mode": "webhook", "account": "DKIJakarta", "bearer_token": "bearer-test", "consumer_secret": SECRET,
            **extra}


def fixture(name: str, media_base: str = "http://127.0.0.1:9") -> bytes:
    return (FIXTURES / name).read_bytes().replace(b"MEDIA_BASE", media_base.encode())


def signed(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@asynccontextmanager
async def client_for(h: Harness) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=h.instance.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8086") as client:
        yield client


async def deliver(client: httpx.AsyncClient, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-twitter-webhooks-signature"] = signature
    return await client.post("/x/webhook", content=body, headers=headers)


async def test_crc_challenge_is_answered_with_the_consumer_secret(nats_url: str) -> None:
    async with harness(spec, settings(), nats_url) as h, client_for(h) as client:
        assert isinstance(h.instance.connector, XWebhook)
        answer = await client.get("/x/webhook", params={"crc_token": VECTOR[0]})
        missing = await client.get("/x/webhook")
    assert answer.status_code == 200 and answer.json() == {"response_token": VECTOR[1]}
    assert missing.status_code == 400


async def test_crc_vectors_from_shared_samples(nats_url: str) -> None:
    text = shared_path("samples", "x", "x_webhook_crc_and_signature.md").read_text()
    vectors = json.loads(re.search(r"```json\n(.*?)```", text, re.S).group(1))  # type: ignore[union-attr]
    for vector in vectors:
        async with harness(spec, settings(consumer_secret=vector["consumer_secret"]), nats_url) as h, \
                client_for(h) as client:
            answer = await client.get("/x/webhook", params={"crc_token": vector["crc_token"]})
        assert answer.json() == {"response_token": vector["response_token"]}, vector


async def test_signed_mentions_replies_and_dms_are_published_once_each(nats_url: str) -> None:
    async with x_provider() as provider, harness(spec, settings(), nats_url) as h, client_for(h) as client:
        bodies = [fixture(n, provider.base_url) for n in ("activity_tweets.json", "activity_reply_place.json",
                                                          "activity_dms.json", "activity_favorite.json")]
        for body in [*bodies, bodies[0]]:  # the first again: X retried it
            response = await deliver(client, body, signed(body))
            assert response.status_code == 200, response.text
        published = await h.published()
        metrics = (await client.get("/metrics")).text
    assert [e.external_id for e in published] == ["1993160000000000001", "1993180000000000002",
                                                  "1993190000000000006"]
    mention, reply, dm = published
    assert mention.kind == "post" and mention.visibility == "public"
    assert mention.text.startswith("@DKIJakarta Jalan berlubang") and "& belum ada perbaikan" in mention.text
    assert mention.location is not None and (mention.location.lat, mention.location.lon) == (-6.1754, 106.8272)
    assert mention.reporter.handle == "budi_warga" and mention.reporter.user_id == "1500000000000000042"
    assert mention.created_at.isoformat() == "2026-11-24T02:15:07+00:00" and mention.language == "in"
    [photo] = mention.attachments
    assert photo.kind == "image" and photo.object_key and not photo.error  # downloaded into the object store
    assert reply.kind == "comment" and reply.thread is not None and reply.thread.reply_to == "1993160000000000001"
    assert "\n\n> Hujan deras sejak tengah malam" in reply.text
    assert reply.location is not None and reply.location.address == "Kelapa Gading, Jakarta Utara"
    assert reply.location.accuracy_m and 2000 < reply.location.accuracy_m < 3000  # the place box's half diagonal
    assert dm.kind == "direct_message" and dm.visibility == "private"
    assert dm.reporter.display_name == "Budi Santoso" and dm.reporter.handle == "budi_warga"
    assert dm.thread is not None and dm.thread.conversation == "1023456789-1500000000000000042"
    assert dm.created_at.isoformat() == "2026-11-24T04:00:00.123000+00:00"
    assert dm.attachments[0].object_key
    for reason in ("retweet", "own_post", "own_message", "activity_not_a_message"):
        assert f'reason="{reason}"' in metrics, reason


@pytest.mark.parametrize("signature", [None, "", "sha256=", signed(b"{}"), signed(b"x", "wrong-secret"),
                                       "sha256=583uAmerwtjpykYEAEm+CEIRm6dOywK4QKRr0ha/Pd4="])
async def test_a_delivery_without_a_valid_signature_is_403_and_publishes_nothing(
        nats_url: str, signature: str | None) -> None:
    body = fixture("activity_tweets.json")
    async with harness(spec, settings(), nats_url) as h, client_for(h) as client:
        assert (await deliver(client, body, signature)).status_code == 403
        assert await h.published() == []
        assert await h.messages(subjects.dlq("connector")) == []


class TestXWebhookContract(WebhookContract):
    """The request cases in testdata/: signed deliveries, a like, malformed bodies, bad or missing signatures."""

    spec = spec
    settings: ClassVar[dict[str, Any]] = settings()
    secrets: ClassVar[list[str]] = [SECRET, "bearer-test"]
    testdata = Path(__file__).parent / "testdata"

    def sign(self, request: SignedRequest) -> dict[str, str]:
        """X's signing step: HMAC-SHA256 of the raw body with the consumer secret."""
        return {"x-twitter-webhooks-signature": signed(request.body)}


async def test_webhook_mode_without_consumer_secret_refuses_to_start(nats_url: str) -> None:
    with pytest.raises(PermanentError, match="consumer_secret"):
        async with harness(spec, settings(consumer_secret=None), nats_url):
            pass


def test_activity_and_v2_raw_items_are_told_apart() -> None:
    assert is_activity(fixture("activity_dms.json"))
    assert not is_activity((FIXTURES / "mentions_expansions.json").read_bytes())
    assert not is_activity((FIXTURES / "dm_events.json").read_bytes())

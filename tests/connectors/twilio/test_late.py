"""Twilio's status callback for a WhatsApp reply it first accepted: recorded on the send record, and a late
63016 (window closed) sends the same words by SMS through the fallback (here the same Twilio number) once,
however often Twilio retries; signed requests through the real route, the Twilio fake, the real sender loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
from nats.aio.client import Client as NATS

from connectors.outbound.sender import SenderLoop
from connectors.testkit import harness
from connectors.twilio import spec
from connectors.twilio.connector import TwilioConnector
from kanal import log, sends
from schemas import encode, subjects
from schemas.outbound import OutboundMessage, SendRecord
from tests.connectors.twilio.cases import CITIZEN, NUMBER, whatsapp
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioMedia, form, sign, twilio_media
from tests.notifier.messages import final, normalised

PUBLIC = "https://kanal.jakarta.go.id/hooks/twilio/inbound"


@asynccontextmanager
async def running(nats_url: str) -> AsyncIterator[tuple[TwilioMedia, httpx.AsyncClient, SenderLoop, NATS]]:
    async with twilio_media() as fake:
        settings = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "account": NUMBER,
                    "public_url": "https://kanal.jakarta.go.id/hooks", "api_base_url": fake.base_url}
        async with harness(spec, settings, nats_url) as h:
            twilio = h.instance.connector
            assert isinstance(twilio, TwilioConnector)
            me = ("twilio", twilio.ctx.instance)
            twilio.ctx.fallback = me  # `whatsapp_fallback` naming the instance itself: SMS from the same number
            nc = NATS()
            await nc.connect(nats_url)
            try:
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=h.instance.app()),
                                             base_url="http://10.0.0.7:8083") as client:
                    loop = await SenderLoop.open(nc.jetstream(), twilio, *me, log.get("test"))
                    loop.fallback = me
                    yield fake, client, loop, nc
            finally:
                await nc.close()


async def run_loop(loop: SenderLoop, nc: NATS, message: OutboundMessage | None = None) -> list[str | None]:
    """Queue `message` (if any) as the notifier does and let the instance's sender loop take what is queued."""
    js = nc.jetstream()
    subject = subjects.outbound(loop.channel, loop.instance)
    if message is not None:
        await js.publish(subject, encode(message), headers={"Nats-Msg-Id": message.id})
    sub = await js.pull_subscribe(subject, durable=f"sender-{loop.instance}", stream=subjects.STREAM_OUT)
    try:
        return [await loop.deliver(msg) for msg in await sub.fetch(10, timeout=3)]
    except TimeoutError:
        return []


def callback(sid: str, state: str, **extra: str) -> bytes:
    return form([("MessageSid", sid), ("SmsSid", sid), ("MessageStatus", state), ("SmsStatus", state),
                 ("AccountSid", ACCOUNT_SID), ("From", f"whatsapp:{NUMBER}"), ("To", f"whatsapp:{CITIZEN}"),
                 ("ApiVersion", "2010-04-01"), *extra.items()])


async def post(client: httpx.AsyncClient, body: bytes, token: str = AUTH_TOKEN) -> httpx.Response:
    signature = sign(PUBLIC, parse_qsl(body.decode(), keep_blank_values=True), token)
    return await client.post("/twilio/inbound", content=body,
                             headers={"content-type": "application/x-www-form-urlencoded",
                                      "X-Twilio-Signature": signature})


async def record(loop: SenderLoop, message: OutboundMessage) -> SendRecord:
    found, _ = await sends.read(loop.kv, sends.record_key(message.item_id, message.id))
    assert found is not None
    return found


def reply() -> OutboundMessage:
    [env] = normalised(spec, whatsapp(), NUMBER)
    return final(env)


async def test_a_late_63016_sends_one_sms_however_often_twilio_retries(nats_url: str) -> None:
    message = reply()
    async with running(nats_url) as (fake, client, loop, nc):
        fake.customer_wrote(f"whatsapp:{CITIZEN}", datetime.now(UTC))
        assert await run_loop(loop, nc, message) == ["sent"]
        sid = (await record(loop, message)).provider_id
        assert sid is not None
        failed: dict[str, Any] = {"ErrorCode": "63016"}
        responses = [await post(client, callback(sid, "undelivered", **failed)) for _ in range(3)]  # + 2 retries
        states = await run_loop(loop, nc)  # the SMS twin, on the same instance's loop
        found = await record(loop, message)
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert states == ["sent"]
    whatsapp_send, sms = fake.sent
    assert whatsapp_send.fields["To"] == f"whatsapp:{CITIZEN}"
    assert (sms.fields["From"], sms.fields["To"]) == (NUMBER, CITIZEN) and sms.fields["Body"] == message.text
    assert found.delivery == "failed" and found.fallback is not None
    assert found.delivery_detail is not None and found.delivery_detail.startswith("whatsapp_24h_window_closed")


async def test_delivered_and_unreachable_are_recorded_and_forged_or_unknown_change_nothing(nats_url: str) -> None:
    first, second = reply(), final(normalised(spec, whatsapp(sid="SM" + "ab" * 16), NUMBER)[0])
    async with running(nats_url) as (fake, client, loop, nc):
        fake.customer_wrote(f"whatsapp:{CITIZEN}", datetime.now(UTC))
        assert await run_loop(loop, nc, first) == ["sent"]
        assert await run_loop(loop, nc, second) == ["sent"]
        sid1, sid2 = (await record(loop, first)).provider_id, (await record(loop, second)).provider_id
        assert sid1 is not None and sid2 is not None
        delivered = await post(client, callback(sid1, "delivered"))
        forged = await post(client, callback(sid1, "failed", ErrorCode="63016"), token="f" * 32)
        unreachable = await post(client, callback(sid2, "undelivered", ErrorCode="30003"))
        unknown = await post(client, callback("SM" + "0" * 32, "failed", ErrorCode="63016"))
        one, two = await record(loop, first), await record(loop, second)
        queued = await run_loop(loop, nc)
    assert [r.status_code for r in (delivered, forged, unreachable, unknown)] == [200, 403, 200, 200]
    assert one.delivery == "delivered" and one.fallback is None
    assert two.delivery == "failed" and two.fallback is None and queued == []
    assert two.delivery_detail is not None and two.delivery_detail.startswith("twilio_unreachable")

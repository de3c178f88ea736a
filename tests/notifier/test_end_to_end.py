"""The reporter's loop end to end: a running Twilio instance, the notifier app, a restart in the middle of a send.

A signed SMS comes in through the instance's webhook; the routed item on KANAL_ADMIN becomes an
acknowledgement on the Twilio fake's Messages API; stage changes follow. The instance is stopped while the
provider holds a request open (the send record says `sending`) and started again: that update is marked
`in_doubt`, never sent twice, and the update queued while it was down is sent once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
from nats.aio.client import Client as NATS
from nats.js.api import ConsumerConfig

from connectors.testkit.harness import stored_messages
from kanal import bus, sends
from kanal.testing import make_config
from schemas import Decision, Envelope, RoutedItem, StatusUpdate, decode_envelope, encode, subjects
from schemas.outbound import SendRecord
from tests.connectors.twilio.cases import CITIZEN, NUMBER, sms
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioMedia, sign, twilio_media
from tests.instances import notifier, running

NAME = "twilio-e2e"
QUEUE = "kelurahan.3171011001"


async def requests(fake: TwilioMedia, count: int) -> None:
    """Wait until the fake has received `count` Messages API requests."""
    async with asyncio.timeout(20):
        while len(fake.sent) < count:
            fake.received.clear()
            if len(fake.sent) >= count:
                break
            await fake.received.wait()


async def states(nc: NATS, item_id: str, expected: dict[str, str]) -> list[SendRecord]:
    """Wait until the item's send records reach `expected` (purpose -> state)."""
    kv = await bus.ensure_kv(nc.jetstream(), subjects.KV_OUTBOUND, history=5)
    async with asyncio.timeout(20):
        while True:
            found = await sends.for_item(kv, item_id)
            if {r.purpose: r.state for r in found} == expected:
                return found
            await asyncio.sleep(0.1)


def status(env: Envelope, stage: str) -> StatusUpdate:
    return StatusUpdate(item_id=env.id, ref=env.ref, stage=stage, queue=QUEUE, by="admin.gambir",  # type: ignore[arg-type]
                        at=datetime.now(UTC), note="Sudah diperbaiki." if stage == "selesai" else None)


async def test_ack_and_updates_reach_twilio_once_across_a_restart_mid_send(provisioned: NATS, tmp_path: Path) -> None:
    nc = provisioned
    js = nc.jetstream()
    async with twilio_media() as fake:
        config = make_config(nc.connected_url.geturl() if nc.connected_url else "", tmp_path, connectors={NAME: {
            "channel": "twilio", "port": 0, "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN,
            "account": NUMBER, "ack_template": "", "api_base_url": fake.base_url}})
        # The sender's durable consumer, made first with a short ack wait, so the send cut off by the restart
        # comes back in seconds rather than the default minute (the loop reuses an existing durable).
        await js.add_consumer(subjects.STREAM_OUT, ConsumerConfig(
            durable_name=f"sender-{NAME}", filter_subject=subjects.outbound("twilio", NAME), ack_wait=3,
            max_deliver=10))
        async with notifier(config, "twilio"):
            async with running(config, NAME) as instance:
                url = f"http://127.0.0.1:{instance.http_port}/twilio/inbound"
                body = sms()
                signature = sign(url, parse_qsl(body.decode(), keep_blank_values=True))
                async with httpx.AsyncClient() as client:
                    answer = await client.post(url, content=body, headers={
                        "content-type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
                assert answer.status_code == 200
                [env] = [decode_envelope(m) for m in await stored_messages(nc, subjects.inbound("twilio", NAME))]
                item = RoutedItem(kind="item", item_id=env.id, ref=env.ref, envelope=env, routed_at=datetime.now(UTC),
                                  decision=Decision(rule_id="geo", rule_type="geo", queue=QUEUE, reason="r"))
                await js.publish(subjects.admin(QUEUE), encode(item))
                await requests(fake, 1)
                ack = fake.sent[0]
                assert ack.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
                assert (ack.fields["From"], ack.fields["To"]) == (NUMBER, CITIZEN)
                assert env.ref in ack.fields["Body"]
                await states(nc, env.id, {"ack": "sent"})

                fake.hold = asyncio.Event()  # Twilio takes the next request but does not answer yet
                await js.publish(subjects.status(env.id), encode(status(env, "proses")))
                await requests(fake, 2)
                assert fake.sent[1].fields["Body"] == f"Laporan {env.ref}: status kini Proses."
                await states(nc, env.id, {"ack": "sent", "status": "sending"})
            fake.hold.set()  # the instance is gone: whether Twilio sent it is unknowable to Kanal

            await js.publish(subjects.status(env.id), encode(status(env, "selesai")))  # queued while down
            async with running(config, NAME):
                found = await states(nc, env.id, {"ack": "sent", "status": "in_doubt", "final": "sent"})
    assert len(fake.sent) == 3, [r.fields["Body"] for r in fake.sent]
    assert "Selesai" in fake.sent[2].fields["Body"] and env.ref in fake.sent[2].fields["Body"]
    in_doubt = next(r for r in found if r.state == "in_doubt")
    assert in_doubt.reason is not None and "never messaged twice" in in_doubt.reason
    final = next(r for r in found if r.purpose == "final")
    assert final.provider_id == f"SM{3:032x}"

"""WhatsApp's later word on a message Kanal sent (`statuses[]` in a signed webhook): it lands on the item's send
record, and a late "window closed" failure hands the words to the SMS fallback once, whatever Meta retries;
over HTTP on a real nats-server with the Graph fake and the real sender loops."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from nats.aio.client import Client as NATS
from structlog.testing import capture_logs

from connectors.meta import spec
from connectors.meta.connector import MetaConnector
from connectors.meta.signature import sign
from connectors.outbound.sender import SenderLoop
from connectors.testkit import harness
from connectors.testkit.harness import stored_messages
from kanal import log
from schemas import subjects
from schemas.outbound import OutboundMessage, decode_outbound
from tests.connectors.meta import bodies as b
from tests.connectors.meta.test_fallback import deliver, record
from tests.connectors.meta.test_send import TOKEN, VERSION, WHATSAPP, report
from tests.fakes.meta import FakeGraph, fake_graph
from tests.notifier.messages import final

SECRET = "meta-app-secret-0123456789"
SMS = ("kannel", "sms-late")


@asynccontextmanager
async def running(nats_url: str) -> AsyncIterator[tuple[MetaConnector, FakeGraph, httpx.AsyncClient, SenderLoop,
                                                           NATS]]:
    async with fake_graph() as graph:
        settings = {"app_secret": SECRET, "verify_token": "kanal-verify-token", "access_token": TOKEN,
                    "phone_number_ids": [b.PHONE], "graph_url": graph.base_url, "api_version": VERSION}
        async with harness(spec, settings, nats_url) as h:
            meta = h.instance.connector
            assert isinstance(meta, MetaConnector)
            # Meta takes the text (the reporter wrote minutes ago); its verdict comes later, in a status
            graph.customer_wrote(b.WA_ID, datetime.now(UTC))
            meta.ctx.fallback = SMS  # as `whatsapp_fallback = "sms-late"` sets it (tested in test_fallback.py)
            nc = NATS()
            await nc.connect(nats_url)
            transport = httpx.ASGITransport(app=h.instance.app())
            try:
                async with httpx.AsyncClient(transport=transport, base_url="https://kanal.jakarta.go.id") as client:
                    loop = await SenderLoop.open(nc.jetstream(), meta, "meta", meta.ctx.instance, log.get("test"))
                    loop.fallback = SMS
                    yield meta, graph, client, loop, nc
            finally:
                await nc.close()


def status(wamid: str, state: str, **extra: Any) -> bytes:
    return b.whatsapp(statuses=[{"id": wamid, "status": state, "timestamp": "1764940000",
                                 "recipient_id": b.WA_ID, **extra}])


async def post(client: httpx.AsyncClient, body: bytes, secret: str = SECRET) -> httpx.Response:
    return await client.post("/webhook", content=body, headers={"content-type": "application/json",
                                                                "x-hub-signature-256": sign(secret, body)})


async def sent_by_whatsapp(loop: SenderLoop, nc: NATS, message: OutboundMessage) -> str:
    """Let the sender loop send `message` through the Graph fake; the `wamid.` Meta gave it, which its later
    statuses name."""
    assert await deliver(loop, nc, message) == ["sent"]
    wamid = (await record(loop, message)).provider_id
    assert wamid is not None
    return wamid


WINDOW_CLOSED = {"errors": [{"code": 131047, "title": "Re-engagement message",
                             "message": "Re-engagement message",
                             "error_data": {"details": "Message failed to send because more than 24 hours have "
                                                       "passed since the customer last replied to this number."}}]}


async def test_a_late_window_failure_goes_by_sms_once_however_often_meta_retries(nats_url: str) -> None:
    message = final(report(WHATSAPP))
    async with running(nats_url) as (_meta, graph, client, loop, nc):
        wamid = await sent_by_whatsapp(loop, nc, message)
        first = await post(client, status(wamid, "failed", **WINDOW_CLOSED))
        failed = await record(loop, message)
        with capture_logs() as events:
            again = await post(client, status(wamid, "failed", **WINDOW_CLOSED))  # Meta's retry
        [twin] = [decode_outbound(m) for m in await stored_messages(nc, subjects.outbound(*SMS))]
        # the fallback instance's own sender loop sends the SMS; a second queueing would be a second record
        sms_loop = await SenderLoop.open(nc.jetstream(), _Recorder(), *SMS, log.get("test"))
        sub = await nc.jetstream().pull_subscribe(subjects.outbound(*SMS), durable="sender-sms-late",
                                                  stream=subjects.STREAM_OUT)
        states = [await sms_loop.deliver(msg) for msg in await sub.fetch(10, timeout=10)]
    assert (first.status_code, again.status_code) == (200, 200)
    assert len(graph.sent) == 1, "WhatsApp was called once; the SMS went through the fallback instance"
    assert failed.state == "sent" and failed.delivery == "failed" and failed.fallback == "sms-late"
    assert failed.delivery_detail is not None and failed.delivery_detail.startswith("whatsapp_24h_window_closed")
    assert "graph_error_131047" in failed.delivery_detail
    assert failed.reason is not None and "sent by SMS through sms-late instead" in failed.reason
    assert not [e for e in events if e["event"] == "reporter_message_fallback"], "the retry queued nothing"
    assert twin.text == message.text and twin.reply_to.kind == "sms" and twin.reply_to.reporter.contact == f"+{b.WA_ID}"
    assert states == ["sent"]


class _Recorder:
    """The SMS instance's provider side: it only counts what the sender loop hands it (the SMS senders have
    their own tests)."""

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> str:
        self.sent.append(message)
        return f"sms-{len(self.sent)}"


async def test_delivered_then_read_land_on_the_record_and_read_is_not_undone(nats_url: str) -> None:
    message = final(report(WHATSAPP))
    async with running(nats_url) as (_meta, _graph, client, loop, nc):
        wamid = await sent_by_whatsapp(loop, nc, message)
        for state in ("sent", "read", "delivered"):  # Meta does not promise order
            assert (await post(client, status(wamid, state))).status_code == 200
        found = await record(loop, message)
        assert await stored_messages(nc, subjects.outbound(*SMS)) == []
    assert found.delivery == "read" and found.delivery_at is not None and found.fallback is None


async def test_an_undeliverable_number_is_recorded_without_a_fallback(nats_url: str) -> None:
    message = final(report(WHATSAPP))
    undeliverable = {"errors": [{"code": 131026, "title": "Message undeliverable"}]}
    async with running(nats_url) as (_meta, _graph, client, loop, nc):
        wamid = await sent_by_whatsapp(loop, nc, message)
        assert (await post(client, status(wamid, "failed", **undeliverable))).status_code == 200
        found = await record(loop, message)
        assert await stored_messages(nc, subjects.outbound(*SMS)) == []
    assert found.delivery == "failed" and found.fallback is None
    assert found.delivery_detail is not None and found.delivery_detail.startswith("whatsapp_undeliverable")


async def test_unknown_ids_are_ignored_and_a_bad_signature_changes_nothing(nats_url: str) -> None:
    message = final(report(WHATSAPP))
    async with running(nats_url) as (_meta, _graph, client, loop, nc):
        wamid = await sent_by_whatsapp(loop, nc, message)
        with capture_logs() as events:
            unknown = await post(client, status("wamid.not-ours", "failed", **WINDOW_CLOSED))
        forged = await post(client, status(wamid, "failed", **WINDOW_CLOSED), secret="not-the-app-secret")
        found = await record(loop, message)
        queued = await stored_messages(nc, subjects.outbound(*SMS))
    assert unknown.status_code == 200 and forged.status_code == 403
    assert [e for e in events if e["event"] == "late_status_unknown"]
    assert found.delivery is None and found.fallback is None and queued == []

"""Done when: a report sent by WhatsApp and finished 4 days later reaches the reporter as a template message.

The whole reporter's loop on a real nats-server, with a clock the test controls: the Meta connector's own
normaliser makes the envelope, the notifier (its real app) records the reporter's messages and queues the
acknowledgement and the final word, the connector's sender loop delivers them to the local Graph fake, which
keeps WhatsApp's 24-hour rule on the same clock (free text after it: error 131047).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec
from nats.aio.client import Client as NATS

from connectors.meta import spec
from connectors.meta.connector import MetaConnector
from connectors.outbound.sender import SenderLoop
from kanal import log, sends
from kanal.config import Config
from notifier.service import Notifier
from notifier.settings import OutboundSettings
from schemas import Decision, Envelope, RoutedItem, StatusUpdate, subjects
from schemas.outbound import SendRecord, outbound_id
from tests.connectors.meta import bodies as b
from tests.connectors.meta.cases import ACCOUNTS
from tests.connectors.meta.test_send import connector
from tests.fakes.meta import FakeGraph
from tests.notifier.messages import normalised
from tests.notifier.test_loop import opened

INSTANCE = "wa-jakarta"
T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 09:00 WIB: the report is sent
SETTINGS = OutboundSettings(channels=["meta"], quiet_hours=None)
FINAL = {"final": {"id": {"name": "kanal_laporan_selesai", "language": "id", "parameters": ["ref", "status_url"]}}}


@dataclass
class Clock:
    """The time as the sender and the Graph fake see it."""

    now: datetime
    graph: FakeGraph

    def set(self, moment: datetime) -> None:
        self.now = moment
        self.graph.now = moment


def whatsapp(n: int, text: str, at: datetime) -> Envelope:
    """A WhatsApp message from the reporter at `at`, through the Meta connector's own normaliser."""
    raw = b.whatsapp(b.wa(b.wamid(n), "text", {"body": text}))
    [env] = normalised(spec, raw, ACCOUNTS, instance=INSTANCE, received_at=at)
    return msgspec.structs.replace(env, created_at=at)


@asynccontextmanager
async def loop_on_a_clock(nats_url: str, config: Config) -> AsyncIterator[tuple[Notifier, SenderLoop, Clock, NATS]]:
    async with connector(nats_url, whatsapp_templates=FINAL) as (meta, graph), opened(config, SETTINGS) as notifier:
        assert isinstance(meta, MetaConnector)
        clock = Clock(T0, graph)
        clock.set(T0)
        meta.sender.clock = lambda: clock.now
        graph.approve("kanal_laporan_selesai", "id", body_params=2)
        nc = NATS()
        await nc.connect(nats_url)
        try:
            yield notifier, await SenderLoop.open(nc.jetstream(), meta, "meta", INSTANCE, log.get("test")), clock, nc
        finally:
            await nc.close()


async def reporter_writes(notifier: Notifier, clock: Clock, env: Envelope) -> None:
    """The reporter's message reaches WhatsApp (its window) and Kanal (KANAL_IN, read by the notifier)."""
    clock.graph.customer_wrote(b.WA_ID, env.created_at)
    await notifier.on_inbound(env)


async def deliver_queued(loop: SenderLoop, nc: NATS) -> list[str | None]:
    """Let the connector's sender loop take what the notifier queued for it."""
    sub = await nc.jetstream().pull_subscribe(subjects.outbound("meta", INSTANCE), durable=f"sender-{INSTANCE}",
                                              stream=subjects.STREAM_OUT)
    return [await loop.deliver(msg) for msg in await sub.fetch(10, timeout=10)]


def routed(env: Envelope) -> RoutedItem:
    return RoutedItem(kind="item", item_id=env.id, ref=env.ref, envelope=env, routed_at=T0,
                      decision=Decision(rule_id="geo", rule_type="geo", queue="kelurahan.3174051001", reason="r"))


def finished(env: Envelope, at: datetime) -> StatusUpdate:
    return StatusUpdate(item_id=env.id, ref=env.ref, stage="selesai", queue="kelurahan.3174051001",
                        by="admin.kemang", at=at, note="Saluran sudah dibersihkan.")


async def record(loop: SenderLoop, env: Envelope, purpose: str, stage: str | None = None) -> SendRecord:
    found, _ = await sends.read(loop.kv, sends.record_key(env.id, outbound_id(env.id, purpose, stage)))
    assert found is not None
    return found


async def test_a_report_finished_four_days_later_reaches_the_reporter_as_a_template(nats_url: str,
                                                                                   config: Config) -> None:
    report = whatsapp(1, "Banjir di Jalan Kemang Raya, saluran tersumbat", T0)
    async with loop_on_a_clock(nats_url, config) as (notifier, loop, clock, nc):
        await reporter_writes(notifier, clock, report)
        assert await notifier.on_routed(routed(report)) is not None
        clock.set(T0 + timedelta(minutes=2))
        assert await deliver_queued(loop, nc) == ["sent"]

        clock.set(T0 + timedelta(days=4))  # Friday: the kelurahan closes the report
        final = await notifier.on_status(finished(report, clock.now))
        assert final is not None and final.last_inbound_at is None, "the report is the reporter's latest message"
        assert await deliver_queued(loop, nc) == ["sent"]
        ack_record, final_record = await record(loop, report, "ack"), await record(loop, report, "final", "selesai")
    ack, template = (post.body for post in clock.graph.sent)
    assert ack["type"] == "text" and report.ref in str(ack["text"]), "two minutes later: free text"
    assert template == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": b.WA_ID, "type": "template",
        "template": {"name": "kanal_laporan_selesai", "language": {"code": "id"}, "components": [
            {"type": "body", "parameters": [
                {"type": "text", "text": report.ref},
                {"type": "text", "text": SETTINGS.status_url.format(ref=report.ref)}]}]}}
    assert ack_record.template is None
    assert final_record.state == "sent" and final_record.template == "final/id" and final_record.attempts == 1


async def test_a_reporter_who_wrote_again_yesterday_gets_the_final_word_as_free_text(nats_url: str,
                                                                                    config: Config) -> None:
    report = whatsapp(2, "Lampu jalan mati di Jalan Ampera", T0)
    async with loop_on_a_clock(nats_url, config) as (notifier, loop, clock, nc):
        await reporter_writes(notifier, clock, report)
        await notifier.on_routed(routed(report))
        assert await deliver_queued(loop, nc) == ["sent"]
        asked = T0 + timedelta(days=3, hours=12)
        await reporter_writes(notifier, clock, whatsapp(3, "Pak, bagaimana kelanjutannya?", asked))
        clock.set(T0 + timedelta(days=4))
        final = await notifier.on_status(finished(report, clock.now))
        assert final is not None and final.last_inbound_at == asked
        assert await deliver_queued(loop, nc) == ["sent"]
        final_record = await record(loop, report, "final", "selesai")
    last = clock.graph.sent[-1].body
    assert last["type"] == "text" and "Selesai" in str(last["text"]), "12 hours after the reporter's last message"
    assert final_record.template is None

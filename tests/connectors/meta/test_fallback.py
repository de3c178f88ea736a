"""A WhatsApp template that cannot be sent: the sender loop records why on the item, never retries it, and hands
the same words to the SMS instance named as fallback, on a real nats-server with the Graph fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client as NATS

from connectors.kannel.sender import KannelSender
from connectors.kannel.settings import KannelSettings
from connectors.meta.connector import MetaConnector
from connectors.outbound.fallback import by_sms
from connectors.outbound.sender import SenderLoop
from connectors.runtime import Instance
from connectors.testkit.harness import stored_messages
from connectors.twilio.sender import addresses
from kanal import log, sends
from kanal.config import ConfigError
from kanal.settings_types import Secret
from kanal.testing import make_config
from schemas import encode, subjects
from schemas.outbound import OutboundMessage, SendRecord, decode_outbound
from tests.connectors.meta import bodies as b
from tests.connectors.meta.test_send import WHATSAPP, connector, report
from tests.connectors.meta.test_templates import TEMPLATES, stamped
from tests.fakes.meta import FakeGraph
from tests.notifier.messages import final

SMS = ("kannel", "sms-jkt")


@asynccontextmanager
async def looping(nats_url: str) -> AsyncIterator[tuple[MetaConnector, FakeGraph, SenderLoop, NATS]]:
    async with connector(nats_url, whatsapp_templates=TEMPLATES) as (meta, graph):
        nc = NATS()
        await nc.connect(nats_url)
        try:
            loop = await SenderLoop.open(nc.jetstream(), meta, "meta", "wa-jkt", log.get("test"))
            loop.fallback = SMS
            yield meta, graph, loop, nc
        finally:
            await nc.close()


async def deliver(loop: SenderLoop, nc: NATS, message: OutboundMessage, msg_id: str | None = None) -> list[str | None]:
    """Queue `message` on the instance's outbound subject as the notifier does, and let the loop take it."""
    js = nc.jetstream()
    subject = subjects.outbound("meta", loop.instance)
    await js.publish(subject, encode(message), headers={"Nats-Msg-Id": msg_id or message.id})
    sub = await js.pull_subscribe(subject, durable=f"sender-{loop.instance}", stream=subjects.STREAM_OUT)
    return [await loop.deliver(msg) for msg in await sub.fetch(10, timeout=10)]


async def record(loop: SenderLoop, message: OutboundMessage) -> SendRecord:
    found, _ = await sends.read(loop.kv, sends.record_key(message.item_id, message.id))
    assert found is not None
    return found


async def test_a_paused_template_goes_by_sms_through_the_fallback_instead(nats_url: str) -> None:
    env = report(WHATSAPP, age=timedelta(days=4))
    message = stamped(final(env))
    async with looping(nats_url) as (_meta, graph, loop, nc):
        graph.approve("kanal_laporan_selesai", "id", body_params=2, status="PAUSED")
        assert await deliver(loop, nc, message) == ["failed"]
        failed = await record(loop, message)
        note = await sends.template_note(loop.kv, "wa-jkt")  # what `kanal doctor` shows
        [twin] = [decode_outbound(m) for m in await stored_messages(nc, subjects.outbound(*SMS))]
        # the same message again (past the stream's duplicate window) is not sent twice, nor handed over twice
        assert await deliver(loop, nc, message, msg_id=f"{message.id}-again") == ["failed"]
        assert len(await stored_messages(nc, subjects.outbound(*SMS))) == 1
    assert len(graph.sent) == 1, "the refused template was called once"
    assert note is not None and not note.ok and note.reason is not None and "132015" in note.reason
    assert failed.state == "failed" and failed.fallback == "sms-jkt" and failed.attempts == 1
    assert failed.reason is not None and "whatsapp_template_paused" in failed.reason
    assert "sent by SMS through sms-jkt instead" in failed.reason
    assert twin.id != message.id and twin.item_id == message.item_id and twin.text == message.text
    assert (twin.reply_to.channel, twin.reply_to.instance, twin.reply_to.kind) == ("kannel", "sms-jkt", "sms")
    assert twin.reply_to.reporter.contact == f"+{b.WA_ID}" and twin.reply_to.flags == ()
    kannel = KannelSender(KannelSettings(secret=Secret("kannel-secret-0123456789"), account="+628111272206"),
                          "+628111272206", None)
    [query] = kannel.requests(twin)
    assert query["to"] == f"+{b.WA_ID}" and query["from"] == "+628111272206"
    twilio_twin = by_sms(message, "twilio", "tw-sms")
    assert twilio_twin is not None
    assert addresses(twilio_twin, "+628111272206") == ("+628111272206", f"+{b.WA_ID}"), "an SMS, not WhatsApp"


async def test_a_reporter_without_a_phone_number_gets_no_fallback_and_the_item_says_so(nats_url: str) -> None:
    env = report(WHATSAPP, age=timedelta(days=4))
    message = stamped(final(env))
    message = msgspec.structs.replace(message, reply_to=msgspec.structs.replace(
        message.reply_to, reporter=msgspec.structs.replace(message.reply_to.reporter, contact="ID.1234567890",
                                                           handle=None)))
    async with looping(nats_url) as (_meta, graph, loop, nc):
        graph.approve("kanal_laporan_selesai", "id", body_params=2, status="DISABLED")
        assert await deliver(loop, nc, message) == ["failed"]
        failed = await record(loop, message)
        assert await stored_messages(nc, subjects.outbound(*SMS)) == []
    assert failed.fallback is None and failed.reason is not None
    assert "whatsapp_template_disabled" in failed.reason and "no SMS fallback" in failed.reason


async def test_a_sent_template_is_recorded_with_its_name(nats_url: str) -> None:
    env = report(WHATSAPP, age=timedelta(days=4))
    message = stamped(final(env))
    async with looping(nats_url) as (_meta, graph, loop, nc):
        graph.approve("kanal_laporan_selesai", "id", body_params=2)
        assert await deliver(loop, nc, message) == ["sent"]
        sent = await record(loop, message)
        note = await sends.template_note(loop.kv, "wa-jkt")
        assert note is not None and note.ok and note.template == "final/id"
        assert await stored_messages(nc, subjects.outbound(*SMS)) == []
    assert sent.template == "final/id" and sent.provider_id is not None and sent.reason is None


def test_an_instance_naming_no_usable_fallback_does_not_start(tmp_path: Path) -> None:
    meta = {"channel": "meta", "app_secret": "meta-app-secret-0123456789", "verify_token": "kanal-verify-token",
            "phone_number_ids": [b.PHONE]}
    connectors = {"wa": {**meta, "whatsapp_fallback": "nowhere"},
                  "wa-ok": {**meta, "whatsapp_fallback": "sms"},
                  "sms": {"channel": "kannel", "secret": "kannel-secret-0123456789", "account": "+628111272206"}}
    config = msgspec.structs.replace(make_config("nats://127.0.0.1:4222", tmp_path), connectors=connectors)
    with pytest.raises(ConfigError, match=r"connectors\.wa\.whatsapp_fallback"):
        Instance(config, "wa")
    assert Instance(config, "wa-ok").fallback == ("kannel", "sms")

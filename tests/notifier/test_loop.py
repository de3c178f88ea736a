"""The reporter's loop on a real nats-server: notifier rules, and a sender that never sends twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client as NATS

from connectors.outbound.sender import SenderLoop
from connectors.testkit import Harness, harness
from connectors.testkit.harness import stored_messages
from kanal import bus, log, sends
from kanal.config import Config
from notifier.service import Notifier, build
from notifier.settings import OutboundSettings
from schemas import Decision, Envelope, RoutedItem, StatusUpdate, encode, subjects
from schemas.outbound import OutboundMessage, decode_outbound, reply_address
from tests.connectors.providers import FeedProvider, feed_provider
from tests.connectors.sample_channels import hook
from tests.factories import NOW, envelope

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = OutboundSettings(channels=["hook"], quiet_hours=None, rate_limit=2)


@asynccontextmanager
async def opened(config: Config, settings: OutboundSettings = SETTINGS) -> AsyncIterator[Notifier]:
    """The notifier's app connected (its one connection) with its Notifier bound; subscribers not started."""
    app = build(config)
    try:
        yield await app.open(settings)
    finally:
        await app.broker.stop()


@pytest.fixture
async def notifier(provisioned: NATS, config: Config) -> AsyncIterator[Notifier]:
    async with opened(config) as bound:
        yield bound


def _hook_envelope(instance: str, n: int = 1, **fields: object) -> Envelope:
    return envelope(f"m{n}", channel="hook", instance=instance, account="+628111272206", **fields)  # type: ignore[arg-type]


def _routed(env: Envelope) -> RoutedItem:
    return RoutedItem(kind="item", item_id=env.id, ref=env.ref, envelope=env, routed_at=NOW,
                      decision=Decision(rule_id="geo", rule_type="geo", queue="kelurahan.3171011001", reason="r"))


def _status(env: Envelope, stage: str, note: str | None = None) -> StatusUpdate:
    return StatusUpdate(item_id=env.id, ref=env.ref, stage=stage, queue="kelurahan.3171011001",  # type: ignore[arg-type]
                        by="admin.gambir", at=NOW, note=note)


async def _queued(nc: NATS, instance: str) -> list[OutboundMessage]:
    return [decode_outbound(m) for m in await stored_messages(nc, subjects.outbound("hook", instance))]


async def test_ack_then_status_then_final_reach_the_reporters_thread(provisioned: NATS, notifier: Notifier) -> None:
    env = _hook_envelope("hook-a")
    assert await notifier.on_routed(_routed(env))
    assert await notifier.on_routed(_routed(env)) is not None  # a redelivery composes the same message
    assert await notifier.on_status(_status(env, "proses"))
    assert await notifier.on_status(_status(env, "selesai", "Sudah diperbaiki."))
    queued = await _queued(provisioned, "hook-a")
    assert [m.purpose for m in queued] == ["ack", "status", "final"], "the repeated ack is dropped by its id"
    assert all(m.reply_to == reply_address(env) for m in queued)
    assert "Sudah diperbaiki." in queued[-1].text
    stored = (await notifier.threads.get(env.id)).value or b""
    assert env.text.encode() not in stored, "the thread keeps the reply address, not the complaint"


async def test_a_thread_stored_as_a_whole_envelope_still_gets_its_updates(notifier: Notifier) -> None:
    """Threads written before v1.1 hold the whole envelope; a status change still reaches the reporter."""
    env = _hook_envelope("hook-d")
    await notifier.threads.put(env.id, encode(env))
    message = await notifier.on_status(_status(env, "proses"))
    assert message is not None
    assert message.reply_to == reply_address(env)


async def test_opt_out_stops_updates_and_is_recorded(provisioned: NATS, notifier: Notifier) -> None:
    js = provisioned.jetstream()
    env = _hook_envelope("hook-b")
    await notifier.on_routed(_routed(env))
    stop = _hook_envelope("hook-b", 2, text="BERHENTI")
    assert await notifier.on_inbound(stop) == "out"
    assert await notifier.on_status(_status(env, "koordinasi")) is None
    assert [m.purpose for m in await _queued(provisioned, "hook-b")] == ["ack"]
    kv = await bus.ensure_kv(js, subjects.KV_OUTBOUND)
    [record] = await sends.for_item(kv, env.id)
    assert record.state == "skipped"
    assert record.reason == "the reporter opted out"
    assert await notifier.on_inbound(_hook_envelope("hook-b", 3, text="mulai")) == "in"
    assert await notifier.on_status(_status(env, "disposisi")) is not None


async def test_per_reporter_rate_limit_skips_with_a_reason(notifier: Notifier) -> None:
    env = _hook_envelope("hook-c")
    await notifier.on_routed(_routed(env))
    sent = [await notifier.on_status(_status(env, stage))
            for stage in ("koordinasi", "disposisi", "proses")]
    assert [m is not None for m in sent] == [True, True, False]
    assert (await notifier.on_status(_status(env, "selesai"))) is not None, "the final word always goes"


async def _deliver_all(loop: SenderLoop, nc: NATS, instance: str, within: float = 2) -> list[str | None]:
    js = nc.jetstream()
    subject = subjects.outbound("hook", instance)
    sub = await js.pull_subscribe(subject, durable=f"sender-{instance}", stream=subjects.STREAM_OUT)
    states: list[str | None] = []
    try:
        batch = await sub.fetch(10, timeout=within)
    except TimeoutError:
        return states
    for msg in batch:
        states.append(await loop.deliver(msg))
    return states


@asynccontextmanager
async def replying_hook(config: Config) -> AsyncIterator[tuple[FeedProvider, Harness, SenderLoop, Envelope]]:
    """A hook instance whose replies go to a local provider, with the acknowledgement of one report queued."""
    async with feed_provider() as provider, harness(
        hook, {"account": "+628111272206", "secret": "hook-secret-123456",
               "reply_url": f"{provider.base_url}/send"}, config.nats.url
    ) as h:
        js = h.nc.jetstream()
        env = _hook_envelope(h.instance.name)
        async with opened(config) as notifier:
            await notifier.on_routed(_routed(env))
        loop = await SenderLoop.open(js, h.instance.connector, "hook", h.instance.name, log.get("test"))
        yield provider, h, loop, env


async def test_sender_sends_once_and_marks_interrupted_sends_in_doubt(config: Config) -> None:
    async with replying_hook(config) as (provider, h, loop, _first):
        instance = h.instance.name
        js = h.nc.jetstream()
        second = _hook_envelope(instance, 2)
        assert await _deliver_all(loop, h.nc, instance) == ["sent"]
        assert len(provider.sent) == 1
        assert provider.sent[0]["dm"] is True  # an SMS report: private, answered privately
        # A crash between "sending" and the provider's answer: the restarted sender must not send again.
        message = (await _queued(h.nc, instance))[0]
        crashed = msgspec.structs.replace(message, id="crashed-message-id", item_id=second.id)
        await sends.write(loop.kv, sends.make(crashed, "sending", "hook", instance), create=True)
        await js.publish(subjects.outbound("hook", instance), encode(crashed), headers={"Nats-Msg-Id": crashed.id})
        assert await _deliver_all(loop, h.nc, instance) == ["in_doubt"]
        assert len(provider.sent) == 1
        [record] = await sends.for_item(loop.kv, second.id)
        assert record.state == "in_doubt"


async def test_sender_retries_a_failing_provider_then_records_the_send(config: Config) -> None:
    async with replying_hook(config) as (provider, h, loop, env):
        provider.send_status = 503
        assert await _deliver_all(loop, h.nc, h.instance.name) == ["retrying"]
        provider.send_status = None
        # redelivered after the nak's backoff for a first failure (2 s)
        assert await _deliver_all(loop, h.nc, h.instance.name, within=5) == ["sent"]
        assert len(provider.sent) == 1
        [record] = await sends.for_item(loop.kv, env.id)
        assert record.state == "sent"
        assert record.provider_id == "out-1"
        # a reply to this message names it so: it leads to the report's reference (router/followups.py)
        reply = await loop.kv.get(sends.reply_key("hook", h.instance.name, "out-1"))
        assert reply.value == env.ref.encode()


async def test_refused_send_is_recorded_for_the_admin(config: Config) -> None:
    async with harness(hook, {"account": "+628111272206", "secret": "hook-secret-123456"}, config.nats.url) as h:
        js = h.nc.jetstream()
        env = _hook_envelope(h.instance.name)
        async with opened(config) as notifier:
            await notifier.on_routed(_routed(env))
        loop = await SenderLoop.open(js, h.instance.connector, "hook", h.instance.name, log.get("test"))
        assert await _deliver_all(loop, h.nc, h.instance.name) == ["failed"]
        [record] = await sends.for_item(loop.kv, env.id)
        assert record.reason == "this hook instance has no reply_url"



async def test_notifier_process_acknowledges_routed_items(provisioned: NATS, tmp_path: Path) -> None:
    """The FastStream app end to end: a routed item on KANAL_ADMIN becomes a message on kanal.out."""
    conf = tmp_path / "kanal.toml"
    url = provisioned.connected_url
    assert url is not None
    conf.write_text(f'[nats]\nurl = "nats://{url.netloc}"\n[outbound]\nchannels = ["hook"]\nquiet_hours = ""\n')
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kanal", "notifier", "run", "--config", str(conf), cwd=ROOT,
        env={**os.environ, "KANAL_LOG__FORMAT": "json"}, stderr=asyncio.subprocess.DEVNULL)
    try:
        env = _hook_envelope("hook-p")
        item = _routed(env)
        await provisioned.jetstream().publish(subjects.admin(item.decision.queue), encode(item))
        async with asyncio.timeout(20):
            while not (queued := await _queued(provisioned, "hook-p")):
                await asyncio.sleep(0.2)
        assert queued[0].purpose == "ack"
        assert queued[0].item_id == env.id
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0


async def test_only_provider_calls_count_towards_giving_up(config: Config) -> None:
    async with replying_hook(config) as (provider, h, loop, env):
        loop.max_deliveries = 2
        provider.send_status = 503
        assert await _deliver_all(loop, h.nc, h.instance.name) == ["retrying"]
        assert await _deliver_all(loop, h.nc, h.instance.name, within=5) == ["failed"]
        [record] = await sends.for_item(loop.kv, env.id)
        assert record.attempts == 2
        assert record.reason is not None
        assert record.reason.startswith("gave up after 2 tries")
        assert provider.sent == []


async def test_a_status_question_is_answered_with_the_stage_and_link(provisioned: NATS, config: Config,
                                                                      notifier: Notifier, tmp_path: Path) -> None:
    from tests.router.fixtures import write_rules
    from tests.router.helpers import drain, make_router, publish

    js = provisioned.jetstream()
    report = _hook_envelope("hook-q", 1, text="Lampu jalan mati di Jalan Alpha sejak minggu lalu")
    await publish(provisioned, report)
    await drain(await make_router(provisioned, config, write_rules(tmp_path)))  # the router records the reference
    await js.publish(subjects.status(report.id), encode(_status(report, "koordinasi")))
    question = _hook_envelope("hook-q", 2, text=f"status {report.ref.lower()}?", kind="direct_message")
    assert await notifier.on_inbound(question) == "status"
    unknown = _hook_envelope("hook-q", 3, text="cek KNL-0000-0000-0001")
    assert await notifier.on_inbound(unknown) == "status"
    assert await notifier.on_inbound(_hook_envelope("hook-q", 4, text="terima kasih")) is None
    answer, missing = await _queued(provisioned, "hook-q")
    assert answer.text == (f"Laporan {report.ref}: status kini Koordinasi. Pantau perkembangannya di "
                           f"https://kanal.example.go.id/laporan/{report.ref}.")
    assert (answer.item_id, answer.purpose, answer.stage) == (report.id, "status", "koordinasi")
    assert answer.reply_to == reply_address(question)
    assert missing.text.startswith("Nomor laporan KNL-0000-0000-0001 tidak kami temukan")
    assert await notifier.on_inbound(question) == "status"  # a redelivery: the same message id
    assert len(await _queued(provisioned, "hook-q")) == 2

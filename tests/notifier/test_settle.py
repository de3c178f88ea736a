"""The notifier's app settles every message on a real nats-server: bad bodies and messages that keep failing
end in KANAL_DLQ with the reason, a transient failure is retried until it succeeds; nothing is left pending."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import msgspec
from nats.aio.client import Client as NATS

from connectors.testkit.harness import stored_messages
from kanal.config import Config
from notifier.service import App, build
from notifier.settings import OutboundSettings
from schemas import Decision, RoutedItem, StatusUpdate, encode, subjects
from schemas.deadletter import DeadLetter, decode_deadletter
from schemas.outbound import decode_outbound
from tests.factories import NOW, envelope

SETTINGS = OutboundSettings(channels=["hook"], quiet_hours=None)
QUEUE = "kelurahan.3171011001"


@asynccontextmanager
async def running(config: Config, max_deliver: int = 5) -> AsyncIterator[App]:
    app = build(config, max_deliver=max_deliver)
    try:
        await app.open(SETTINGS)
        await app.broker.start()
        yield app
    finally:
        await app.broker.stop()


def routed(n: int) -> RoutedItem:
    env = envelope(f"settle-{n}", channel="hook", instance="hook-s", account="+628111272206")
    return RoutedItem(kind="item", item_id=env.id, ref=env.ref, envelope=env, routed_at=NOW,
                      decision=Decision(rule_id="geo", rule_type="geo", queue=QUEUE, reason="r"))


async def dead_letters(nc: NATS, count: int) -> list[DeadLetter]:
    async with asyncio.timeout(30):
        while len(found := await stored_messages(nc, subjects.dlq("notifier"))) < count:
            await asyncio.sleep(0.1)
    return [decode_deadletter(data) for data in found]


async def settled(nc: NATS, stream: str, durable: str) -> None:
    """Wait until the consumer has nothing pending and nothing unacknowledged."""
    js = nc.jetstream()
    async with asyncio.timeout(30):
        while (info := await js.consumer_info(stream, durable)).num_pending or info.num_ack_pending:
            await asyncio.sleep(0.1)


async def test_bodies_that_do_not_decode_are_dead_lettered_at_once_with_the_reason(provisioned: NATS,
                                                                                    config: Config) -> None:
    js = provisioned.jetstream()
    update = StatusUpdate(item_id="i-1", ref="KNL-0000-0000-0001", stage="proses", queue=QUEUE, by="admin.gambir",
                          at=NOW)
    future = msgspec.json.encode({**msgspec.to_builtins(update), "v": 2})  # a contract this build does not read
    async with running(config):
        await js.publish(subjects.admin(QUEUE), b'{"kind": "item"')  # cut off
        await js.publish(subjects.status("i-1"), future)
        letters = await dead_letters(provisioned, 2)
        await settled(provisioned, subjects.STREAM_ADMIN, subjects.NOTIFIER_CONSUMER)
        await settled(provisioned, subjects.STREAM_STATUS, subjects.NOTIFIER_CONSUMER)
    by_subject = {letter.subject: letter for letter in letters}
    cut = by_subject[subjects.admin(QUEUE)]
    assert (cut.stage, cut.reason, cut.deliveries) == ("notifier", "invalid_message", 1)
    assert cut.data == b'{"kind": "item"'
    assert "invalid routed item" in cut.detail
    newer = by_subject[subjects.status("i-1")]
    assert newer.reason == "invalid_message"
    assert "unsupported version 2" in newer.detail
    assert newer.data == future


async def test_a_message_that_keeps_failing_is_dead_lettered_after_its_last_delivery(provisioned: NATS,
                                                                                    config: Config) -> None:
    js = provisioned.jetstream()
    async with running(config, max_deliver=2):
        await js.delete_key_value(subjects.KV_THREADS)  # every attempt to record the thread now fails
        item = routed(1)
        await js.publish(subjects.admin(QUEUE), encode(item))
        [letter] = await dead_letters(provisioned, 1)
        await settled(provisioned, subjects.STREAM_ADMIN, subjects.NOTIFIER_CONSUMER)
    assert (letter.reason, letter.deliveries, letter.subject) == ("notifier_failed", 2, subjects.admin(QUEUE))
    assert letter.data == encode(item)
    assert await stored_messages(provisioned, subjects.outbound("hook", "hook-s")) == []


async def test_a_transient_failure_is_retried_and_the_reporter_answered_once(provisioned: NATS,
                                                                            config: Config) -> None:
    from kanal import bus

    js = provisioned.jetstream()
    async with running(config) as app:
        await js.delete_key_value(subjects.KV_THREADS)
        item = routed(2)
        await js.publish(subjects.admin(QUEUE), encode(item))
        async with asyncio.timeout(30):  # delivered again after a failure: the bucket is still missing
            while not (await js.consumer_info(subjects.STREAM_ADMIN, subjects.NOTIFIER_CONSUMER)).num_redelivered:
                await asyncio.sleep(0.05)
        await bus.ensure_kv(app.broker.connection.jetstream(), subjects.KV_THREADS)  # the store is back
        async with asyncio.timeout(60):
            while not (queued := await stored_messages(provisioned, subjects.outbound("hook", "hook-s"))):
                await asyncio.sleep(0.1)
        await settled(provisioned, subjects.STREAM_ADMIN, subjects.NOTIFIER_CONSUMER)
    [message] = [decode_outbound(data) for data in queued]
    assert (message.item_id, message.purpose) == (item.item_id, "ack")
    assert await stored_messages(provisioned, subjects.dlq("notifier")) == []

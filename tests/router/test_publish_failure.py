"""A failed publish to KANAL_ADMIN is retried, never mistaken for an exact repeat (found by the chaos run)."""

from __future__ import annotations

import asyncio
from typing import Any

from nats.aio.client import Client as NATS
from nats.js.api import DiscardPolicy

from kanal.config import Config
from router.service import Router
from schemas import encode, subjects
from tests.factories import envelope
from tests.router.helpers import drain, publish, routed


async def test_redelivery_after_a_failed_publish_is_routed(provisioned: NATS, config: Config, router: Router) -> None:
    js = provisioned.jetstream()
    admin = (await js.stream_info(subjects.STREAM_ADMIN)).config
    # KANAL_ADMIN takes one message, then refuses, as a stream does during a leader election or when full.
    admin.discard = DiscardPolicy.NEW
    admin.max_msgs = 1
    await js.update_stream(admin)
    first = envelope("first", text="Pohon tumbang menutup jalan di Jl. Kebon Sirih")
    second = envelope("second", text="Saluran air mampet di depan pasar, bau sekali",
                      reporter=first.reporter.__class__(contact="+6281100000077"))
    await publish(provisioned, first)
    await drain(router)
    await publish(provisioned, second)
    msgs = await router.sub.fetch(10, timeout=5)
    await router.handle(msgs)  # the publish is refused: the input must be nak'ed, not acked as a repeat
    assert [i.item_id for i in await routed(provisioned)] == [first.id]
    admin.max_msgs = -1
    await js.update_stream(admin)
    await drain(router)
    assert [i.item_id for i in await routed(provisioned)] == [first.id, second.id]


async def test_a_repeat_in_the_same_batch_shares_the_first_copys_fate(
        provisioned: NATS, config: Config, router: Router) -> None:
    """Found by review: the second copy was acked as an exact repeat although the first was not stored."""
    js = provisioned.jetstream()
    env = envelope("twin", text="Lampu jalan mati di depan Stasiun Gondangdia sejak kemarin")
    subject = subjects.inbound(env.channel, env.instance)
    for copy in ("a", "b"):  # the same envelope twice in KANAL_IN (a connector re-sent it after the window)
        await js.publish(subject, encode(env), headers={"Nats-Msg-Id": f"{env.id}-{copy}"})
    admin = (await js.stream_info(subjects.STREAM_ADMIN)).config
    admin.subjects = ["kanal.admin.nowhere"]  # KANAL_ADMIN takes nothing: every item publish fails
    await js.update_stream(admin)
    msgs = await router.sub.fetch(2, timeout=5)
    assert len(msgs) == 2
    await router.handle(msgs)
    info = await router.sub.consumer_info()
    assert info.num_ack_pending == 2 and info.ack_floor.stream_seq == 0  # neither copy was acked
    admin.subjects = [f"{subjects.ADMIN_PREFIX}.>"]
    await js.update_stream(admin)
    await drain(router)
    assert [i.item_id for i in await routed(provisioned)] == [env.id]  # delivered once, when it could be


async def test_a_slow_publish_does_not_hide_the_first_report_from_a_concurrent_batch(
        provisioned: NATS, router: Router) -> None:
    """Found by review: decided index writes were cached 2 s, while an item publish may take up to 10 s."""
    first, again = envelope("slow-1"), envelope("slow-2")  # the same reporter and text, two messages
    await publish(provisioned, first, again)
    real = router.pipeline.publish_batch

    async def slow(messages: Any, fast: bool = False) -> list[BaseException | None]:
        if messages and messages[0][0].startswith(subjects.ADMIN_PREFIX) and first.id.encode() in messages[0][1]:
            await asyncio.sleep(3.0)  # a cluster electing a leader, a slow disk
        return await real(messages, fast)

    router.pipeline.publish_batch = slow  # type: ignore[method-assign]
    batch_one = await router.sub.fetch(1, timeout=5)
    batch_two = await router.sub.fetch(1, timeout=5)

    async def later() -> None:
        await asyncio.sleep(2.5)  # the second worker decides while the first batch is still publishing
        await router.handle(batch_two)

    await asyncio.gather(router.handle(batch_one), later())
    items = {i.item_id: i for i in await routed(provisioned)}
    assert items[again.id].kind == "duplicate" and items[again.id].dedup.duplicate_of == first.id

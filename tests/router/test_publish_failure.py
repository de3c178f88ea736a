"""A failed publish to KANAL_ADMIN is retried, never mistaken for an exact repeat (found by the chaos run)."""

from __future__ import annotations

from pathlib import Path

from nats.aio.client import Client as NATS
from nats.js.api import DiscardPolicy

from kanal.config import Config
from schemas import subjects
from tests.factories import envelope
from tests.router.fixtures import write_rules
from tests.router.helpers import drain, make_router, publish, routed


async def test_redelivery_after_a_failed_publish_is_routed(provisioned: NATS, config: Config, tmp_path: Path) -> None:
    js = provisioned.jetstream()
    router = await make_router(provisioned, config, write_rules(tmp_path))  # provisions the streams
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

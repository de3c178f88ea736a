"""Running an in-process router over a batch of envelopes, and reading what it delivered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS

from kanal.config import Config
from router.rules import RuleBook
from router.service import Router
from router.settings import DedupSettings, RouterSettings
from schemas import subjects
from schemas.deadletter import DeadLetter, decode_deadletter
from schemas.envelope import Envelope, encode
from schemas.routed import RoutedItem, decode_routed


async def make_router(nc: NATS, config: Config, rules: Path, **dedup: Any) -> Router:
    settings = RouterSettings(rules=str(rules), batch=64, metrics_port=-1, dedup=DedupSettings(**dedup))
    router = Router(config, settings, RuleBook(rules), nc)
    await router.start()
    return router


async def publish(nc: NATS, *envelopes: Envelope | bytes, subject: str | None = None) -> None:
    js = nc.jetstream()
    for env in envelopes:
        data = env if isinstance(env, bytes) else encode(env)
        subj = subject or (subjects.inbound(env.channel, env.instance) if isinstance(env, Envelope)
                           else "kanal.in.test.bad")
        headers = {"Nats-Msg-Id": env.id} if isinstance(env, Envelope) else None
        await js.publish(subj, data, headers=headers)


async def drain(router: Router) -> None:
    """Handle batches until the consumer has acked everything in KANAL_IN (its counts lag a fresh publish)."""
    last = (await router.js.stream_info(subjects.STREAM_IN)).state.last_seq
    while True:
        info = await router.sub.consumer_info()
        if info.num_pending == 0 and info.num_ack_pending == 0 and info.ack_floor.stream_seq >= last:
            return
        try:
            msgs = await router.sub.fetch(router.s.batch, timeout=0.5)
        except TimeoutError:
            continue
        await router.handle(msgs)


async def stream_messages(nc: NATS, stream: str) -> list[tuple[str, bytes]]:
    js = nc.jetstream()
    info = await js.stream_info(stream)
    out: list[tuple[str, bytes]] = []
    if info.state.messages == 0:
        return out
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(stream, seq)
        out.append((msg.subject or "", msg.data or b""))
    return out


async def routed(nc: NATS) -> list[RoutedItem]:
    return [decode_routed(data) for _, data in await stream_messages(nc, subjects.STREAM_ADMIN)]


async def dead_letters(nc: NATS) -> list[DeadLetter]:
    return [decode_deadletter(data) for _, data in await stream_messages(nc, subjects.STREAM_DLQ)]

"""The bus on a real nats-server: idempotent provisioning and the inbound duplicate window."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nats.aio.client import Client as NATS
from structlog.testing import capture_logs

from kanal import bus
from kanal.config import Config, NatsSettings
from schemas import encode, subjects
from tests.factories import envelope


async def test_provisioning_is_idempotent(nc: NATS, config: Config) -> None:
    js = nc.jetstream()
    await bus.provision(js, config)
    await bus.provision(js, config)
    names = {info.config.name for info in await js.streams_info()}
    assert {subjects.STREAM_IN, subjects.STREAM_ADMIN, subjects.STREAM_DLQ, subjects.STREAM_STATUS} <= names
    info = await js.stream_info(subjects.STREAM_IN)
    assert info.config.duplicate_window == config.nats.duplicate_window.total_seconds()


async def test_same_envelope_twice_is_stored_once(provisioned: NATS) -> None:
    js = provisioned.jetstream()
    env = envelope("SM123")
    subject = subjects.inbound(env.channel, env.instance)
    first = await js.publish(subject, encode(env), headers={"Nats-Msg-Id": env.id})
    second = await js.publish(subject, encode(env), headers={"Nats-Msg-Id": env.id})
    assert not first.duplicate
    assert second.duplicate
    info = await js.stream_info(subjects.STREAM_IN)
    assert info.state.messages == 1


async def test_subject_tokens_are_checked() -> None:
    import pytest

    with pytest.raises(ValueError, match="cannot be a NATS subject token"):
        subjects.inbound("twilio", "bad.instance")


async def test_a_lost_connection_warns_and_the_process_own_close_does_not(tmp_path: Path) -> None:
    server = bus.EmbeddedNats(tmp_path / "nats", port=0).start()
    try:
        with capture_logs() as events:
            client = await bus.connect(NatsSettings(url=server.url), name="closing")
            await client.close()
            assert [e["event"] for e in events if e.get("connection") == "closing"] == ["nats_closed"]
            lost = await bus.connect(NatsSettings(url=server.url), name="lost")
            server.kill()
            for _ in range(100):
                if any(e.get("connection") == "lost" for e in events):
                    break
                await asyncio.sleep(0.05)
            await lost.close()
    finally:
        server.stop()
    seen = [(e["event"], e["log_level"]) for e in events if e.get("connection") == "lost"]
    assert seen[0] == ("nats_disconnected", "warning"), seen

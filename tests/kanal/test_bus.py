"""The bus on a real nats-server: idempotent provisioning and the inbound duplicate window."""

from __future__ import annotations

from nats.aio.client import Client as NATS

from kanal import bus
from kanal.config import Config
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

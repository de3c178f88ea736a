"""The CRM forwarder against a local test CRM on real NATS: accepted, repeat (409), failures, timeouts, DLQ."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from nats.aio.client import Client as NATS

from admin.forwarder import CredentialsRejected, Forwarder, classify
from admin.settings import ForwarderSettings
from kanal.config import Config
from kanal.settings_types import Duration, Secret
from schemas import encode, subjects
from schemas.deadletter import decode_deadletter
from schemas.routed import decode_routed
from tests.admin.crm import TOKEN, FakeCrm, running_crm
from tests.admin.helpers import GAMBIR, item, publish


def _settings(crm: FakeCrm, **extra: object) -> ForwarderSettings:
    values: dict[str, object] = {"url": crm.url, "auth_value": Secret(TOKEN), "timeout": Duration(seconds=0.5),
                                 "backoff": Duration(seconds=0.05), "max_attempts": 3, "batch": 8,
                                 "fetch_wait": Duration(seconds=0.2)}
    values.update(extra)
    return ForwarderSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def crm() -> AsyncIterator[FakeCrm]:
    """The test CRM on a free loopback port (its answers scripted per test)."""
    async with running_crm() as crm:
        yield crm


@asynccontextmanager
async def forwarding(nc: NATS, config: Config, settings: ForwarderSettings) -> AsyncIterator[Forwarder]:
    fwd = Forwarder(config, settings, nc)
    await fwd.start()
    task = asyncio.create_task(fwd.run())
    try:
        yield fwd
    finally:
        fwd.stopping.set()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)
        await fwd.close()


async def _forward(nc: NATS, config: Config, crm: FakeCrm, until: Callable[[], bool] = lambda: True) -> None:
    """Run a forwarder to `crm` until `until()` holds and the forwarder has acked every item on the queues."""
    async with forwarding(nc, config, _settings(crm)) as fwd:
        await crm.wait(until)
        await _until(lambda: _settled(fwd), (0, 0))


async def _settled(fwd: Forwarder) -> tuple[int, int]:
    info = await fwd.sub.consumer_info()
    return info.num_pending, info.num_ack_pending


async def _dead_letters(nc: NATS) -> list[bytes]:
    js = nc.jetstream()
    info = await js.stream_info(subjects.STREAM_DLQ)
    return [(await js.get_msg(subjects.STREAM_DLQ, s)).data or b""
            for s in range(info.state.first_seq, info.state.last_seq + 1)] if info.state.messages else []


def test_classification() -> None:
    assert classify(201).verdict == "accepted"
    assert classify(409).verdict == "accepted"
    assert classify(503, retry_after="7").retry_after == 7.0
    assert classify(429).verdict == "retry"
    assert classify(None, "timeout").verdict == "retry"
    assert classify(401).verdict == "credentials"
    assert classify(422).verdict == "reject"


async def test_items_reach_the_crm_once_with_their_idempotency_key(
        provisioned: NATS, config: Config, crm: FakeCrm) -> None:
    items = [item(f"fw-{n}") for n in range(3)]
    await publish(provisioned, *items)
    crm.stored[items[0].item_id] = b"sent earlier"  # the CRM already has the first one: 409 is success
    await _forward(provisioned, config, crm, lambda: len(crm.answers) == 3)
    assert sorted(crm.answers) == sorted([(items[0].item_id, 409), (items[1].item_id, 201),
                                          (items[2].item_id, 201)])
    assert decode_routed(crm.stored[items[1].item_id]).item_id == items[1].item_id
    assert await _dead_letters(provisioned) == []


async def test_failures_and_timeouts_are_retried_and_acked_only_after_acceptance(
        provisioned: NATS, config: Config, crm: FakeCrm) -> None:
    flaky, slow = item("fw-flaky"), item("fw-slow")
    await publish(provisioned, flaky, slow)
    crm.script = {flaky.item_id: ["500", "503"], slow.item_id: ["hang"]}
    async with forwarding(provisioned, config, _settings(crm)) as fwd:
        await crm.wait(lambda: crm.attempts[flaky.item_id] >= 1 and crm.attempts[slow.item_id] >= 1)
        pending, unacked = await _settled(fwd)
        assert pending + unacked == 2  # nothing acked while the CRM has not accepted
        await crm.wait(lambda: flaky.item_id in crm.stored and slow.item_id in crm.stored)
        await _until(lambda: _settled(fwd), (0, 0))
    assert crm.attempts[flaky.item_id] == 3
    assert crm.attempts[slow.item_id] == 2  # timed out once, then accepted
    assert await _dead_letters(provisioned) == []


async def test_after_max_attempts_the_item_is_dead_lettered_with_the_last_error(
        provisioned: NATS, config: Config, crm: FakeCrm) -> None:
    doomed, bad = item("fw-doomed"), item("fw-bad")
    await publish(provisioned, doomed, bad)
    crm.script = {doomed.item_id: ["500"] * 10, bad.item_id: ["422"]}
    await _forward(provisioned, config, crm)
    assert crm.attempts[doomed.item_id] == 3 and crm.attempts[bad.item_id] == 1
    assert crm.stored == {}
    letters = sorted((decode_deadletter(d) for d in await _dead_letters(provisioned)), key=lambda x: x.reason)
    assert [(x.stage, x.reason) for x in letters] == [("forwarder", "crm_rejected"), ("forwarder", "crm_unavailable")]
    assert decode_routed(letters[1].data).item_id == doomed.item_id
    assert letters[1].detail.startswith("after 3 attempts: http_500")
    assert letters[0].detail.startswith("http_422")


async def test_rejected_credentials_stop_the_forwarder_and_keep_the_item(
        provisioned: NATS, config: Config, crm: FakeCrm) -> None:
    await publish(provisioned, item("fw-auth"))
    fwd = Forwarder(config, _settings(crm, auth_value=Secret("Bearer wrong-token")), provisioned)
    await fwd.start()
    with pytest.raises(CredentialsRejected, match="http_401"):
        await asyncio.wait_for(fwd.run(), 10)
    await fwd.close()
    pending, unacked = await _settled(fwd)
    assert pending + unacked == 1 and crm.stored == {}
    assert await _dead_letters(provisioned) == []


async def _until(probe: object, wanted: object, within: float = 20.0) -> None:
    """Poll a cheap server-side probe until it returns `wanted` (consumer state has no push notification)."""
    async def loop() -> None:
        while await probe() != wanted:  # type: ignore[operator]
            await asyncio.sleep(0.02)
    await asyncio.wait_for(loop(), within)


async def test_a_rerouted_item_reaches_the_crm_as_a_new_fact(provisioned: NATS, config: Config, crm: FakeCrm) -> None:
    import msgspec

    from schemas.routed import Reroute

    first = item("fw-moved")
    moved = msgspec.structs.replace(first, reroutes=(Reroute(
        from_queue=GAMBIR, to_queue="kecamatan.317101", reason="urusan kecamatan", by="lurah-gambir",
        at=first.routed_at),))
    await publish(provisioned, first)
    await provisioned.jetstream().publish(subjects.admin("kecamatan.317101"), encode(moved),
                                          headers={"Nats-Msg-Id": f"{first.item_id}:reroute:1"})
    await _forward(provisioned, config, crm, lambda: len(crm.answers) == 2)
    assert sorted(crm.answers) == sorted([(first.item_id, 201), (f"{first.item_id}:reroute-1", 201)])


async def test_the_crm_receives_the_category(provisioned: NATS, config: Config, crm: FakeCrm) -> None:
    import msgspec

    plain = item("fw-cat")
    about = msgspec.structs.replace(plain, decision=msgspec.structs.replace(
        plain.decision, category="pohon", category_confidence=0.9, category_cues=("pohon tumbang",)))
    await publish(provisioned, about)
    await _forward(provisioned, config, crm, lambda: about.item_id in crm.stored)
    sent = msgspec.json.decode(crm.stored[about.item_id])
    assert sent["decision"]["category"] == "pohon" and sent["decision"]["category_confidence"] == 0.9
    assert sent["decision"]["category_cues"] == ["pohon tumbang"]

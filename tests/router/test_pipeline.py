"""The router's pipelined publishes on a real server: stored, refused and unanswered publishes are told apart."""

from __future__ import annotations

from nats.aio.client import Client as NATS
from nats.js.api import DiscardPolicy, StreamConfig

from router.pipeline import Pipeline, PublishError


async def test_acks_errors_and_no_responders(nc: NATS) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="PIPE_TEST", subjects=["pipe.test.>"]))
    pipe = Pipeline(nc, max_pending=3)  # smaller than the batch: publish must wait for room, not fail
    await pipe.start()
    results = await pipe.publish_batch([
        *((f"pipe.test.{i}", b"x", {"Nats-Msg-Id": f"m{i % 4}"}) for i in range(8)),
        ("pipe.test.z", b"x", {"Nats-Expected-Stream": "OTHER"}),
        ("pipe.nowhere", b"x", {}),
    ])
    assert results[:8] == [None] * 8  # repeats of a msg id are acked as duplicates: stored once, not an error
    assert isinstance(results[8], PublishError) and "refused" in str(results[8])
    assert isinstance(results[9], PublishError) and "no responders" in str(results[9])
    assert (await js.stream_info("PIPE_TEST")).state.messages == 4
    assert pipe.pending == {}


async def test_an_unanswered_publish_fails_instead_of_hanging(nc: NATS) -> None:
    async def swallow(_msg: object) -> None:
        return None

    await nc.subscribe("pipe.silent", cb=swallow)  # a responder that never acks
    await nc.jetstream().add_stream(StreamConfig(name="PIPE_TEST", subjects=["pipe.test.>"]))
    pipe = Pipeline(nc, timeout=0.5)
    await pipe.start()
    stored, silent = await pipe.publish_batch([("pipe.test.1", b"x", {}), ("pipe.silent", b"x", {})])
    assert stored is None
    assert isinstance(silent, PublishError) and "no ack" in str(silent)
    assert pipe.pending == {}


async def test_a_batch_gets_one_verdict_per_message(nc: NATS) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="FULL", subjects=["full.>"], max_msgs=2, discard=DiscardPolicy.NEW))
    await js.publish("full.1", b"x", headers={"Nats-Msg-Id": "m1"})  # stored before a kill, then redelivered
    pipe = Pipeline(nc)
    await pipe.start()
    results = await pipe.publish_batch([(f"full.{i}", b"x", {"Nats-Msg-Id": f"m{i}"}) for i in range(4)])
    # m0 fits, m1 is a repeat (acked as a duplicate), the full stream refuses m2 and m3 each on its own.
    assert results[:2] == [None, None]
    assert all(isinstance(r, PublishError) and "refused" in str(r) for r in results[2:])
    assert (await js.stream_info("FULL")).state.messages == 2

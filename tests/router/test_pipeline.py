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
    stored = [await pipe.publish(f"pipe.test.{i}", b"x", {"Nats-Msg-Id": f"m{i % 4}"}) for i in range(8)]
    refused = await pipe.publish("pipe.test.z", b"x", {"Nats-Expected-Stream": "OTHER"})
    nobody = await pipe.publish("pipe.nowhere", b"x", {})
    results = await pipe.wait([*stored, refused, nobody])
    assert results[:8] == [None] * 8  # repeats of a msg id are acked as duplicates: stored once, not an error
    assert isinstance(results[8], PublishError) and "refused" in str(results[8])
    assert isinstance(results[9], PublishError) and "no responders" in str(results[9])
    assert (await js.stream_info("PIPE_TEST")).state.messages == 4
    assert pipe.pending == {}


async def test_an_unanswered_publish_fails_instead_of_hanging(nc: NATS) -> None:
    async def swallow(_msg: object) -> None:
        return None

    await nc.subscribe("pipe.silent", cb=swallow)  # a responder that never acks
    pipe = Pipeline(nc, timeout=0.2)
    await pipe.start()
    [result] = await pipe.wait([await pipe.publish("pipe.silent", b"x", {})])
    assert isinstance(result, PublishError) and "no ack" in str(result)
    assert pipe.pending == {}


async def _stored(nc: NATS, stream: str) -> list[tuple[str, dict[str, str]]]:
    js = nc.jetstream()
    last = (await js.stream_info(stream)).state.last_seq
    out = []
    for seq in range(1, last + 1):
        msg = await js.get_msg(stream, seq)
        out.append((msg.subject, dict(msg.headers or {})))
    return out


async def test_a_batch_is_stored_with_one_atomic_write(nc: NATS) -> None:
    await nc.jetstream().add_stream(StreamConfig(name="ATOM", subjects=["atom.>"], allow_atomic=True))
    pipe = Pipeline(nc)
    await pipe.start()
    results = await pipe.publish_batch([(f"atom.{i}", b"x", {"Nats-Msg-Id": f"a{i}"}) for i in range(5)])
    assert results == [None] * 5
    stored = await _stored(nc, "ATOM")
    assert [subject for subject, _ in stored] == [f"atom.{i}" for i in range(5)]
    assert len({h["Nats-Batch-Id"] for _, h in stored}) == 1  # one batch, committed once
    assert [h["Nats-Batch-Sequence"] for _, h in stored] == ["1", "2", "3", "4", "5"]
    assert pipe.pending == {}


async def test_a_redelivered_message_in_a_batch_is_stored_once_and_the_rest_too(nc: NATS) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="ATOM", subjects=["atom.>"], allow_atomic=True))
    await js.publish("atom.1", b"x", headers={"Nats-Msg-Id": "a1"})  # stored before a kill, then redelivered
    pipe = Pipeline(nc)
    await pipe.start()
    # The stream refuses an atomic batch holding a known message id; each message is then published alone.
    results = await pipe.publish_batch([(f"atom.{i}", b"x", {"Nats-Msg-Id": f"a{i}"}) for i in range(4)])
    assert results == [None] * 4
    assert [subject for subject, _ in await _stored(nc, "ATOM")] == ["atom.1", "atom.0", "atom.2", "atom.3"]


async def test_a_stream_without_atomic_batches_still_stores_everything(nc: NATS) -> None:
    await nc.jetstream().add_stream(StreamConfig(name="PLAIN", subjects=["plain.>"]))
    pipe = Pipeline(nc)
    await pipe.start()
    results = await pipe.publish_batch([(f"plain.{i}", b"x", {}) for i in range(3)])
    assert results == [None] * 3
    stored = await _stored(nc, "PLAIN")
    assert [subject for subject, _ in stored] == ["plain.0", "plain.1", "plain.2"]
    assert not any("Nats-Batch-Id" in h for _, h in stored)


async def test_a_batch_the_stream_cannot_take_whole_gets_a_verdict_per_message(nc: NATS) -> None:
    await nc.jetstream().add_stream(StreamConfig(name="ATOM", subjects=["atom.>"], allow_atomic=True, max_msgs=1,
                                                 discard=DiscardPolicy.NEW))
    pipe = Pipeline(nc, timeout=2)
    await pipe.start()
    results = await pipe.publish_batch([(f"atom.{i}", b"x", {}) for i in range(3)])
    # The full stream refuses the batch; one by one, the first fits and the others are refused each.
    assert results[0] is None
    assert all(isinstance(r, PublishError) and "refused" in str(r) for r in results[1:])
    assert [subject for subject, _ in await _stored(nc, "ATOM")] == ["atom.0"]

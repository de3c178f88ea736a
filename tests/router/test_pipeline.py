"""The router's pipelined publishes on a real server: stored, refused and unanswered publishes are told apart."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
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


async def _subjects(nc: NATS, stream: str) -> list[tuple[str, dict[str, str]]]:
    js = nc.jetstream()
    last = (await js.stream_info(stream)).state.last_seq
    return [(m.subject, dict(m.headers or {})) for m in [await js.get_msg(stream, seq) for seq in range(1, last + 1)]]


async def test_a_fast_batch_is_stored_with_one_ack_and_no_batch_headers(nc: NATS) -> None:
    await nc.jetstream().add_stream(StreamConfig(name="FAST", subjects=["fast.>"], allow_batched=True))
    pipe = Pipeline(nc)
    await pipe.start()
    acks: list[bytes] = []

    async def count(msg: object) -> None:
        acks.append(getattr(msg, "data", b""))

    await nc.subscribe(f"{pipe.fast_prefix}>", cb=count)  # a second listener on the replies, to count them
    results = await pipe.publish_batch([(f"fast.{i}", b"x", {"Nats-Msg-Id": f"f{i}"}) for i in range(50)], fast=True)
    assert results == [None] * 50
    stored = await _subjects(nc, "FAST")
    assert [s for s, _ in stored] == [f"fast.{i}" for i in range(50)]
    assert all(set(h) == {"Nats-Msg-Id"} for _, h in stored)  # consumers see only the message's own headers
    assert len(acks) <= 3 and b'"count":50' in acks[-1]  # one start ack and the commit, not 50 acks
    assert pipe.fast == {} and pipe.pending == {}


async def test_a_repeat_in_a_fast_batch_is_stored_once_and_the_rest_too(nc: NATS) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="FAST", subjects=["fast.>"], allow_batched=True))
    await js.publish("fast.1", b"x", headers={"Nats-Msg-Id": "f1"})  # stored before a kill, then redelivered
    pipe = Pipeline(nc)
    await pipe.start()
    results = await pipe.publish_batch([(f"fast.{i}", b"x", {"Nats-Msg-Id": f"f{i}"}) for i in range(4)], fast=True)
    assert results == [None] * 4  # the repeat is skipped by the stream, as a single publish of it is acked
    assert [s for s, _ in await _subjects(nc, "FAST")] == ["fast.1", "fast.0", "fast.2", "fast.3"]


async def test_a_fast_batch_the_stream_cannot_finish_fails_from_there(nc: NATS) -> None:
    await nc.jetstream().add_stream(StreamConfig(name="FAST", subjects=["fast.>"], allow_batched=True, max_msgs=2,
                                                 discard=DiscardPolicy.NEW))
    pipe = Pipeline(nc, timeout=2)
    await pipe.start()
    results = await pipe.publish_batch([(f"fast.{i}", b"x", {}) for i in range(5)], fast=True)
    assert results[:2] == [None, None]
    assert all(isinstance(r, PublishError) and "refused" in str(r) for r in results[2:]), results
    assert [s for s, _ in await _subjects(nc, "FAST")] == ["fast.0", "fast.1"]


async def test_a_stream_without_fast_batches_gets_the_messages_one_by_one(nc: NATS) -> None:
    await nc.jetstream().add_stream(StreamConfig(name="PLAIN", subjects=["plain.>"]))
    pipe = Pipeline(nc)
    await pipe.start()
    results = await pipe.publish_batch([(f"plain.{i}", b"x", {}) for i in range(3)], fast=True)
    assert results == [None] * 3
    assert [s for s, _ in await _subjects(nc, "PLAIN")] == ["plain.0", "plain.1", "plain.2"]


async def test_an_unanswered_fast_batch_fails_instead_of_hanging(nc: NATS) -> None:
    async def swallow(_msg: object) -> None:
        return None

    await nc.subscribe("silent.>", cb=swallow)  # not a stream: nobody answers the batch
    pipe = Pipeline(nc, timeout=0.5)
    await pipe.start()
    results = await pipe.publish_batch([("silent.1", b"x", {}), ("silent.2", b"x", {})], fast=True)
    assert all(isinstance(r, PublishError) and "no ack" in str(r) for r in results)
    assert pipe.fast == {}


async def test_two_pipelines_batching_into_one_stream_keep_their_batches_apart(nc: NATS) -> None:
    """Router replicas share KANAL_ADMIN, and the stream knows a batch by its id token alone: ids must differ."""
    await nc.jetstream().add_stream(StreamConfig(name="FAST", subjects=["fast.>"], allow_batched=True))
    seen: dict[str, set[str]] = {"a": set(), "b": set()}

    async def spy(msg: Msg) -> None:  # the batch id is the token before <flow>.<gap>.<seq>.<op>.$FI
        seen[msg.subject.split(".")[1]].add(msg.reply.split(".")[-6])

    await nc.subscribe("fast.>", cb=spy)
    first, second = Pipeline(nc), Pipeline(nc)
    await first.start()
    await second.start()
    a, b = await asyncio.gather(
        first.publish_batch([(f"fast.a.{i}", b"x", {}) for i in range(40)], fast=True),
        second.publish_batch([(f"fast.b.{i}", b"x", {}) for i in range(40)], fast=True))
    assert a == [None] * 40 and b == [None] * 40
    assert (await nc.jetstream().stream_info("FAST")).state.messages == 80
    assert len(seen["a"]) == len(seen["b"]) == 1 and not seen["a"] & seen["b"]

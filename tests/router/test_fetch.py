"""The router's lean pull fetch on a real server: full, partial and empty batches, late messages, refusals."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from router.fetch import Fetcher, FetchError


async def _stream(nc: NATS, name: str, count: int) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name.lower()}.>"]))
    await js.add_consumer(name, ConsumerConfig(durable_name="c", ack_policy=AckPolicy.EXPLICIT, ack_wait=30))
    for i in range(count):
        await js.publish(f"{name.lower()}.x", str(i).encode())


async def test_full_then_partial_then_lingering_batches(nc: NATS) -> None:
    await _stream(nc, "FETCH_A", 5)
    fetcher = Fetcher(nc, "FETCH_A", "c")
    await fetcher.start()
    first = await fetcher.fetch(3, wait_s=5)
    assert [m.data for m in first] == [b"0", b"1", b"2"]
    rest = await fetcher.fetch(3, wait_s=5)  # only two left: the server's 404 ends the request at once
    assert [m.data for m in rest] == [b"3", b"4"]
    for msg in first + rest:
        await msg.ack()
    assert rest[1].metadata.sequence.stream == 5
    with pytest.raises(TimeoutError):  # nothing there, nothing arrives: the lingering request expires
        await fetcher.fetch(3, wait_s=0.3)

    async def later() -> None:
        await nc.jetstream().publish("fetch_a.x", b"5")

    publishing = asyncio.get_running_loop().call_later(0.1, lambda: asyncio.ensure_future(later()))
    waited = await fetcher.fetch(1, wait_s=10)  # the lingering request gets a message published meanwhile
    publishing.cancel()
    assert [m.data for m in waited] == [b"5"]
    await waited[0].ack()


async def test_a_refused_request_is_an_error(nc: NATS) -> None:
    fetcher = Fetcher(nc, "FETCH_MISSING", "c")  # no such stream: no responders
    await fetcher.start()
    with pytest.raises(FetchError):
        await fetcher.fetch(3, wait_s=2)


async def test_a_late_status_of_an_old_request_does_not_end_the_next(nc: NATS) -> None:
    await _stream(nc, "FETCH_B", 0)
    fetcher = Fetcher(nc, "FETCH_B", "c")
    await fetcher.start()
    task = asyncio.create_task(fetcher.fetch(1, wait_s=10))
    while fetcher.token < 2 or fetcher.ended is None:  # the no_wait request ended (404); the lingering one waits
        await asyncio.sleep(0.01)
    stale = f"{fetcher.prefix}{fetcher.token - 1}"
    await nc.publish(stale, b"", headers={"Status": "408", "Description": "Request Timeout"})
    await nc.flush()
    await nc.jetstream().publish("fetch_b.x", b"a")
    got = await task  # had the stale 408 ended the lingering request, this would raise TimeoutError
    assert [m.data for m in got] == [b"a"]

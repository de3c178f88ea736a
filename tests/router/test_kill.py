"""SIGKILL the router (a real `python -m kanal router run`) mid-way through 5,000 envelopes: no loss, no double."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from kanal.testing import connected
from schemas import Location, Reporter, subjects
from tests.factories import envelope
from tests.router.helpers import routed
from tests.router.process import publish_inputs, router_process, router_server, sigkill, stop

N = 5000


async def _wait_for(url: str, at_least: int, within: float) -> int:
    """Poll KANAL_ADMIN's count on one connection, often: the router does thousands per second."""
    deadline = time.monotonic() + within
    count = 0
    async with connected(url) as nc:
        js = nc.jetstream()
        while time.monotonic() < deadline:
            count = int((await js.stream_info(subjects.STREAM_ADMIN)).state.messages)
            if count >= at_least:
                return count
            await asyncio.sleep(0.005)
    return count


async def _drained(url: str, within: float) -> bool:
    deadline = time.monotonic() + within
    async with connected(url) as nc:
        js = nc.jetstream()
        while time.monotonic() < deadline:
            info = await js.consumer_info(subjects.STREAM_IN, subjects.ROUTER_CONSUMER)
            if info.num_pending == 0 and info.num_ack_pending == 0:
                return True
            await asyncio.sleep(0.05)
    return False


async def test_sigkill_midway_then_restart_delivers_each_exactly_once(tmp_path: Path) -> None:
    async with router_server(tmp_path) as url:
        envs = [envelope(f"k-{i}", text=f"Laporan nomor {i}: saluran air tersumbat di gang {i % 97}",
                         reporter=Reporter(contact=f"+62811{i:07d}"),
                         location=Location(lat=-6.195, lon=106.801 + (i % 50) * 0.0003, source="gps"))
                for i in range(N)]
        await publish_inputs(url, envs)

        async with router_process(tmp_path, "first") as first:
            at_kill = await _wait_for(url, 1000, 60)
            sigkill(first)
        assert 0 < at_kill < N, "the router should have been killed mid-way"

        async with router_process(tmp_path, "second") as second:
            assert await _wait_for(url, N, 90) >= N
            # The first router's unacked inputs come back after ack_wait: wait until they are handled too.
            assert await _drained(url, 90)
            await stop(second)

        async with connected(url) as nc:
            items = await routed(nc)
            info = await nc.jetstream().consumer_info(subjects.STREAM_IN, subjects.ROUTER_CONSUMER)
        ids = [i.item_id for i in items]
        assert len(ids) == N and set(ids) == {e.id for e in envs}
        assert info.num_pending == 0 and info.num_ack_pending == 0

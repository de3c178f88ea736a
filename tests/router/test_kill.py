"""SIGKILL the router (a real `python -m kanal router run`) mid-way through 5,000 envelopes: no loss, no double."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kanal import bus
from kanal.testing import connected, make_config, nats_server
from schemas import Location, Reporter, encode, subjects
from tests.factories import envelope
from tests.router.fixtures import write_rules
from tests.router.helpers import stream_messages

N = 5000


def _start(cfg: Path, out: Path) -> subprocess.Popen[bytes]:
    with out.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "kanal", "router", "run", "--config", str(cfg)],
                                stdout=sink, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[2])


def _wait_ready(proc: subprocess.Popen[bytes], out: Path) -> None:
    """Until the router prints that it consumes (it writes to a file, so it never blocks on a full pipe)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if b"router: ready" in out.read_bytes():
            return
        if proc.poll() is not None:
            raise AssertionError(f"router exited with {proc.returncode}: {out.read_text()[-2000:]}")
        time.sleep(0.05)
    raise AssertionError("router not ready after 30 s")


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
    with nats_server(tmp_path / "nats") as server:
        config = make_config(server.url, tmp_path)
        write_rules(tmp_path)
        cfg = tmp_path / "kanal.toml"
        cfg.write_text(f'[nats]\nurl = "{server.url}"\n[log]\nlevel = "warning"\nformat = "json"\n'
                       '[router]\nrules = "rules.toml"\nmetrics_port = 0\nbatch = 100\nack_wait = "5s"\n')
        envs = [envelope(f"k-{i}", text=f"Laporan nomor {i}: saluran air tersumbat di gang {i % 97}",
                         reporter=Reporter(contact=f"+62811{i:07d}"),
                         location=Location(lat=-6.195, lon=106.801 + (i % 50) * 0.0003, source="gps"))
                for i in range(N)]
        async with connected(server.url) as nc:
            js = nc.jetstream()
            await bus.provision(js, config)
            futures = [await js.publish_async(subjects.inbound(e.channel, e.instance), encode(e),
                                              headers={"Nats-Msg-Id": e.id}) for e in envs]
            await asyncio.gather(*futures)

        first = _start(cfg, tmp_path / "first.log")
        try:
            await asyncio.to_thread(_wait_ready, first, tmp_path / "first.log")
            at_kill = await _wait_for(server.url, 1000, 60)
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        finally:
            first.kill()
        assert 0 < at_kill < N, "the router should have been killed mid-way"

        second = _start(cfg, tmp_path / "second.log")
        try:
            await asyncio.to_thread(_wait_ready, second, tmp_path / "second.log")
            assert await _wait_for(server.url, N, 90) >= N
            # The first router's unacked inputs come back after ack_wait: wait until they are handled too.
            assert await _drained(server.url, 90)
            second.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(second.wait, 30) == 0
        finally:
            second.kill()

        async with connected(server.url) as nc:
            from schemas.routed import decode_routed
            items = [decode_routed(data) for _, data in await stream_messages(nc, subjects.STREAM_ADMIN)]
            info = await nc.jetstream().consumer_info(subjects.STREAM_IN, subjects.ROUTER_CONSUMER)
        ids = [i.item_id for i in items]
        assert len(ids) == N and set(ids) == {e.id for e in envs}
        assert info.num_pending == 0 and info.num_ack_pending == 0

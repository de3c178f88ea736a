"""A real router process (`python -m kanal router run`) on its own nats-server, for the tests that SIGKILL it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from kanal import bus
from kanal.testing import connected, make_config, nats_server
from schemas import Envelope, encode, subjects
from tests.router.fixtures import write_rules

READY_WITHIN = 30.0  # seconds a router process may take to print that it consumes, on a loaded machine


@asynccontextmanager
async def router_server(root: Path, sections: str = "") -> AsyncIterator[str]:
    """A nats-server stored under `root` with Kanal's streams, and `root/kanal.toml` (the test rules, batches of
    100, a 5 s ack wait, plus `sections`) for router processes on it; yields the server's URL."""
    with nats_server(root / "nats") as server:
        write_rules(root)
        (root / "kanal.toml").write_text(
            f'[nats]\nurl = "{server.url}"\n[log]\nlevel = "warning"\nformat = "json"\n'
            '[router]\nrules = "rules.toml"\nmetrics_port = 0\nbatch = 100\nack_wait = "5s"\n' + sections)
        async with connected(server.url) as nc:
            await bus.provision(nc.jetstream(), make_config(server.url, root))
        yield server.url


async def publish_inputs(url: str, envs: Sequence[Envelope]) -> None:
    """Every envelope on KANAL_IN as its connector publishes it (with its id as `Nats-Msg-Id`), all acked."""
    async with connected(url) as nc:
        js = nc.jetstream()
        futures = [await js.publish_async(subjects.inbound(e.channel, e.instance), encode(e),
                                          headers={"Nats-Msg-Id": e.id}) for e in envs]
        await asyncio.gather(*futures)


@asynccontextmanager
async def router_process(root: Path, name: str) -> AsyncIterator[subprocess.Popen[bytes]]:
    """A router process on `root/kanal.toml`, once it consumes (its output goes to `root/<name>.log`); killed at
    exit if the test has not stopped it."""
    out = root / f"{name}.log"
    proc = _start(root / "kanal.toml", out)
    try:
        await asyncio.to_thread(_wait_ready, proc, out)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def sigkill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the router with no chance to finish anything (no ack, no KV write after this instant)."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


async def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as systemd stops it: the router must finish what it holds and exit with 0."""
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(proc.wait, 30) == 0


def _start(config: Path, out: Path) -> subprocess.Popen[bytes]:
    with out.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "kanal", "router", "run", "--config", str(config)],
                                stdout=sink, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[2])


def _wait_ready(proc: subprocess.Popen[bytes], out: Path) -> None:
    """Until the router prints that it consumes (it writes to a file, so it never blocks on a full pipe)."""
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if b"router: ready" in out.read_bytes():
            return
        if proc.poll() is not None:
            raise AssertionError(f"router exited with {proc.returncode}: {out.read_text()[-2000:]}")
        time.sleep(0.05)
    raise AssertionError(f"router not ready after {READY_WITHIN:g} s")

"""Run a connector instance as a user would (`python -m kanal connector run`), for kill-and-restart tests."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Protocol

import msgspec
from nats.aio.client import Client as NATS

from connectors.testkit.harness import stored_messages
from schemas import decode_envelope, subjects

ROOT = Path(__file__).resolve().parents[3]


def write_config(tmp_path: Path, nats_url: str, instance: str, channel: str, settings: dict[str, object]) -> Path:
    """A kanal.toml with one `[connectors.<instance>]` section (values must be TOML-compatible JSON)."""
    lines = [f'[nats]\nurl = "{nats_url}"\n', f'[kanal]\ndata_dir = "{tmp_path / "var"}"\n',
             f"[connectors.{instance}]", f'channel = "{channel}"', 'poll_interval = "200ms"']
    lines += [f"{k} = {msgspec.json.encode(v).decode()}" for k, v in settings.items()]
    path = tmp_path / "kanal.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def spawn(config: Path, instance: str, *args: str) -> asyncio.subprocess.Process:
    """Start `python -m kanal connector run <instance> --config <config> [args]`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KANAL_LOG__FORMAT": "json"}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kanal", "connector", "run", instance, "--config", str(config), *args,
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def stored_ids(nc: NATS, subject: str) -> list[str]:
    """External ids stored under `subject`, in stream order."""
    return [decode_envelope(data).external_id for data in await stored_messages(nc, subject)]


async def kill_after(nc: NATS, subject: str, count: int, config: Path, instance: str) -> list[str]:
    """Run the instance, SIGKILL it once `count` envelopes are stored, and return what was stored by then."""
    proc = await spawn(config, instance)
    while len(await stored_messages(nc, subject)) < count:
        await asyncio.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    return await stored_ids(nc, subject)


async def resume_once(nc: NATS, subject: str, config: Path, instance: str) -> list[str]:
    """Restart the instance with `--once`, wait for a clean exit, and return everything stored."""
    proc = await spawn(config, instance, "--once")
    assert await asyncio.wait_for(proc.wait(), 60) == 0
    return await stored_ids(nc, subject)


class SlowMedia(Protocol):
    """A fake provider whose media downloads can be slowed, so a kill lands inside a batch."""

    media_delay: float


async def kill_and_resume(nc: NATS, nats_url: str, tmp_path: Path, channel: str, settings: dict[str, object],
                          provider: SlowMedia, kill_at: int, expected: list[str]) -> None:
    """Run `<channel>-kill` as a user would, SIGKILL it once `kill_at` envelopes are stored (mid-batch), resume it
    with fast media: every external id in `expected` stored once, in order."""
    instance = f"{channel}-kill"
    config = write_config(tmp_path, nats_url, instance, channel, settings)
    subject = subjects.inbound(channel, instance)
    before = await kill_after(nc, subject, kill_at, config, instance)
    assert 0 < len(before) < len(expected), "the kill must land mid-way"
    provider.media_delay = 0
    after = await resume_once(nc, subject, config, instance)
    assert after == expected, "nothing skipped, nothing repeated, in order"

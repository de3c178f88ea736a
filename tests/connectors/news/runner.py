"""Run a connector instance as a user would (`python -m kanal connector run`), for kill-and-restart tests."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import msgspec

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

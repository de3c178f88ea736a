"""`kanal connector checkpoint <instance>`: the saved cursor, or a message that says why there is none."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path

from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from connectors.checkpoint import Checkpoints
from kanal import bus
from kanal.config import load
from schemas import subjects
from tests.connectors.sample_channels import FeedCursor


async def _checkpoint(config: Path, instance: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "kanal", "connector", "checkpoint", instance,
                                                    "--config", str(config)], capture_output=True, text=True,
                                   timeout=60)


async def test_a_saved_cursor_is_printed_and_a_missing_one_explained(nc: NATS, nats_url: str, tmp_path: Path) -> None:
    config = tmp_path / "kanal.toml"
    config.write_text(f'[nats]\nurl = "{nats_url}"\n')
    with contextlib.suppress(NotFoundError):  # a bucket that is not there yet
        await nc.jetstream().delete_key_value(subjects.KV_CHECKPOINTS)
    no_bucket = await _checkpoint(config, "news-media")
    assert no_bucket.returncode == 1 and "the kanal_checkpoints bucket does not exist yet" in no_bucket.stderr
    await bus.provision(nc.jetstream(), load(config, env={}))
    none_yet = await _checkpoint(config, "news-media")
    assert none_yet.returncode == 1
    assert "news-media has no checkpoint yet: it has not completed a poll" in none_yet.stderr
    assert "Error" not in none_yet.stderr  # a sentence, not an exception's repr
    await (await Checkpoints.open(nc.jetstream(), "news-media")).save(FeedCursor(after=7))
    saved = await _checkpoint(config, "news-media")
    assert saved.returncode == 0, saved.stderr
    assert '"after":7' in saved.stdout.replace(" ", "")

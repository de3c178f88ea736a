"""SIGKILL a real router (`python -m kanal router run`) while chat fragments wait, and again while it routes them:
after restarts, each report is routed exactly once with every fragment."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS

from kanal import bus
from kanal.testing import connected, make_config, nats_server
from router.assembler import held_keys
from schemas import Attachment, Envelope, Location, Reporter, Thread, encode, subjects
from schemas.routed import RoutedItem, decode_routed
from tests.factories import envelope
from tests.router.fixtures import write_rules
from tests.router.helpers import stream_messages
from tests.router.test_kill import _start, _wait_ready

REPORTERS = 200
PIN = Location(lat=-6.195, lon=106.805, source="gps")


def _fragments(n: int, at: datetime) -> list[Envelope]:
    who = Reporter(user_id=str(1000 + n))
    common: dict[str, Any] = {"channel": "telegram", "instance": "tg-1", "account": "kanalbot",
                              "kind": "direct_message", "reporter": who,
                              "thread": Thread(conversation=f"telegram:{1000 + n}")}
    photo = Attachment(kind="image", sha256=f"{n:064x}", media_type="image/jpeg")
    return [envelope(f"{n}-text", text=f"Laporan {n}: pohon tumbang menutup jalan", created_at=at, received_at=at,
                     **common),
            envelope(f"{n}-pin", text="", created_at=at + timedelta(seconds=1), received_at=at + timedelta(seconds=1),
                     location=PIN, **common),
            envelope(f"{n}-photo", text="", created_at=at + timedelta(seconds=2),
                     received_at=at + timedelta(seconds=2), attachments=(photo,), **common)]


async def _held(nc: NATS) -> int:
    return len(await held_keys(nc.jetstream()))


async def _items(nc: NATS) -> list[RoutedItem]:
    return [decode_routed(data) for _, data in await stream_messages(nc, subjects.STREAM_ADMIN)]


async def _until(url: str, check: str, within: float) -> bool:
    """Poll until every input is acked and held ('held'), or the first item is routed ('routing'), or every
    report is routed and nothing is held ('done')."""
    deadline = time.monotonic() + within
    async with connected(url) as nc:
        js = nc.jetstream()
        while time.monotonic() < deadline:
            admin = int((await js.stream_info(subjects.STREAM_ADMIN)).state.messages)
            if check == "routing" and admin > 0:
                return True
            info = await js.consumer_info(subjects.STREAM_IN, subjects.ROUTER_CONSUMER)
            drained = info.num_pending == 0 and info.num_ack_pending == 0
            if check == "held" and drained and await _held(nc) == REPORTERS:
                return True
            if check == "done" and drained and admin >= REPORTERS and await _held(nc) == 0:
                return True
            await asyncio.sleep(0.02)
    return False


async def test_sigkill_while_fragments_wait_and_while_routing_loses_and_doubles_nothing(tmp_path: Path) -> None:
    with nats_server(tmp_path / "nats") as server:
        config = make_config(server.url, tmp_path)
        write_rules(tmp_path)
        cfg = tmp_path / "kanal.toml"
        # A 20 s window: the first router is killed while every report still waits (checked below).
        cfg.write_text(f'[nats]\nurl = "{server.url}"\n[log]\nlevel = "warning"\nformat = "json"\n'
                       '[router]\nrules = "rules.toml"\nmetrics_port = 0\nbatch = 100\nack_wait = "5s"\n'
                       '[conversations]\nwindow = "20s"\n')
        now = datetime.now(UTC)
        envs = [e for n in range(REPORTERS) for e in _fragments(n, now)]
        async with connected(server.url) as nc:
            js = nc.jetstream()
            await bus.provision(js, config)
            futures = [await js.publish_async(subjects.inbound(e.channel, e.instance), encode(e),
                                              headers={"Nats-Msg-Id": e.id}) for e in envs]
            await asyncio.gather(*futures)

        first = _start(cfg, tmp_path / "first.log")
        try:
            await asyncio.to_thread(_wait_ready, first, tmp_path / "first.log")
            assert await _until(server.url, "held", 60), "the fragments should all be held"
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        finally:
            first.kill()
        async with connected(server.url) as nc:
            assert await _items(nc) == [], "killed mid-window: nothing routed yet"

        # The second router finds the held reports, and is killed as soon as it starts routing them.
        second = _start(cfg, tmp_path / "second.log")
        try:
            await asyncio.to_thread(_wait_ready, second, tmp_path / "second.log")
            assert await _until(server.url, "routing", 90)
            os.kill(second.pid, signal.SIGKILL)
            second.wait()
        finally:
            second.kill()

        third = _start(cfg, tmp_path / "third.log")
        try:
            await asyncio.to_thread(_wait_ready, third, tmp_path / "third.log")
            # a report the second router had claimed is taken over once its claim is old (30 s)
            assert await _until(server.url, "done", 150)
            third.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(third.wait, 30) == 0
        finally:
            third.kill()

        async with connected(server.url) as nc:
            items = await _items(nc)
        assert len(items) == REPORTERS, f"{len(items)} items for {REPORTERS} reports"
        by_id = {i.item_id: i for i in items}
        for n in range(REPORTERS):
            text, pin, photo = _fragments(n, now)
            item = by_id[text.id]
            assert item.fragments == (text.id, pin.id, photo.id)
            assert item.envelope.location == PIN and item.envelope.attachments == photo.attachments
            assert item.decision.queue == "kelurahan.3199011001"

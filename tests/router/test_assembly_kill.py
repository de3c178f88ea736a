"""SIGKILL a real router (`python -m kanal router run`) while chat fragments wait, and again while it routes them:
after restarts, each report is routed exactly once with every fragment."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS

from kanal.testing import connected
from router.assembler import held_keys
from schemas import Attachment, Envelope, Location, Reporter, Thread, subjects
from tests.factories import envelope
from tests.router.helpers import routed
from tests.router.process import publish_inputs, router_process, router_server, sigkill, stop

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
    # A 20 s window: the first router is killed while every report still waits (checked below).
    async with router_server(tmp_path, '[conversations]\nwindow = "20s"\n') as url:
        now = datetime.now(UTC)
        envs = [e for n in range(REPORTERS) for e in _fragments(n, now)]
        await publish_inputs(url, envs)

        async with router_process(tmp_path, "first") as first:
            assert await _until(url, "held", 60), "the fragments should all be held"
            sigkill(first)
        async with connected(url) as nc:
            assert await routed(nc) == [], "killed mid-window: nothing routed yet"

        # The second router finds the held reports, and is killed as soon as it starts routing them.
        async with router_process(tmp_path, "second") as second:
            assert await _until(url, "routing", 90)
            sigkill(second)

        async with router_process(tmp_path, "third") as third:
            # a report the second router had claimed is taken over once its claim is old (30 s)
            assert await _until(url, "done", 150)
            await stop(third)

        async with connected(url) as nc:
            items = await routed(nc)
        assert len(items) == REPORTERS, f"{len(items)} items for {REPORTERS} reports"
        by_id = {i.item_id: i for i in items}
        for n in range(REPORTERS):
            text, pin, photo = _fragments(n, now)
            item = by_id[text.id]
            assert item.fragments == (text.id, pin.id, photo.id)
            assert item.envelope.location == PIN and item.envelope.attachments == photo.attachments
            assert item.decision.queue == "kelurahan.3199011001"

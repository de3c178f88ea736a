"""Telegram webhook as a running instance: NATS killed mid-test, updates spooled, 200 only once safe."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from connectors.runtime import Instance
from connectors.telegram import spec
from kanal import bus
from kanal.testing import connected
from kanal.testing import make_config as config_for
from schemas import decode_envelope, subjects
from tests.fakes.telegram import TOKEN, text_message

SECRET = "kanal-webhook-secret_0123456789"


def _update(n: int) -> bytes:
    return json.dumps({"update_id": 815000000 + n,
                       "message": text_message(n, f"Trotoar rusak nomor {n} di Jl. Kramat Raya 🚧")}).encode()


async def _external_ids(url: str, count: int) -> list[str]:
    async with connected(url) as nc:
        js = nc.jetstream()
        for _ in range(150):
            if (await js.stream_info(subjects.STREAM_IN)).state.messages >= count:
                break
            await asyncio.sleep(0.2)
        sub = await js.subscribe(subjects.inbound("telegram", "telegram-bot"), ordered_consumer=True)
        found: list[str] = []
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except TimeoutError:
                break
            found.append(decode_envelope(msg.data).external_id)
        await sub.unsubscribe()
        return found


@pytest.mark.slow
async def test_nats_killed_mid_test_spools_and_delivers_every_update_once(tmp_path: Path) -> None:
    port = bus.free_port()
    store = tmp_path / "nats"
    server = bus.EmbeddedNats(store, port=port).start()
    config = config_for(server.url, tmp_path, connectors={"telegram-bot": {
        "channel": "telegram", "port": 0, "bot_token": TOKEN, "secret_token": SECRET}})
    instance = Instance(config, "telegram-bot", spec)
    running = asyncio.create_task(instance.run())
    try:
        await asyncio.wait_for(instance.connected.wait(), 10)
        while instance.http_port is None:
            await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{instance.http_port}/telegram/webhook"
        headers = {"content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with httpx.AsyncClient(timeout=10) as client:
            for n in range(1, 6):
                assert (await client.post(url, content=_update(n), headers=headers)).status_code == 200
            server.kill()
            for n in range(6, 16):
                assert (await client.post(url, content=_update(n), headers=headers)).status_code == 200
            assert instance.spool.depth > 0
            assert (await client.post(url, content=_update(7), headers=headers)).status_code == 200  # retry
            server = bus.EmbeddedNats(store, port=port).start()
        ids = await _external_ids(server.url, 15)
        assert [i.split(":")[1] for i in ids] == [str(n) for n in range(1, 16)], "every update once, in order"
        assert instance.spool.depth == 0
    finally:
        instance.stop.set()
        assert await asyncio.wait_for(running, 30) == 0
        server.stop()


def test_example_config_section_resolves_to_webhook_mode() -> None:
    from connectors.runtime import resolve
    from kanal.config import load

    config = load(Path(__file__).resolve().parents[3] / "kanal.example.toml", env={})
    found, common, settings = resolve(config, "telegram-bot")
    assert found.id == "telegram" and common.port == 8085 and settings.mode == "webhook"
    assert settings.secret_token

"""Telegram webhook as a running instance: NATS killed mid-test, updates spooled, 200 only once safe."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from connectors.telegram import spec
from connectors.testkit import served
from tests.fakes.telegram import TOKEN, text_message

SECRET = "kanal-webhook-secret_0123456789"


def _update(n: int) -> bytes:
    return json.dumps({"update_id": 815000000 + n,
                       "message": text_message(n, f"Trotoar rusak nomor {n} di Jl. Kramat Raya 🚧")}).encode()


@pytest.mark.slow
async def test_nats_killed_mid_test_spools_and_delivers_every_update_once(tmp_path: Path) -> None:
    settings = {"bot_token": TOKEN, "secret_token": SECRET}
    async with served(spec, settings, tmp_path, "telegram-bot") as run:
        url = f"{run.base_url}/telegram/webhook"
        headers = {"content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with httpx.AsyncClient(timeout=10) as client:
            for n in range(1, 6):
                assert (await client.post(url, content=_update(n), headers=headers)).status_code == 200
            run.kill_nats()
            for n in range(6, 16):
                assert (await client.post(url, content=_update(n), headers=headers)).status_code == 200
            assert run.instance.spool.depth > 0
            assert (await client.post(url, content=_update(7), headers=headers)).status_code == 200  # retry
            run.restart_nats()
        ids = await run.external_ids(15)
        assert [i.split(":")[1] for i in ids] == [str(n) for n in range(1, 16)], "every update once, in order"
        assert await run.spool_depth_after_drain() == 0


def test_example_config_section_resolves_to_webhook_mode() -> None:
    from connectors.runtime import resolve
    from kanal.config import load

    config = load(Path(__file__).resolve().parents[3] / "kanal.example.toml", env={})
    found, common, settings = resolve(config, "telegram-bot")
    assert found.id == "telegram" and common.port == 8085 and settings.mode == "webhook"
    assert settings.secret_token

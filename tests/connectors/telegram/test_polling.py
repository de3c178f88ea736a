"""Telegram polling mode: getUpdates offsets, long-poll shutdown, refused tokens, a run with --once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from connectors.checkpoint import Checkpoints
from connectors.errors import PermanentError
from connectors.runtime import Instance
from connectors.telegram import spec
from connectors.telegram.connector import TelegramCursor, TelegramPoller
from connectors.testkit import harness
from kanal.testing import make_config
from tests.fakes.telegram import fake_bot_api


async def test_offsets_confirm_only_what_was_published(nats_url: str) -> None:
    async with fake_bot_api() as bot, harness(spec, {**bot.settings, "page_size": 2}, nats_url) as h:
        bot.add(5)
        bot.push({"edited_message": {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}}})
        poller = h.instance.connector
        assert isinstance(poller, TelegramPoller)
        checkpoints = await Checkpoints.open(h.nc.jetstream(), h.instance.name)
        assert await poller.run_pass(checkpoints, asyncio.Event()) == 5
        offsets = [p.get("offset") for name, p in bot.calls if name == "getUpdates"]
        cursor = await checkpoints.load(TelegramCursor)
        assert offsets == [0, 815000003, 815000005, 815000007]  # pages of 2; each call confirms the last
        assert cursor == TelegramCursor(offset=815000007)
        assert len(await h.published()) == 5


async def test_long_poll_is_cut_short_by_shutdown(nats_url: str) -> None:
    async with fake_bot_api() as bot, harness(spec, {**bot.settings, "long_poll_timeout": "25s"}, nats_url) as h:
        poller = h.instance.connector
        assert isinstance(poller, TelegramPoller)
        stop = asyncio.Event()
        await poller.wait(stop)  # long polling: returns at once and remembers the stop event
        checkpoints = await Checkpoints.open(h.nc.jetstream(), h.instance.name)
        running = asyncio.create_task(poller.run_pass(checkpoints, stop))
        while bot.calls[-1][0] != "getUpdates":  # the long poll reached the Bot API and is held there
            await asyncio.sleep(0.01)
        assert bot.calls[-1][1]["timeout"] == 25
        stop.set()
        assert await asyncio.wait_for(running, 5) == 0
        assert await checkpoints.load(TelegramCursor) is None
        fresh = asyncio.Event()
        await poller.wait(fresh)
        held = len(bot.calls)
        running = asyncio.create_task(poller.run_pass(checkpoints, fresh))
        while len(bot.calls) == held:
            await asyncio.sleep(0.01)
        bot.add(1)  # a held long poll answers as soon as an update arrives
        assert await asyncio.wait_for(running, 5) == 1


@pytest.mark.parametrize(("status", "credentials"), [(401, True), (403, True), (409, False)])
async def test_refused_token_or_active_webhook_is_permanent(nats_url: str, status: int, credentials: bool) -> None:
    async with fake_bot_api() as bot, harness(spec, bot.settings, nats_url) as h:
        bot.fail(status)
        poller = h.instance.connector
        assert isinstance(poller, TelegramPoller)
        checkpoints = await Checkpoints.open(h.nc.jetstream(), h.instance.name)
        with pytest.raises(PermanentError) as err:
            await poller.run_pass(checkpoints, asyncio.Event())
    assert err.value.credentials is credentials
    assert ("deleteWebhook" in str(err.value)) is (status == 409)


async def test_run_once_publishes_and_a_bad_token_exits_78(tmp_path: Path, nats_url: str) -> None:
    async with fake_bot_api() as bot:
        bot.add(2)
        bot.push({"callback_query": {"id": "1", "from": {"id": 1, "is_bot": False, "first_name": "A"},
                                     "chat_instance": "1"}})
        config = make_config(nats_url, tmp_path, connectors={"telegram-poll": {"channel": "telegram",
                                                                               **bot.settings}})
        assert await Instance(config, "telegram-poll", spec).run(once=True) == 0
        bot.add(1)
        assert await Instance(config, "telegram-poll", spec).run(once=True) == 0  # resumes from the KV offset
        offsets = [p["offset"] for name, p in bot.calls if name == "getUpdates"]
        assert offsets == [0, 815000004]
        assert [u["update_id"] for u in bot.updates] == [815000004]  # earlier ones confirmed by that offset
        bad = make_config(nats_url, tmp_path, connectors={"telegram-poll": {
            "channel": "telegram", **bot.settings, "bot_token": "7012345678:AAH-revoked-token-000000"}})
        assert await Instance(bad, "telegram-poll", spec).run(once=True) == 78

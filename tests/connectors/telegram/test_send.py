"""Telegram replies: the exact sendMessage requests (token in path, chat_id, reply_parameters) on the fake Bot API."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import structlog
from msgspec.structs import replace

from connectors.errors import PermanentError, RateLimited
from connectors.outbound.sender import SendRefused
from connectors.telegram import spec
from connectors.telegram.connector import TelegramConnector
from connectors.telegram.normalise import chat_key
from connectors.testkit import harness
from schemas import Reporter
from tests.connectors.telegram.cases import CHANNEL_POST, GROUP, TEXT
from tests.fakes.telegram import TOKEN, FakeBotApi, fake_bot_api
from tests.notifier.messages import ack, final, normalised

USER = 5512345678  # the private chat's user (tests.fakes.telegram.user())


@asynccontextmanager
async def connector(nats_url: str, mode: str = "webhook") -> AsyncIterator[tuple[TelegramConnector, FakeBotApi]]:
    async with fake_bot_api() as api:
        settings: dict[str, Any] = {"bot_token": TOKEN, "base_url": api.base_url, "mode": mode,
                                    "account": "@kanal_jakarta_bot"}
        if mode == "webhook":
            settings["secret_token"] = "tg-secret-token-0123456789"
        async with harness(spec, settings, nats_url) as h:
            assert isinstance(h.instance.connector, TelegramConnector)
            yield h.instance.connector, api


@pytest.mark.parametrize("mode", ["webhook", "polling"])
async def test_private_chat_report_is_answered_in_that_chat_quoting_it(nats_url: str, mode: str) -> None:
    [env] = normalised(spec, TEXT, "@kanal_jakarta_bot")
    async with connector(nats_url, mode) as (bot, api):
        sent_id = await bot.send(ack(env))
        await bot.send(final(env))
    (method, path, params), (_, _, closing) = api.sent
    assert method == "POST" and path == f"/bot{TOKEN}/sendMessage"
    assert int(params["chat_id"]) == USER
    assert params["text"] == ack(env).text and env.ref in params["text"]
    assert params["reply_parameters"] == {"message_id": 101, "allow_sending_without_reply": True}
    assert "Selesai" in closing["text"]
    assert sent_id == f"{chat_key(USER)}:9001"  # as a reply to it names it


async def test_group_report_is_answered_privately_without_quoting(nats_url: str) -> None:
    [env] = normalised(spec, GROUP, "@kanal_jakarta_bot")
    async with connector(nats_url) as (bot, api):
        await bot.send(ack(env))
    [(_, _, params)] = api.sent
    assert int(params["chat_id"]) == 5598765432, "the user's private chat, never the group (-100...)"
    assert "reply_parameters" not in params, "message ids belong to the group chat"


async def test_report_without_a_sender_is_refused(nats_url: str) -> None:
    envs = normalised(spec, CHANNEL_POST, "@kanal_jakarta_bot")
    assert envs == [], "channel posts are not reports, so nothing reaches the sender"
    [env] = normalised(spec, TEXT, "@kanal_jakarta_bot")
    anonymous = replace(env, reporter=Reporter(anonymous=True, handle="@x"))
    async with connector(nats_url) as (bot, api):
        with pytest.raises(SendRefused, match="telegram_no_user"):
            await bot.send(ack(anonymous))
    assert api.sent == []


@pytest.mark.parametrize(("status", "description", "error", "text"), [
    (403, "Forbidden: bot was blocked by the user", SendRefused, "bot was blocked by the user"),
    (403, "Forbidden: bot can't initiate conversation with a user", SendRefused, "telegram_forbidden"),
    (400, "Bad Request: chat not found", SendRefused, "telegram_bad_request"),
    (429, "Too Many Requests: retry after 7", RateLimited, "flood control"),
    (401, "Unauthorized", PermanentError, "bot token"),
])
async def test_bot_api_errors_map_to_what_the_sender_loop_does(
        nats_url: str, status: int, description: str, error: type[Exception], text: str) -> None:
    [env] = normalised(spec, TEXT, "@kanal_jakarta_bot")
    async with connector(nats_url) as (bot, api):
        api.send_errors.append((status, description))
        with structlog.testing.capture_logs() as logs, pytest.raises(error, match=text) as raised:
            await bot.send(ack(env))
    assert len(api.sent) == 1
    assert str(USER) not in str(raised.value) and str(USER) not in json.dumps(logs, default=str)
    if isinstance(raised.value, RateLimited):
        assert raised.value.retry_at is not None and raised.value.retry_at - time.time() > 5
    if isinstance(raised.value, PermanentError):
        assert raised.value.credentials

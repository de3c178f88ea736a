"""The contract kit on the Telegram channel: webhook mode (ChannelContract) and polling (PollerContract)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from connectors.telegram import spec
from kanal.plugin import Outcome
from kanal.plugin.testing import Case, ChannelContract, PollerContract, SignedRequest, WebhookContract
from tests.connectors.telegram.cases import (
    CALLBACK,
    EDITED,
    FROM_BOT,
    GROUP,
    LOCATION,
    SERVICE,
    TEXT,
    VENUE,
)
from tests.fakes.telegram import TOKEN, FakeBotApi, fake_bot_api

SECRET = "kanal-webhook-secret_0123456789"
ACCOUNT = "@kanal_jakarta_bot"


def _text_ok(outcome: Outcome) -> None:
    (env,) = outcome.envelopes
    assert "Tebet" in env.text and "😡" in env.text and env.reporter.user_id == "5512345678"
    assert env.reporter.handle == "@budisantoso" and env.reporter.display_name == "Budi Santoso"
    assert "5512345678" not in env.external_id and "5512345678" not in str(env.thread)


def _venue_ok(outcome: Outcome) -> None:
    (env,) = outcome.envelopes
    assert env.location is not None and env.location.address == "Monumen Nasional, Gambir, Jakarta Pusat"


class TestTelegramWebhookContract(ChannelContract, WebhookContract):
    spec = spec
    settings: ClassVar[dict[str, Any]] = {"bot_token": TOKEN, "secret_token": SECRET, "account": ACCOUNT}
    secrets: ClassVar[list[str]] = [TOKEN, SECRET]
    cases: ClassVar[list[Case]] = [
        Case("text_indonesian_emoji", raw=TEXT, account=ACCOUNT, count=1, check=_text_ok),
        Case("location", raw=LOCATION, account=ACCOUNT, count=1),
        Case("venue", raw=VENUE, account=ACCOUNT, count=1, check=_venue_ok),
        Case("group_reply_forwarded", raw=GROUP, account=ACCOUNT, count=1),
        Case("edited_message", raw=EDITED, account=ACCOUNT, expect="ignored", count=1),
        Case("callback_query", raw=CALLBACK, account=ACCOUNT, expect="ignored", count=1),
        Case("from_bot", raw=FROM_BOT, account=ACCOUNT, expect="ignored", count=1),
        Case("service_message", raw=SERVICE, account=ACCOUNT, expect="ignored", count=1),
        Case("not_json", raw=b'{"update_id": 1, "message": {', account=ACCOUNT, expect="bad_payload"),
        Case("no_update_id", raw=b'{"message": {"message_id": 1}}', account=ACCOUNT, expect="bad_payload"),
    ]
    testdata = Path(__file__).parent / "testdata"

    def sign(self, request: SignedRequest) -> dict[str, str]:
        """Telegram's step: the secret token given to setWebhook, in its header."""
        return {"x-telegram-bot-api-secret-token": SECRET}


class TestTelegramPollerContract(PollerContract):
    spec = spec
    settings: ClassVar[dict[str, Any]] = {"bot_token": TOKEN, "mode": "polling", "account": ACCOUNT}
    secrets: ClassVar[list[str]] = [TOKEN]
    cases: ClassVar[list[Case]] = [
        Case("text", raw=TEXT, account=ACCOUNT, count=1, check=_text_ok),
        Case("venue", raw=VENUE, account=ACCOUNT, count=1, check=_venue_ok),
        Case("edited_message", raw=EDITED, account=ACCOUNT, expect="ignored", count=1),
        Case("not_an_update", raw=b'{"update_id": null}', account=ACCOUNT, expect="bad_payload"),
    ]

    @pytest.fixture(autouse=True)
    async def bot_api(self) -> AsyncIterator[FakeBotApi]:
        """Every check of this class talks to a local Bot API (polling mode calls getMe at start)."""
        async with fake_bot_api() as fake:
            fake.extra_settings = {"account": ACCOUNT}
            fake.add(3)
            self.settings = fake.settings  # type: ignore[misc]
            yield fake

    @pytest.fixture
    def provider(self, bot_api: FakeBotApi) -> FakeBotApi:
        return bot_api

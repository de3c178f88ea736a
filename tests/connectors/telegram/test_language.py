"""The sender's Telegram app language becomes the envelope's, so the notifier can answer in it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.spec import NormaliseContext
from connectors.telegram.normalise import normalise
from tests.connectors.telegram.cases import update
from tests.fakes.telegram import text_message, user

CTX = NormaliseContext(channel="telegram", instance="telegram-bot", account="KanalBot",
                       received_at=datetime(2026, 12, 5, 10, 0, tzinfo=UTC))


@pytest.mark.parametrize(("code", "language"), [
    ("en-GB", "en"), ("id", "id"), ("pt-br", "pt"), (None, None), ("", None), ("x-klingon", None), ("e1", None),
])
def test_the_app_language_is_the_envelopes(code: str | None, language: str | None) -> None:
    sender = user() | {"language_code": code}
    if code is None:
        del sender["language_code"]
    raw = update(815100001, message=text_message(1, "there is a big pothole near monas", sender=sender))
    [env] = normalise(raw, CTX).envelopes
    assert env.language == language

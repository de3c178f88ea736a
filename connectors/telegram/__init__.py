"""Telegram channel: a bot's updates by webhook (secret-token header checked) or by long polling."""

from __future__ import annotations

from connectors.spec import ChannelSpec
from connectors.telegram.settings import TelegramSettings

spec = ChannelSpec(
    id="telegram",
    mode="webhook",  # the default; `mode = "polling"` in the instance's settings switches to getUpdates
    summary="Telegram bot: webhook (X-Telegram-Bot-Api-Secret-Token) or long polling (getUpdates)",
    settings=TelegramSettings,
    connector="connectors.telegram.connector:TelegramConnector",
    normaliser="connectors.telegram.normalise:normalise",
    requires=("telegram",),
    docs="connectors/telegram/README.md",
)

__all__ = ["TelegramSettings", "spec"]

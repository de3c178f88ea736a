"""Settings of a Telegram bot instance; imports without python-telegram-bot."""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from kanal.settings_types import Duration, Secret


class TelegramSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[connectors.<instance>]` keys for channel "telegram" (host, port, poll_interval are common keys).

    - bot_token: from @BotFather; used for getUpdates (polling) and getFile (photos and documents).
    - mode: "webhook" (Telegram POSTs each update to `path`) or "polling" (getUpdates, offset checkpointed).
    - secret_token: webhook mode: the `secret_token` given to setWebhook; every POST must carry it.
    - account: the bot's name in envelopes (e.g. "@kanal_jakarta_bot"); empty: "bot<id>" from the token.
    - base_url: the Bot API server (a local Bot API server, or a fake in tests).
    - long_poll_timeout: polling: how long one getUpdates may wait for news; 0 = short polls every
      `poll_interval`.
    - allowed_updates: polling: the update kinds asked for (others are ignored anyway).
    """

    bot_token: Secret
    mode: Literal["webhook", "polling"] = "webhook"
    secret_token: Secret | None = None
    account: str = ""
    path: str = "/telegram/webhook"
    base_url: str = "https://api.telegram.org"
    long_poll_timeout: Duration = Duration(seconds=25)
    page_size: int = 100
    allowed_updates: tuple[str, ...] = ("message", "edited_message")

    def bot_account(self) -> str:
        """The account name: `account`, else `bot<id>` (the id before the token's colon is public)."""
        if self.account:
            return self.account
        bot_id = self.bot_token.reveal().partition(":")[0]
        return f"bot{bot_id}" if bot_id.isdigit() else "telegram-bot"

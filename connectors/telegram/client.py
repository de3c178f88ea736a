"""The Bot API through python-telegram-bot, with its errors mapped onto Kanal's error tree."""

from __future__ import annotations

import logging
import time
import warnings
from datetime import timedelta
from typing import Any

import msgspec
from telegram import Bot
from telegram.error import Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from connectors.errors import PermanentError, RateLimited, TransientError

# httpx logs every request URL at INFO, and Bot API URLs carry the bot token.
logging.getLogger("httpx").setLevel(logging.WARNING)

CREDENTIALS_HINT = "check bot_token (from @BotFather; a revoked one must be replaced in the config)"


class TooLarge(Exception):
    """Telegram says the file is bigger than the instance's media_max_bytes."""


class BotApi:
    """getMe, getUpdates, getFile and file download against a configurable Bot API server."""

    def __init__(self, token: str, base_url: str, read_timeout: float = 30.0) -> None:
        base = base_url.rstrip("/")
        self.bot = Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot",
                       request=HTTPXRequest(connection_pool_size=8, read_timeout=read_timeout),
                       get_updates_request=HTTPXRequest(read_timeout=read_timeout))

    async def get_me(self) -> dict[str, Any]:
        """The bot's own user: proves the token is accepted."""
        async with errors("getMe"):
            me = await self.bot.get_me()
        return dict(me.to_dict())

    async def updates(self, offset: int, wait_s: float, limit: int, allowed: tuple[str, ...]) -> list[bytes]:
        """Raw JSON of each update from `offset` on (this call confirms every update before it)."""
        params: dict[str, Any] = {"offset": offset, "limit": limit, "timeout": int(wait_s),
                                  "allowed_updates": list(allowed)}
        # do_api_request on purpose (PTB warns): KANAL_RAW keeps Telegram's JSON, not PTB's re-serialisation.
        # PTB also warns that RetryAfter.retry_after becomes a timedelta; errors() handles both.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PTBUserWarning)
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            async with errors("getUpdates"):
                result = await self.bot.do_api_request("getUpdates", api_kwargs=params, read_timeout=wait_s + 15)
        if not isinstance(result, list):
            raise TransientError(f"getUpdates answered {type(result).__name__}, expected a list")
        return [msgspec.json.encode(update) for update in result]

    async def download(self, file_id: str, max_bytes: int) -> bytes:
        """The file's bytes, via getFile and the file endpoint; TooLarge when Telegram reports it too big."""
        async with errors("getFile"):
            file = await self.bot.get_file(file_id)
            if file.file_size is not None and file.file_size > max_bytes:
                raise TooLarge(f"{file.file_size} bytes is over the limit of {max_bytes}")
            data = await file.download_as_bytearray()
        if len(data) > max_bytes:
            raise TooLarge(f"{len(data)} bytes is over the limit of {max_bytes}")
        return bytes(data)

    async def close(self) -> None:
        """Close the HTTP pools."""
        await self.bot.shutdown()


class errors:  # lowercase: used as `async with errors(...)`
    """Map python-telegram-bot errors: token refused -> PermanentError, flood/network -> transient."""

    def __init__(self, method: str) -> None:
        self.method = method

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: Any) -> bool:
        if err is None or not isinstance(err, TelegramError):
            return False
        if isinstance(err, RetryAfter):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PTBDeprecationWarning)
                wait = err.retry_after  # int now, a timedelta in a later PTB
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            raise RateLimited(f"{self.method}: Telegram flood control", retry_at=time.time() + seconds) from err
        if isinstance(err, InvalidToken | Forbidden):
            raise PermanentError(f"{self.method}: Telegram refused the bot token ({err.message})",
                                 hint=CREDENTIALS_HINT, credentials=True) from err
        if isinstance(err, Conflict):
            raise PermanentError(f"{self.method}: {err.message}",
                                 hint="a webhook is set for this bot: use mode = \"webhook\", or call "
                                      "deleteWebhook before polling; only one poller per bot") from err
        if isinstance(err, NetworkError):
            raise TransientError(f"{self.method}: {err.message}") from err
        raise TransientError(f"{self.method}: {err.message}") from err

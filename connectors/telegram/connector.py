"""Telegram intake, webhook or long polling, chosen by the instance's `mode` setting.

The runtime builds `TelegramConnector(ctx)`; that returns a TelegramWebhook (a WebhookConnector: routes,
secret-token check) or a TelegramPoller (a PollingConnector: getUpdates, offset checkpointed in KV) so each
mode runs on the runtime's own machinery. Both download files the same way (getFile via `base_url`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectors.base import Connector, Context
from connectors.errors import PermanentError, SignatureError
from connectors.poller import Page, PollingConnector, RawItem
from connectors.telegram import sender
from connectors.telegram.client import BotApi
from connectors.telegram.normalise import FILE_PREFIX
from connectors.telegram.settings import TelegramSettings
from connectors.webhook import WebhookConnector
from schemas import Attachment, Envelope
from schemas.outbound import OutboundMessage

HEADER = "x-telegram-bot-api-secret-token"  # the secret_token given to setWebhook


class TelegramCursor(msgspec.Struct, frozen=True, kw_only=True):
    """getUpdates offset: the next update_id to read (everything before it is published and confirmed)."""

    offset: int = 0


class TelegramConnector(Connector[TelegramSettings]):
    """Shared by both modes: the Bot API client and file downloads into the object store."""

    def __new__(cls, ctx: Context[TelegramSettings]) -> TelegramConnector:
        """Pick the mode's class when built as TelegramConnector(ctx), as the runtime does."""
        if cls is TelegramConnector:
            cls = TelegramPoller if ctx.settings.mode == "polling" else TelegramWebhook
        return object.__new__(cls)

    def __init__(self, ctx: Context[TelegramSettings]) -> None:
        super().__init__(ctx)
        self.account = self.settings.bot_account()
        self.api: BotApi | None = None

    def client(self) -> BotApi:
        """The Bot API client, opened on first use (a waiting webhook never needs it)."""
        if self.api is None:
            wait = self.settings.long_poll_timeout.total_seconds()
            self.api = BotApi(self.settings.bot_token.reveal(), self.settings.base_url, read_timeout=wait + 15)
        return self.api

    async def send(self, message: OutboundMessage) -> str | None:
        """Answer the reporter in their private chat with the bot (see sender.py for the chat id)."""
        return await sender.send(self.client(), message)

    async def close(self) -> None:
        """Close the Bot API client."""
        if self.api is not None:
            await self.api.close()
            self.api = None

    async def enrich(self, envelope: Envelope) -> Envelope:
        """Download every Telegram file (by file_id, via getFile) into the object store."""
        if not any(_pending(a) for a in envelope.attachments):
            return envelope
        stored: list[Attachment] = []
        for attachment in envelope.attachments:
            if _pending(attachment):
                attachment = await self._store(attachment)
            stored.append(attachment)
        return msgspec.structs.replace(envelope, attachments=tuple(stored))

    async def _store(self, attachment: Attachment) -> Attachment:
        file_id = (attachment.source_url or "").removeprefix(FILE_PREFIX)
        try:
            data = await self.client().download(file_id, self.ctx.common.media_max_bytes)
            put = await self.ctx.media.put(data, attachment.media_type, attachment.name, attachment.source_url)
            return msgspec.structs.replace(put, kind=attachment.kind)
        except Exception as err:  # recorded on the attachment, never dropped
            self.log.warning("media_download_failed", error=repr(err), kind=attachment.kind)
            return msgspec.structs.replace(attachment, error=f"download failed: {err}")


def _pending(attachment: Attachment) -> bool:
    return bool(attachment.source_url and attachment.source_url.startswith(FILE_PREFIX)
                and not attachment.object_key and not attachment.error)


class TelegramWebhook(TelegramConnector, WebhookConnector[TelegramSettings]):
    """POST {path}: one Update per request, with the secret token given to setWebhook."""

    async def start(self) -> None:
        """Refuse to run a webhook anyone could post to."""
        if not self.settings.secret_token:
            raise PermanentError("telegram webhook mode needs secret_token",
                                 hint="set secret_token (1-256 of A-Z a-z 0-9 _ -) and pass the same value "
                                      "to setWebhook")

    def routes(self) -> list[BaseRoute]:
        """The endpoint given to setWebhook."""
        return [Route(self.settings.path, self.guard(self.webhook), methods=["POST"])]

    async def webhook(self, request: Request) -> Response:
        """Check the secret token, publish (or spool), then 200 so Telegram moves on."""
        body = await self.read_body(request)
        expected = self.settings.secret_token
        given = request.headers.get(HEADER)
        if not expected:
            raise SignatureError("no_secret_token_configured")
        if given is None:
            raise SignatureError("missing_secret_token")
        if not hmac.compare_digest(given.encode(), expected.reveal().encode()):
            raise SignatureError("bad_secret_token")
        await self.take(body, self.account, "application/json")
        return Response(status_code=200)


class TelegramPoller(TelegramConnector, PollingConnector[TelegramSettings, TelegramCursor]):
    """getUpdates from the checkpointed offset; a long poll is the wait between passes."""

    cursor_type = TelegramCursor

    def __init__(self, ctx: Context[TelegramSettings]) -> None:
        super().__init__(ctx)
        self.stop: asyncio.Event | None = None

    async def start(self) -> None:
        """Check the token once (a refused one stops the instance: exit 78)."""
        me = await self.client().get_me()
        self.log.info("telegram_bot", bot=me.get("username"), account=self.account)

    async def pages(self, cursor: TelegramCursor | None) -> AsyncIterator[Page[TelegramCursor]]:
        """Oldest first; the first call of a pass may long-poll (cut short by shutdown)."""
        offset = cursor.offset if cursor else 0
        wait = self.settings.long_poll_timeout.total_seconds() if self.stop is not None else 0.0
        while True:
            raw = await self._updates(offset, wait)
            wait = 0.0
            if raw is None or not raw:
                return
            items = [RawItem(data=data, account=self.account) for data in raw]
            offset = max(_update_id(data) for data in raw) + 1
            yield Page(items=items, cursor=TelegramCursor(offset=offset), more=len(raw) >= self.settings.page_size)
            if len(raw) < self.settings.page_size:
                return

    async def _updates(self, offset: int, wait: float) -> list[bytes] | None:
        call = self.client().updates(offset, wait, self.settings.page_size, self.settings.allowed_updates)
        if wait <= 0 or self.stop is None:
            return await call
        fetch = asyncio.ensure_future(call)
        stopping = asyncio.ensure_future(self.stop.wait())
        await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not fetch.done():  # shutting down: nothing read, the offset is unchanged
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fetch
            return None
        return fetch.result()

    async def wait(self, stop: asyncio.Event) -> None:
        """With long polling, getUpdates itself waits: go straight on; else wait `poll_interval`."""
        self.stop = stop
        if self.settings.long_poll_timeout.total_seconds() <= 0:
            await super().wait(stop)


class _UpdateId(msgspec.Struct):
    update_id: int


_update_id_decoder = msgspec.json.Decoder(_UpdateId)


def _update_id(data: bytes) -> int:
    return _update_id_decoder.decode(data).update_id


__all__ = ["TelegramConnector", "TelegramCursor", "TelegramPoller", "TelegramWebhook"]



"""Two small channels used to test the runtime itself: `hook` (signed JSON webhook) and `feed` (HTTP poller).

They are registered through KANAL_EXTRA_CHANNELS=tests.connectors.sample_channels:hook,...:feed in
subprocess tests, and passed as specs in in-process ones.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from kanal.plugin import (
    Attachment,
    BadPayload,
    ChannelSpec,
    Envelope,
    Ignored,
    Location,
    NormaliseContext,
    OutboundMessage,
    Outcome,
    Page,
    PermanentError,
    PollingConnector,
    RateLimited,
    RawItem,
    Reporter,
    Secret,
    SendRefused,
    SignatureError,
    TransientError,
    WebhookConnector,
    envelope_id,
)


class Message(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    sender: str
    text: str = ""
    kind: str = "message"
    lat: float | None = None
    lon: float | None = None
    media_url: str | None = None
    sent_at: datetime | None = None


class Batch(msgspec.Struct, frozen=True, kw_only=True):
    messages: list[Message]


_batch = msgspec.json.Decoder(Batch)


def normalise(raw: bytes, ctx: NormaliseContext) -> Outcome:
    """Pure: a JSON batch of messages -> envelopes; `kind=receipt` is ignored."""
    try:
        batch = _batch.decode(raw)
    except msgspec.DecodeError as err:
        raise BadPayload("malformed_json", str(err)) from err
    envelopes: list[Envelope] = []
    ignored: list[Ignored] = []
    for message in batch.messages:
        if message.kind == "receipt":
            ignored.append(Ignored(reason="delivery_receipt", detail=message.id))
            continue
        location = (Location(lat=message.lat, lon=message.lon, source="provider")
                    if message.lat is not None and message.lon is not None else None)
        attachments = (Attachment(kind="image", source_url=message.media_url),) if message.media_url else ()
        envelopes.append(Envelope(
            id=envelope_id(ctx.channel, ctx.account, message.id), channel=ctx.channel, instance=ctx.instance,
            account=ctx.account, external_id=message.id, kind="direct_message",
            created_at=message.sent_at or ctx.received_at, received_at=ctx.received_at,
            reporter=Reporter(contact=message.sender, user_id=message.sender), visibility="private",
            text=message.text, location=location, attachments=attachments,
        ))
    return Outcome(envelopes=tuple(envelopes), ignored=tuple(ignored))


class HookSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    account: str
    secret: Secret
    reply_url: str | None = None


class HookConnector(WebhookConnector[HookSettings]):
    """POST /inbound with X-Hook-Signature: sha256=<hex HMAC of the raw body>."""

    def routes(self) -> list[BaseRoute]:
        return [Route("/inbound", self.guard(self.inbound), methods=["POST"])]

    async def inbound(self, request: Request) -> Response:
        body = await self.read_body(request)
        expected = "sha256=" + hmac.new(self.settings.secret.reveal().encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("x-hook-signature", "")):
            raise SignatureError("bad_signature")
        await self.take(body, self.settings.account, "application/json")
        return JSONResponse({"ok": True})


    async def send(self, message: OutboundMessage) -> str | None:
        """Answer the reporter: POST {reply_url} {"to", "text"}; private reports only by DM."""
        if not self.settings.reply_url:
            raise SendRefused("this hook instance has no reply_url")
        async with httpx.AsyncClient(timeout=5) as client:
            try:
                response = await client.post(self.settings.reply_url, json={
                    "to": message.reply_to.reporter.contact, "text": message.text, "dm": not message.public_allowed})
            except httpx.HTTPError as err:
                raise TransientError(f"reply endpoint unreachable: {err!r}") from err
        if response.status_code >= 500:
            raise TransientError(f"reply endpoint answered {response.status_code}")
        if response.status_code >= 400:
            raise SendRefused(f"reply endpoint refused: {response.status_code}")
        return str(response.json()["id"])


hook = ChannelSpec(id="hook", mode="webhook", summary="test webhook channel", settings=HookSettings,
                   connector="tests.connectors.sample_channels:HookConnector",
                   normaliser="tests.connectors.sample_channels:normalise")


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class FeedSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    account: str
    base_url: str
    token: Secret
    page_size: int = 10


class FeedCursor(msgspec.Struct, frozen=True, kw_only=True):
    after: int = 0


class FeedConnector(PollingConnector[FeedSettings, FeedCursor]):
    """GET {base_url}/items?after=N&limit=K -> {"messages": [...], "last": N}."""

    cursor_type = FeedCursor

    async def start(self) -> None:
        self.http = httpx.AsyncClient(base_url=self.settings.base_url, timeout=10,
                                      headers={"Authorization": f"Bearer {self.settings.token.reveal()}"})

    async def close(self) -> None:
        await self.http.aclose()

    async def pages(self, cursor: FeedCursor | None) -> AsyncIterator[Page[FeedCursor]]:
        after = cursor.after if cursor else 0
        while True:
            try:
                response = await self.http.get("/items", params={"after": after, "limit": self.settings.page_size})
            except httpx.HTTPError as err:
                raise TransientError(f"feed unreachable: {err!r}") from err
            if response.status_code in (401, 403):
                raise PermanentError(f"feed refused the token ({response.status_code})",
                                     hint="check [connectors.<instance>] token", credentials=True)
            if response.status_code == 429:
                raise RateLimited("feed rate limit", retry_at=float(response.headers.get("x-reset", "0")) or None)
            if response.status_code >= 500:
                raise TransientError(f"feed answered {response.status_code}")
            body = response.json()
            items = [RawItem(msgspec.json.encode({"messages": [m]}), self.settings.account)
                     for m in body["messages"]]
            if not items:
                return
            after = int(body["last"])
            yield Page(items=items, cursor=FeedCursor(after=after))


feed = ChannelSpec(id="feed", mode="poll", summary="test polling channel", settings=FeedSettings,
                   connector="tests.connectors.sample_channels:FeedConnector",
                   normaliser="tests.connectors.sample_channels:normalise")


def message(n: int, **fields: object) -> dict[str, object]:
    return {"id": f"m{n}", "sender": "+6281234567890", "text": f"Banjir di Kemang nomor {n}",
            "sent_at": datetime(2026, 11, 24, 3, 0, tzinfo=UTC).isoformat(), **fields}

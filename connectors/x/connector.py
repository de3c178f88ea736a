"""X intake for one account: polled from the API v2 (XPoller, the default) or pushed by the Account Activity
webhook (XWebhook, `mode = "webhook"`); `XConnector(ctx)` builds the one the settings name.

The poller reads the account's mentions, a recent-search query and DM events; one since_id per stream.

X pages run newest -> oldest (`next_token` walks back in time). Kanal reads a stream's whole window above
its `since_id`, then publishes it OLDEST first, `max_results` items per checkpoint, and checkpoints the
newest id published. A restart re-reads exactly the unpublished rest of the window: nothing skipped,
nothing repeated (ids are time-ordered snowflakes). A saved pagination token would only be valid for the
window it came from, so it is not checkpointed (see README).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import msgspec
import requests
import tweepy
from msgspec import Struct
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.base import Connector, Context
from connectors.errors import PermanentError, SignatureError
from connectors.poller import Page, PollingConnector, RawItem
from connectors.webhook import WebhookConnector
from connectors.x import payload, sender
from connectors.x.client import BadRequest, Forbidden, XApi
from connectors.x.settings import XSettings
from schemas.outbound import OutboundMessage

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
# Recent search only reaches back seven days; a since_id older than that is refused with 400.
SEARCH_REACH = timedelta(days=7) - timedelta(minutes=5)


class StreamCursor(Struct, frozen=True, kw_only=True):
    """Newest item id published from one stream (and, for search, the query it belongs to)."""

    since_id: str | None = None
    query: str | None = None


class XCursor(Struct, frozen=True, kw_only=True):
    """All streams of one instance, checkpointed together."""

    mentions: StreamCursor = StreamCursor()
    search: StreamCursor = StreamCursor()
    dms: StreamCursor = StreamCursor()


class _User(Struct, frozen=True):
    id: str


class _UserBody(Struct, frozen=True):
    data: _User


class XConnector(Connector[XSettings]):
    """One X account, in the mode its settings name: XPoller (API v2 polling) or XWebhook (Account Activity).

    Both answer reporters the same way and fetch DM media with the account's user context.
    """

    api: XApi | None = None

    def __new__(cls, ctx: Context[XSettings]) -> XConnector:
        """Pick the mode's class when built as XConnector(ctx), as the runtime does."""
        if cls is XConnector:
            cls = XWebhook if ctx.settings.mode == "webhook" else XPoller
        return object.__new__(cls)

    def client(self) -> XApi:
        """The API client, made on first use."""
        if self.api is None:
            self.api = XApi(self.settings)
        return self.api

    async def close(self) -> None:
        if self.api is not None:
            self.api.close()

    async def send(self, message: OutboundMessage) -> str | None:
        """Answer the reporter: a reply tweet if the report may be answered publicly, else a DM (sender.py)."""
        return await sender.send(self.client(), message)

    def media_request(self, url: str) -> dict[str, Any]:
        """DM media (ton.twitter.com) needs the account's user context; tweet media (pbs.twimg.com) is public."""
        if urlsplit(url).hostname != "ton.twitter.com":
            return {}
        s = self.settings
        if s.consumer_key and s.consumer_secret and s.access_token and s.access_token_secret:
            auth = tweepy.OAuth1UserHandler(s.consumer_key.reveal(), s.consumer_secret.reveal(),
                                            s.access_token.reveal(), s.access_token_secret.reveal()).apply_auth()
            signed = requests.Request("GET", url, auth=auth).prepare()
            return {"headers": {"Authorization": str(signed.headers["Authorization"])}}
        if s.user_bearer_token:
            return {"headers": {"Authorization": f"Bearer {s.user_bearer_token.reveal()}"}}
        return {}



class XPoller(XConnector, PollingConnector[XSettings, XCursor]):
    """Mentions, search and DMs of one X account, polled from the API v2."""

    cursor_type = XCursor

    async def start(self) -> None:
        self.api = XApi(self.settings)
        self.user_id = self.settings.user_id
        self.dms_off: str | None = None
        if self.settings.direct_messages and self.api.user is None:
            self._disable_dms("no_user_context_credentials",
                              "set consumer_key/consumer_secret/access_token/access_token_secret or "
                              "user_bearer_token to read DMs")

    def _disable_dms(self, reason: str, hint: str) -> None:
        if self.dms_off is None:
            self.dms_off = reason
            self.log.error("x_dm_stream_disabled", reason=reason, hint=hint,
                           note="mentions and search go on; restart after fixing to read DMs")

    async def pages(self, cursor: XCursor | None) -> AsyncIterator[Page[XCursor]]:
        cursor = cursor or XCursor()
        streams: list[str] = []
        if self.settings.mentions:
            streams.append("mentions")
        if self.settings.search_query:
            streams.append("search")
        if self.settings.direct_messages:
            streams.append("dms")
        for stream in streams:
            state: StreamCursor = getattr(cursor, stream)
            if stream == "search" and state.query != self.settings.search_query:
                state = StreamCursor(query=self.settings.search_query)  # a new query starts afresh
            if stream == "dms" and self.dms_off:
                continue
            try:
                items = await self._window(stream, state.since_id)
            except Forbidden as err:
                if stream != "dms":
                    raise
                self._disable_dms(err.problem or "forbidden", str(err))
                continue
            self.log.info("x_stream_read", stream=stream, since_id=state.since_id, new=len(items))
            size = max(1, self.settings.max_results)
            for start in range(0, len(items), size):
                chunk = items[start:start + size]
                state = msgspec.structs.replace(state, since_id=chunk[-1][0])
                cursor = msgspec.structs.replace(cursor, **{stream: state})
                yield Page(items=[RawItem(data, self.settings.account) for _, data in chunk], cursor=cursor)

    async def _window(self, stream: str, since_id: str | None) -> list[tuple[str, bytes]]:
        """Every item newer than `since_id` (first run: within `first_run_lookback`), oldest first."""
        now = datetime.now(UTC)
        lookback = now - self.settings.first_run_lookback
        found: dict[int, bytes] = {}
        token: str | None = None
        floor = int(since_id) if since_id else 0
        while True:
            body = await self._page(stream, since_id, lookback, token)
            items, meta = payload.split(body)
            older = False
            for item_id, data in items:
                if not item_id.isdigit() or int(item_id) <= floor:
                    older = True  # DMs have no since_id parameter: stop at what we already have
                    continue
                if stream == "dms" and since_id is None and (payload.snowflake_time(item_id) or now) < lookback:
                    older = True
                    continue
                found[int(item_id)] = data
            token = meta.next_token
            if not token or older:
                break
        return [(str(k), found[k]) for k in sorted(found)]

    async def _page(self, stream: str, since_id: str | None, lookback: datetime, token: str | None) -> bytes:
        fields: dict[str, Any] = {"max_results": self.settings.max_results}
        if stream == "dms":
            return await self.client().dm_events(dm_event_fields=payload.DM_FIELDS, expansions=payload.DM_EXPANSIONS,
                                            media_fields=payload.MEDIA_FIELDS, user_fields=payload.USER_FIELDS,
                                            tweet_fields=payload.TWEET_FIELDS, pagination_token=token, **fields)
        fields |= {"expansions": payload.EXPANSIONS, "tweet_fields": payload.TWEET_FIELDS,
                   "user_fields": payload.USER_FIELDS, "media_fields": payload.MEDIA_FIELDS,
                   "place_fields": payload.PLACE_FIELDS}
        if since_id:
            fields["since_id"] = since_id
        else:
            fields["start_time"] = lookback
        if stream == "mentions":
            return await self.client().mentions(await self._user_id(), pagination_token=token, **fields)
        try:
            return await self.client().search(self.settings.search_query, next_token=token, **fields)
        except BadRequest as err:
            if not since_id or "since_id" not in str(err):
                raise
            # the last search result is older than search reaches: read all it reaches; the floor filters
            self.log.warning("x_search_since_id_too_old", since_id=since_id, error=str(err))
            del fields["since_id"]
            fields["start_time"] = datetime.now(UTC) - SEARCH_REACH
            return await self.client().search(self.settings.search_query, next_token=token, **fields)

    async def _user_id(self) -> str:
        if self.user_id is None:
            body = await self.client().user_id(self.settings.account.lstrip("@"))
            try:
                self.user_id = msgspec.json.decode(body, type=_UserBody).data.id
            except msgspec.DecodeError as err:
                raise PermanentError(f"X has no user @{self.settings.account}: {body[:200]!r}",
                                     hint="check `account`, or set `user_id`") from err
            self.log.info("x_user_resolved", account=self.settings.account, user_id=self.user_id)
        return self.user_id


class XWebhook(XConnector, WebhookConnector[XSettings]):
    """The Account Activity API's webhook: the CRC challenge (GET) and signed deliveries (POST) on `path`.

    X signs with the app's consumer secret: the CRC answer is `sha256=` + base64(HMAC-SHA256(secret,
    crc_token)), and every delivery carries `x-twitter-webhooks-signature` = the same over the raw body. A
    delivery without a valid signature is refused (403) and publishes nothing.
    """

    async def start(self) -> None:
        """Refuse to run a webhook anyone could post to."""
        if self.settings.consumer_secret is None or not self.settings.consumer_secret.reveal():
            raise PermanentError("x webhook mode needs consumer_secret",
                                 hint="set consumer_secret (or consumer_secret_file) to the app's API Key Secret: "
                                      "X signs the CRC challenge and every delivery with it")

    def routes(self) -> list[BaseRoute]:
        """The URL registered with X (POST /2/webhooks), answering both the challenge and the deliveries."""
        return [Route(self.settings.path, self.crc, methods=["GET"]),
                Route(self.settings.path, self.guard(self.delivery), methods=["POST"])]

    def _sign(self, data: bytes) -> str:
        secret = self.settings.consumer_secret.reveal() if self.settings.consumer_secret else ""
        digest = hmac.new(secret.encode(), data, hashlib.sha256).digest()
        return "sha256=" + base64.b64encode(digest).decode()

    async def crc(self, request: Request) -> Response:
        """X's challenge, on registration and hourly: answer it or X marks the webhook invalid."""
        token = request.query_params.get("crc_token")
        if not token:
            self.log.warning("x_crc_without_token")
            return JSONResponse({"error": "crc_token is missing"}, status_code=400)
        self.log.info("x_crc_answered")
        return JSONResponse({"response_token": self._sign(token.encode())})

    async def delivery(self, request: Request) -> Response:
        """Check the signature over the raw body, publish (or spool), then 200 so X does not retry."""
        body = await self.read_body(request)
        given = request.headers.get(SIGNATURE_HEADER)
        if not given:
            raise SignatureError("missing_signature")
        if not hmac.compare_digest(given.encode(), self._sign(body).encode()):
            raise SignatureError("bad_signature")
        await self.take(body, self.settings.account, "application/json")
        return Response(status_code=200)

"""Polls the account's mentions, a recent-search query and DM events; one since_id per stream.

X pages run newest -> oldest (`next_token` walks back in time). Kanal reads a stream's whole window above
its `since_id`, then publishes it OLDEST first, `max_results` items per checkpoint, and checkpoints the
newest id published. A restart re-reads exactly the unpublished rest of the window: nothing skipped,
nothing repeated (ids are time-ordered snowflakes). A saved pagination token would only be valid for the
window it came from, so it is not checkpointed (see README).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import msgspec
import requests
import tweepy
from msgspec import Struct

from connectors.errors import PermanentError
from connectors.poller import Page, PollingConnector, RawItem
from connectors.x import payload, sender
from connectors.x.client import BadRequest, Forbidden, XApi
from connectors.x.settings import XSettings
from schemas.outbound import OutboundMessage

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


class XConnector(PollingConnector[XSettings, XCursor]):
    """Mentions, search and DMs of one X account."""

    cursor_type = XCursor

    async def start(self) -> None:
        self.api = XApi(self.settings)
        self.user_id = self.settings.user_id
        self.dms_off: str | None = None
        if self.settings.direct_messages and self.api.user is None:
            self._disable_dms("no_user_context_credentials",
                              "set consumer_key/consumer_secret/access_token/access_token_secret or "
                              "user_bearer_token to read DMs")

    async def close(self) -> None:
        self.api.close()

    async def send(self, message: OutboundMessage) -> str | None:
        """Answer the reporter: a reply tweet if the report may be answered publicly, else a DM (sender.py)."""
        return await sender.send(self.api, message)

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
            return await self.api.dm_events(dm_event_fields=payload.DM_FIELDS, expansions=payload.DM_EXPANSIONS,
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
            return await self.api.mentions(await self._user_id(), pagination_token=token, **fields)
        try:
            return await self.api.search(self.settings.search_query, next_token=token, **fields)
        except BadRequest as err:
            if not since_id or "since_id" not in str(err):
                raise
            # the last search result is older than search reaches: read all it reaches; the floor filters
            self.log.warning("x_search_since_id_too_old", since_id=since_id, error=str(err))
            del fields["since_id"]
            fields["start_time"] = datetime.now(UTC) - SEARCH_REACH
            return await self.api.search(self.settings.search_query, next_token=token, **fields)

    async def _user_id(self) -> str:
        if self.user_id is None:
            body = await self.api.user_id(self.settings.account.lstrip("@"))
            try:
                self.user_id = msgspec.json.decode(body, type=_UserBody).data.id
            except msgspec.DecodeError as err:
                raise PermanentError(f"X has no user @{self.settings.account}: {body[:200]!r}",
                                     hint="check `account`, or set `user_id`") from err
            self.log.info("x_user_resolved", account=self.settings.account, user_id=self.user_id)
        return self.user_id

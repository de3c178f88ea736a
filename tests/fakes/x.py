"""A local X API v2 (mentions, recent search, DM events, user lookup, media) answering in X's real format.

tweepy's own Client calls it (see connectors/x/client.py for how the host is redirected). Responses carry
`data`, `includes` (users, media, places, tweets), `meta` (newest_id, oldest_id, result_count, next_token),
`errors`, and the x-rate-limit-* headers; 401/403/429 bodies are X's problem documents.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.serve import FakeProvider, serving

ACCOUNT_ID = "1023456789"
EPOCH_MS = 1288834974657
BASE = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
PNG = b"\x89PNG\r\n\x1a\n" + b"kanal-x-photo" * 10
CITIZENS = [("51001", "warga_kemang", "Warga Kemang"), ("51002", "ibu_rt05", "Ibu RT 05"),
            ("51003", "ojol_jaksel", "Ojol Jaksel")]
PLACE = {"id": "3e9c4a6b1b0e3f45", "full_name": "Mampang Prapatan, Indonesia", "name": "Mampang Prapatan",
         "country_code": "ID", "place_type": "city",
         "geo": {"type": "Feature", "bbox": [106.8095, -6.2601, 106.8371, -6.2318], "properties": {}}}
UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
CLIENT_FORBIDDEN = {
    "client_id": "29384756", "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use "
    "keys and tokens from a Twitter developer App that is attached to a Project. You can create a project via "
    "the developer portal.", "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
    "title": "Client Forbidden", "required_enrollment": "Appropriate Level of API Access",
    "reason": "client-not-enrolled", "type": "https://api.twitter.com/2/problems/client-forbidden"}
TOO_MANY = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}


def snowflake(moment: datetime, sequence: int) -> str:
    """An X-style id for `moment` (ids sort by time)."""
    return str(((int(moment.timestamp() * 1000) - EPOCH_MS) << 22) | (sequence & 0xFFF))


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class XProvider(FakeProvider):
    """Holds numbered tweets per stream (mentions, search, dms); every 5th initial mention is a retweet."""

    bearer_token: str = "AAAAAAAAAAAAAAAAAAAAAKanalTestBearer0000"
    tweets: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"mentions": [], "search": [],
                                                                             "dms": []})
    counter: int = 0
    dm_status: int | None = None
    delay: float = 0.0
    media_delay: float = 0.0
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    # Replies and DMs: each POST as received (path, Authorization header, JSON body); answers to give next.
    posted: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    post_errors: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @property
    def settings(self) -> dict[str, Any]:
        return {"account": "DKIJakarta", "bearer_token": self.bearer_token, "api_base_url": self.base_url,
                "search_query": "(banjir OR macet) jakarta", "max_results": 5,
                "consumer_key": "ck-test-123456", "consumer_secret": "cs-test-123456",
                "access_token": "at-test-123456", "access_token_secret": "ats-test-123456"}

    def add(self, count: int, stream: str = "mentions", retweet_every: int = 0, reply_every: int = 0) -> list[str]:
        """Add tweets (or DM events) created one minute apart; returns their ids."""
        ids = []
        for index in range(1, count + 1):
            self.counter += 1
            n = self.counter
            moment = BASE + timedelta(minutes=n)
            user_id, _, _ = CITIZENS[n % len(CITIZENS)]
            item_id = snowflake(moment, n)
            ids.append(item_id)
            if stream == "dms":
                self.tweets["dms"].append({
                    "id": item_id, "event_type": "MessageCreate", "text": f"DM laporan nomor {n}: got mampet",
                    "sender_id": user_id, "dm_conversation_id": f"{ACCOUNT_ID}-{user_id}",
                    "created_at": iso(moment)})
                continue
            tweet: dict[str, Any] = {
                "id": item_id, "edit_history_tweet_ids": [item_id], "author_id": user_id, "created_at": iso(moment),
                "conversation_id": item_id, "lang": "in",
                "text": f"@DKIJakarta banjir &amp; sampah di Kemang nomor {n}",
                "attachments": {"media_keys": [f"3_{item_id}"]},
            }
            if n % 3 == 0:
                tweet["geo"] = {"place_id": PLACE["id"]}
            elif n % 3 == 1:
                tweet["geo"] = {"coordinates": {"type": "Point", "coordinates": [106.8166, -6.2615]},
                                "place_id": PLACE["id"]}
            if retweet_every and index % retweet_every == 0:
                tweet["referenced_tweets"] = [{"type": "retweeted", "id": "1500000000000000001"}]
                tweet["text"] = "RT @warga_kemang: banjir lagi"
            elif reply_every and index % reply_every == 0:
                tweet["referenced_tweets"] = [{"type": "replied_to", "id": "1500000000000000002"}]
                tweet["conversation_id"] = "1500000000000000002"
                tweet["in_reply_to_user_id"] = ACCOUNT_ID
            self.tweets[stream].append(tweet)
        return ids

    def expected_ids(self, stream: str = "mentions") -> list[str]:
        """Ids that must be published (not retweets), oldest first."""
        return [t["id"] for t in self.tweets[stream]
                if not any(r["type"] == "retweeted" for r in t.get("referenced_tweets", []))]

    def _headers(self) -> dict[str, str]:
        return {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "449",
                "x-rate-limit-reset": str(int(time.time()) + 900)}

    def _includes(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        users = {t.get("author_id") or t.get("sender_id") for t in items}
        users.add(ACCOUNT_ID)
        media = [{"media_key": k, "type": "photo", "url": f"{self.base_url}/media/{k}.png", "width": 640,
                  "height": 480} for t in items for k in t.get("attachments", {}).get("media_keys", [])]
        includes: dict[str, Any] = {"users": [
            {"id": uid, "username": name, "name": display} for uid, name, display in
            [*CITIZENS, (ACCOUNT_ID, "DKIJakarta", "Pemprov DKI Jakarta")] if uid in users]}
        if media:
            includes["media"] = media
        if any("place_id" in t.get("geo", {}) for t in items):
            includes["places"] = [PLACE]
        return includes

    def _page(self, stream: str, params: dict[str, str], token_param: str) -> dict[str, Any]:
        newest_first = sorted(self.tweets[stream], key=lambda t: int(t["id"]), reverse=True)
        since = int(params.get("since_id") or 0)
        if "start_time" in params:
            start = datetime.strptime(params["start_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            newest_first = [t for t in newest_first if t["created_at"] >= iso(start)]
        window = [t for t in newest_first if int(t["id"]) > since]
        offset = int(params.get(token_param) or 0)
        size = int(params.get("max_results") or 10)
        page = window[offset:offset + size]
        if not page:
            return {"meta": {"result_count": 0}}
        meta: dict[str, Any] = {"result_count": len(page)}
        if stream != "dms":
            meta |= {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"]}
        if offset + size < len(window):
            meta["next_token"] = str(offset + size)
        return {"data": page, "includes": self._includes(page), "meta": meta}

    def app(self) -> Starlette:
        async def guard(request: Request, user: bool = False) -> Response | None:
            self.requests.append((request.url.path, dict(request.query_params)))
            if self.delay:
                await asyncio.sleep(self.delay)
            auth = request.headers.get("authorization", "")
            if (user and not auth.startswith("OAuth ")) or (not user and auth != f"Bearer {self.bearer_token}"):
                return JSONResponse(UNAUTHORIZED, status_code=401)
            status = self.dm_status if user and self.dm_status else self.status
            if status == 429:
                headers = {**self._headers(), "x-rate-limit-remaining": "0",
                           "x-rate-limit-reset": str(int(time.time()) + 2)}
                return JSONResponse(TOO_MANY, status_code=429, headers=headers)
            if status == 403:
                return JSONResponse(CLIENT_FORBIDDEN, status_code=403)
            if status == 401:
                return JSONResponse(UNAUTHORIZED, status_code=401)
            if status is not None:
                return JSONResponse({"title": "Service Unavailable", "status": status}, status_code=status)
            return None

        async def user_by_name(request: Request) -> Response:
            return await guard(request) or JSONResponse(
                {"data": {"id": ACCOUNT_ID, "name": "Pemprov DKI Jakarta", "username": "DKIJakarta"}},
                headers=self._headers())

        async def mentions(request: Request) -> Response:
            if request.path_params["id"] != ACCOUNT_ID:
                return JSONResponse({"errors": [{"message": "not found"}]}, status_code=404)
            return await guard(request) or JSONResponse(
                self._page("mentions", dict(request.query_params), "pagination_token"), headers=self._headers())

        async def search(request: Request) -> Response:
            return await guard(request) or JSONResponse(
                self._page("search", dict(request.query_params), "next_token"), headers=self._headers())

        async def dm_events(request: Request) -> Response:
            return await guard(request, user=True) or JSONResponse(
                self._page("dms", dict(request.query_params), "pagination_token"), headers=self._headers())

        async def media(request: Request) -> Response:
            if self.media_delay:
                await asyncio.sleep(self.media_delay)
            return Response(PNG, media_type="image/png")

        async def post(request: Request, dm: bool) -> Response:
            body: dict[str, Any] = await request.json()
            self.posted.append((request.url.path, request.headers.get("authorization", ""), body))
            if not request.headers.get("authorization", "").startswith("OAuth "):
                return JSONResponse(UNAUTHORIZED, status_code=401)
            if self.post_errors:
                status, problem = self.post_errors.pop(0)
                headers = {**self._headers(), "x-rate-limit-remaining": "0",
                           "x-rate-limit-reset": str(int(time.time()) + 600)} if status == 429 else None
                return JSONResponse(problem, status_code=status, headers=headers)
            self.counter += 1
            new_id = snowflake(datetime.now(UTC), self.counter)
            if dm:
                return JSONResponse({"data": {"dm_conversation_id": f"{ACCOUNT_ID}-{request.path_params['pid']}",
                                              "dm_event_id": new_id}}, status_code=201, headers=self._headers())
            return JSONResponse({"data": {"id": new_id, "text": body.get("text", ""),
                                          "edit_history_tweet_ids": [new_id]}}, status_code=201,
                                headers=self._headers())

        async def tweets(request: Request) -> Response:
            return await post(request, dm=False)

        async def dm_send(request: Request) -> Response:
            return await post(request, dm=True)

        return Starlette(routes=[
            Route("/2/tweets", tweets, methods=["POST"]),
            Route("/2/dm_conversations/with/{pid}/messages", dm_send, methods=["POST"]),
            Route("/2/users/by/username/{username}", user_by_name), Route("/2/users/{id}/mentions", mentions),
            Route("/2/tweets/search/recent", search), Route("/2/dm_events", dm_events),
            Route("/media/{name}", media)])


@asynccontextmanager
async def x_provider(mentions: int = 0, search: int = 0, dms: int = 0) -> AsyncIterator[XProvider]:
    """Serve an XProvider on a free loopback port, with some mentions (every 5th a retweet), search and DMs."""
    async with serving(XProvider()) as provider:
        provider.add(mentions, "mentions", retweet_every=5, reply_every=4)
        provider.add(search, "search")
        provider.add(dms, "dms")
        yield provider

"""A local fake of the `feed` provider (and a media host) for runtime tests, served on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.connectors.sample_channels import message
from tests.fakes.serve import FakeProvider, serving


@dataclass
class FeedProvider(FakeProvider):
    """Holds numbered items; records the `after` of every request; can fail or slow down on demand."""

    items: int = 0
    delay: float = 0.0
    requests: list[int] = field(default_factory=list)
    sent: list[dict[str, object]] = field(default_factory=list)
    send_status: int | None = None
    media: dict[str, bytes] = field(default_factory=dict)
    token: str = "feed-token-123456"

    @property
    def settings(self) -> dict[str, object]:
        return {"account": "feed-account", "base_url": self.base_url, "token": self.token, "page_size": 10}

    def add(self, count: int) -> None:
        self.items += count

    def app(self) -> Starlette:
        async def items(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            if self.status is not None:
                return JSONResponse({"error": "failing on purpose"}, status_code=self.status)
            after = int(request.query_params["after"])
            limit = int(request.query_params["limit"])
            self.requests.append(after)
            if self.delay:
                await asyncio.sleep(self.delay)
            numbers = list(range(after + 1, min(self.items, after + limit) + 1))
            return JSONResponse({"messages": [message(n) for n in numbers], "last": numbers[-1] if numbers else after})

        async def media(request: Request) -> Response:
            data = self.media.get(request.path_params["name"])
            if data is None:
                return Response(status_code=404)
            return Response(data, media_type="image/jpeg")

        async def send(request: Request) -> Response:
            if self.send_status is not None:
                return JSONResponse({"error": "failing on purpose"}, status_code=self.send_status)
            self.sent.append(await request.json())
            return JSONResponse({"id": f"out-{len(self.sent)}"})

        return Starlette(routes=[Route("/items", items), Route("/media/{name}", media),
                                 Route("/send", send, methods=["POST"])])


@asynccontextmanager
async def feed_provider(items: int = 0) -> AsyncIterator[FeedProvider]:
    """Serve a FeedProvider on a free loopback port."""
    async with serving(FeedProvider(items=items)) as provider:
        yield provider

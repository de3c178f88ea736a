"""A local test CRM: accepts routed items keyed by Idempotency-Key, answers 409 for a repeat, and can be told
to fail (5xx), hang past the client's timeout, or reject credentials for given items."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kanal import http

TOKEN = "Bearer crm-test-token-123456"


@dataclass
class FakeCrm:
    """Scripted answers per item id: a list of "500", "hang", "400", "401"; then normal behaviour."""

    script: dict[str, list[str]] = field(default_factory=dict)
    stored: dict[str, bytes] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    answers: list[tuple[str, int]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def items(self, request: Request) -> Response:
        key = request.headers.get("idempotency-key", "")
        body = await request.body()
        self.attempts[key] += 1
        try:
            status = await self._answer(request, key, body)
        finally:
            self.changed.set()
        self.answers.append((key, status))
        return JSONResponse({"key": key}, status_code=status)

    async def _answer(self, request: Request, key: str, body: bytes) -> int:
        if request.headers.get("authorization") != TOKEN:
            return 401
        step = self.script.get(key, [])
        if step:
            what = step.pop(0)
            if what == "hang":
                await self.release.wait()
                return 200
            return int(what)
        if key in self.stored:
            return 409
        self.stored[key] = body
        return 201

    async def wait(self, predicate: object, within: float = 20.0) -> None:
        """Until `predicate()` holds, woken by each request."""
        async def loop() -> None:
            while not predicate():  # type: ignore[operator]
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(loop(), within)


@asynccontextmanager
async def running_crm() -> AsyncIterator[FakeCrm]:
    """Serve a FakeCrm on a free loopback port."""
    crm = FakeCrm()
    app = Starlette(routes=[Route("/api/items", crm.items, methods=["POST"])])
    server, task = await http.start(app, "127.0.0.1", 0)
    crm.url = f"http://127.0.0.1:{http.bound_port(server)}/api/items"
    try:
        yield crm
    finally:
        crm.release.set()
        await http.stop(server, task)

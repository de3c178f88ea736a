"""A lean pull fetch for the router's workers: one request per batch, answered on one callback subscription.

Same wire protocol as nats-py's `PullSubscription.fetch` (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`
with `{"batch": n, "no_wait": true}`, then a lingering `{"batch": n, "expires": ns}` when nothing was
there), without its per-message task, `wait_for` and `uuid4`: the messages are collected by a callback and
the request ends with the n-th message or the server's status (404 no messages, 408 expired, 409 ...).
Each request replies to its own token under the worker's inbox, so a late status of an abandoned request
cannot end the next one. A message delivered after its request was given up (a reconnect, a slow server)
is kept for the next fetch: it was delivered and its ack timer runs, so it must be handled, not dropped.
"""

from __future__ import annotations

import asyncio
import json

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

STATUS = "Status"
ENDS = frozenset({"404", "408"})  # no messages now / the lingering request expired: not an error


def _give_up(ended: asyncio.Future[str | None]) -> None:
    if not ended.done():  # no status in time (a reconnect lost the request): return what has arrived
        ended.set_result(None)


class FetchError(Exception):
    """The server refused the pull request (409 consumer deleted or leader change, 503 no responders ...)."""


class Fetcher:
    """One worker's pull requests on a durable consumer."""

    def __init__(self, nc: NATS, stream: str, consumer: str) -> None:
        self.nc = nc
        self.api = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self.prefix = ""
        self.token = 0
        self.buffer: list[Msg] = []
        self.want = 0
        self.ended: asyncio.Future[str | None] | None = None

    async def start(self) -> None:
        """Subscribe to this worker's reply subjects (once)."""
        if not self.prefix:
            self.prefix = f"{self.nc.new_inbox()}."
            await self.nc.subscribe(f"{self.prefix}*", cb=self._on_msg)

    async def fetch(self, batch: int, wait_s: float) -> list[Msg]:
        """Up to `batch` messages: what is there now, else whatever arrives within `wait_s` (TimeoutError if none)."""
        if len(self.buffer) < batch:
            await self._request(batch - len(self.buffer), {"no_wait": True}, wait_s)
        if not self.buffer:
            expires = max(int(wait_s * 1e9) - 100_000, 1_000_000)
            await self._request(batch, {"expires": expires}, wait_s + 1.0)
        if not self.buffer:
            raise TimeoutError
        msgs, self.buffer = self.buffer, []
        return msgs

    async def _request(self, batch: int, options: dict[str, object], limit_s: float) -> None:
        self.token += 1
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[str | None] = loop.create_future()
        self.ended, self.want = ended, len(self.buffer) + batch
        late = loop.call_later(limit_s, _give_up, ended)
        try:
            request = json.dumps({"batch": batch, **options}).encode()
            await self.nc.publish(self.api, request, reply=f"{self.prefix}{self.token}")
            status = await ended
        finally:
            late.cancel()
            self.ended = None
        if status is not None and status not in ENDS and not self.buffer:
            raise FetchError(f"pull request refused: {status}")

    async def _on_msg(self, msg: Msg) -> None:
        headers = msg.headers
        status = headers.get(STATUS) if headers else None
        ended = self.ended
        if status is None:
            self.buffer.append(msg)
            if ended is not None and len(self.buffer) >= self.want and not ended.done():
                ended.set_result(None)
            return
        # A status ends only the request it answers; 100 (heartbeat) ends none.
        if status == "100" or ended is None or ended.done() or msg.subject != f"{self.prefix}{self.token}":
            return
        detail = headers.get("Description", "") if headers else ""
        ended.set_result(status if status in ENDS else f"{status} {detail}".strip())

"""Pipelined JetStream publishes whose acks are awaited together, for the router's per-batch writes.

Same wire protocol as nats-py's `publish_async` (a PUB with a reply subject; the stream answers with a PubAck
or an error), with less per-message work: one reply subscription, a counter for reply tokens, no task per
publish, and acks that are not answered within `timeout` count as failures (the input is then redelivered)
instead of hanging the batch.

Not JetStream atomic batches (nats-server >= 2.12): measured on the router benchmark they saved the router
~8 us per envelope in acks but cost the server ~15 us more, and the router waited longer for each commit;
throughput was lower (docs/router.md).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

STATUS = "Status"

Message = tuple[str, bytes, dict[str, str]]  # subject, payload, headers


class PublishError(Exception):
    """The stream refused a publish or did not answer in time; the input is retried later."""


class Pipeline:
    """Publish now, learn the outcome from the returned future."""

    def __init__(self, nc: NATS, max_pending: int = 20_000, timeout: float = 10.0) -> None:
        self.nc = nc
        self.max_pending = max_pending
        self.timeout = timeout
        self.prefix = ""
        self.next = 0
        self.pending: dict[str, asyncio.Future[bytes]] = {}
        self.room = asyncio.Event()
        self.room.set()

    async def start(self) -> None:
        """Subscribe to the replies (once)."""
        if not self.prefix:
            self.prefix = f"{self.nc.new_inbox()}."
            await self.nc.subscribe(f"{self.prefix}*", cb=self._reply)

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> asyncio.Future[bytes]:
        """Send one message; the future resolves to the stream's ack when it has stored it (or fails)."""
        while len(self.pending) >= self.max_pending:
            self.room.clear()
            await self.room.wait()
        token, future = self._expect()
        try:
            await self.nc.publish(subject, payload, reply=self.prefix + token, headers=headers or None)
        except Exception as err:
            self._settle(token, PublishError(f"publish to {subject} failed: {err!r}"))
        return future

    async def publish_batch(self, messages: Sequence[Message]) -> list[BaseException | None]:
        """Publish every message, then wait for all their acks; each one's outcome as in `wait`."""
        return await self.wait([await self.publish(*m) for m in messages])

    def _expect(self) -> tuple[str, asyncio.Future[bytes]]:
        """A fresh reply token and the future its ack settles."""
        self.next += 1
        token = str(self.next)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending[token] = future
        return token, future

    async def wait(self, futures: Iterable[asyncio.Future[bytes]]) -> list[BaseException | None]:
        """Each future's outcome (None = stored), waiting at most `timeout` for the slowest."""
        futures = list(futures)
        if not futures:
            return []
        _, late = await asyncio.wait(futures, timeout=self.timeout)
        for token in [t for t, f in self.pending.items() if f in late]:
            self._settle(token, PublishError(f"no ack within {self.timeout:g}s"))
        return [f.exception() for f in futures]

    async def _reply(self, msg: Msg) -> None:
        token = msg.subject[len(self.prefix):]
        headers = msg.headers
        if headers and headers.get(STATUS) == "503":
            self._settle(token, PublishError("no stream answers on this subject (503 no responders)"))
        elif b'"error"' in msg.data:
            error = json.loads(msg.data).get("error", {})
            self._settle(token, PublishError(f"stream refused the message: {error.get('code')} "
                                             f"{error.get('description', '')}".strip()))
        else:
            self._settle(token, msg.data)

    def _settle(self, token: str, outcome: bytes | BaseException) -> None:
        future = self.pending.pop(token, None)
        if future is not None and not future.done():
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        if not self.room.is_set() and len(self.pending) < self.max_pending:
            self.room.set()

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
from collections.abc import Sequence

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

STATUS = "Status"

Message = tuple[str, bytes, dict[str, str]]  # subject, payload, headers


class PublishError(Exception):
    """The stream refused a publish or did not answer in time; the input is retried later."""


class _Batch:
    """The acks one `publish_batch` waits for: one result slot per message, one future for all of them."""

    __slots__ = ("done", "left", "results")

    def __init__(self, size: int) -> None:
        self.results: list[BaseException | None] = [None] * size
        self.left = size
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class Pipeline:
    """Publish a batch now, learn each message's outcome when the stream has answered for all of them."""

    def __init__(self, nc: NATS, max_pending: int = 20_000, timeout: float = 10.0) -> None:
        self.nc = nc
        self.max_pending = max_pending
        self.timeout = timeout
        self.prefix = ""
        self.next = 0
        self.pending: dict[str, tuple[_Batch, int]] = {}  # reply token -> its batch and slot
        self.room = asyncio.Event()
        self.room.set()

    async def start(self) -> None:
        """Subscribe to the replies (once)."""
        if not self.prefix:
            self.prefix = f"{self.nc.new_inbox()}."
            await self.nc.subscribe(f"{self.prefix}*", cb=self._reply)

    async def publish_batch(self, messages: Sequence[Message]) -> list[BaseException | None]:
        """Publish every message, then wait (at most `timeout`) for their acks: None = stored, else why not.

        An ack settles a slot of the batch; only the last one wakes the caller (no future or callback per
        message, which cost more than the ack itself).
        """
        if not messages:
            return []
        batch = _Batch(len(messages))
        tokens: list[str] = []
        for slot, (subject, payload, headers) in enumerate(messages):
            while len(self.pending) >= self.max_pending:
                self.room.clear()
                await self.room.wait()
            self.next += 1
            token = str(self.next)
            self.pending[token] = (batch, slot)
            tokens.append(token)
            try:
                await self.nc.publish(subject, payload, reply=self.prefix + token, headers=headers or None)
            except Exception as err:
                self._settle(token, PublishError(f"publish to {subject} failed: {err!r}"))
        if batch.left:
            await asyncio.wait((batch.done,), timeout=self.timeout)
            for token in tokens:  # unanswered ones (settled ones are no longer pending)
                self._settle(token, PublishError(f"no ack within {self.timeout:g}s"))
        return batch.results

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
            self._settle(token, None)

    def _settle(self, token: str, error: BaseException | None) -> None:
        entry = self.pending.pop(token, None)
        if entry is not None:
            batch, slot = entry
            batch.results[slot] = error
            batch.left -= 1
            if not batch.left and not batch.done.done():
                batch.done.set_result(None)
        if not self.room.is_set() and len(self.pending) < self.max_pending:
            self.room.set()

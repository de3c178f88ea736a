"""Pipelined JetStream publishes whose acks are awaited together, for the router's per-batch writes.

Same wire protocol as nats-py's `publish_async` (a PUB with a reply subject; the stream answers with a PubAck
or an error), with less per-message work: one reply subscription, a counter for reply tokens, no task per
publish, and acks that are not answered within `timeout` count as failures (the input is then redelivered)
instead of hanging the batch.

`publish_batch` writes a whole batch to one stream as a JetStream atomic batch (nats-server >= 2.12, stream
option `allow_atomic`): every message carries `Nats-Batch-Id` and `Nats-Batch-Sequence`, the last one
`Nats-Batch-Commit`, and only the commit is answered: one ack for up to 1,000 messages, all stored or none.
A batch the stream refuses (a redelivered message whose `Nats-Msg-Id` it already holds refuses the whole
batch) is published again message by message, so each message gets its own verdict.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterable, Sequence

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

STATUS = "Status"
ATOMIC_MAX = 1000  # nats-server's default `jetstream.limits.batch.max_msgs`

Message = tuple[str, bytes, dict[str, str]]  # subject, payload, headers


class PublishError(Exception):
    """The stream refused a publish or did not answer in time; the input is retried later."""


class Refused(PublishError):
    """The stream answered with an error (as opposed to not answering at all)."""


class Pipeline:
    """Publish now, learn the outcome from the returned future."""

    def __init__(self, nc: NATS, max_pending: int = 20_000, timeout: float = 10.0) -> None:
        self.nc = nc
        self.max_pending = max_pending
        self.timeout = timeout
        self.prefix = ""
        self.next = 0
        self.pending: dict[str, asyncio.Future[bytes]] = {}
        self.batch_prefix = secrets.token_hex(8)  # batch ids are unique per process and counter
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
            await self.nc.publish(subject, payload, reply=self.prefix + token, headers=headers)
        except Exception as err:
            self._settle(token, PublishError(f"publish to {subject} failed: {err!r}"))
        return future

    async def publish_batch(self, messages: Sequence[Message], atomic: bool = True) -> list[BaseException | None]:
        """Store `messages` (all in one stream); each one's outcome as in `wait`.

        `atomic`: as atomic batches of up to `ATOMIC_MAX` (see the module docstring); False, or a single
        message: pipelined one by one.
        """
        if not atomic or len(messages) < 2:
            return await self.wait([await self.publish(*m) for m in messages])
        results: list[BaseException | None] = []
        for start in range(0, len(messages), ATOMIC_MAX):
            chunk = messages[start : start + ATOMIC_MAX]
            outcome = await self._atomic(chunk)
            if isinstance(outcome, Refused):  # each message on its own: a repeat is acked, the rest stored
                results += await self.wait([await self.publish(*m) for m in chunk])
            else:
                results += [outcome] * len(chunk)
        return results

    async def _atomic(self, chunk: Sequence[Message]) -> PublishError | None:
        """One atomic batch: None when the stream stored all of it, else why not."""
        self.next += 1
        batch_id = f"{self.batch_prefix}.{self.next}"
        last = len(chunk)
        token, future = self._expect()
        try:
            for seq, (subject, payload, headers) in enumerate(chunk, 1):
                marks = {"Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(seq)}
                if seq == last:
                    marks["Nats-Batch-Commit"] = "1"
                await self.nc.publish(subject, payload, reply=self.prefix + token if seq == last else "",
                                      headers={**headers, **marks})
        except Exception as err:  # an unfinished batch is dropped by the server: nothing of it is stored
            self._settle(token, PublishError(f"atomic batch publish failed: {err!r}"))
        [outcome] = await self.wait([future])
        if outcome is not None:
            return outcome if isinstance(outcome, PublishError) else PublishError(repr(outcome))
        ack = json.loads(future.result())
        if ack.get("count") != last:
            return Refused(f"atomic batch {batch_id}: the stream stored {ack.get('count')} of {last} messages")
        return None

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
            self._settle(token, Refused(f"stream refused the message: {error.get('code')} "
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

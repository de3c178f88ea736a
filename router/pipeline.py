"""Pipelined JetStream publishes whose acks are awaited together, for the router's per-batch writes.

Same wire protocol as nats-py's `publish_async` (a PUB with a reply subject; the stream answers with a PubAck
or an error), with less per-message work: one reply subscription, a counter for reply tokens, no task per
publish, and acks that are not answered within `timeout` count as failures (the input is then redelivered)
instead of hanging the batch.

`fast=True` uses JetStream fast-ingest batches instead (nats-server >= 2.14, stream option `allow_batched`):
each message is stored as it arrives, but the stream answers once per batch (plus a few flow acks), not once
per message. The batch lives in the reply subject: `<inbox>.<batch id>.<flow>.fail.<seq>.<op>.$FI`, op 0 =
first, 1 = next, 2 = last (commit). With gap mode `fail` the batch ends at the first message the stream
cannot take (or a lost one), and the final ack's `count` says how many, from the first, were stored: those
succeed, the rest fail with the stream's reason. A repeated `Nats-Msg-Id` is skipped by the stream and
counted as stored, as a single publish of it is acked as a duplicate. A stream without fast batches
answers "batch publish is disabled": the batch is then published one message at a time.

Not atomic batches (nats-server >= 2.12): measured on the router benchmark they cost the server ~15 us more
per envelope and the router waited longer for each commit (docs/router.md).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Sequence

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

STATUS = "Status"
FAST_DISABLED = 10205  # "batch publish is disabled": the stream has no `allow_batched`

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


class _Fast:
    """One fast-ingest batch in flight: how many messages the stream stored from the first, and why not more."""

    __slots__ = ("count", "disabled", "done", "why")

    def __init__(self) -> None:
        self.count = 0
        self.why: PublishError | None = None
        self.disabled = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def end(self, count: int, why: PublishError | None = None) -> None:
        if not self.done.done():
            self.count = count
            self.why = self.why or why
            self.done.set_result(None)


class Pipeline:
    """Publish a batch now, learn each message's outcome when the stream has answered for all of them."""

    def __init__(self, nc: NATS, max_pending: int = 20_000, timeout: float = 10.0) -> None:
        self.nc = nc
        self.max_pending = max_pending
        self.timeout = timeout
        self.prefix = ""
        self.next = 0
        self.pending: dict[str, tuple[_Batch, int]] = {}  # reply token -> its batch and slot
        self.fast_prefix = ""
        self.fast: dict[str, _Fast] = {}  # fast batch id -> its state
        # The stream knows a batch by this token alone: unique across replicas, restarts and connections.
        self.batch_prefix = secrets.token_hex(8)
        self.room = asyncio.Event()
        self.room.set()

    async def start(self) -> None:
        """Subscribe to the replies (once)."""
        if not self.prefix:
            self.prefix = f"{self.nc.new_inbox()}."
            await self.nc.subscribe(f"{self.prefix}*", cb=self._reply)
            self.fast_prefix = f"{self.nc.new_inbox()}."
            await self.nc.subscribe(f"{self.fast_prefix}>", cb=self._fast_reply)

    async def publish_batch(self, messages: Sequence[Message], fast: bool = False) -> list[BaseException | None]:
        """Publish every message (all to one stream when `fast`), then wait at most `timeout` for the stream.

        Each message's outcome: None = stored, else why not. One by one, an ack settles a slot of the batch
        and only the last one wakes the caller (no future or callback per message, which cost more than the
        ack itself).
        """
        if not messages:
            return []
        if fast and len(messages) > 1:
            results = await self._fast_batch(messages)
            if results is not None:
                return results
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

    async def _fast_batch(self, messages: Sequence[Message]) -> list[BaseException | None] | None:
        """One fast-ingest batch; None when the stream does not take them."""
        self.next += 1
        batch_id = f"{self.batch_prefix}{self.next}"
        batch = self.fast[batch_id] = _Fast()
        last = len(messages)
        reply = f"{self.fast_prefix}{batch_id}.{last}.fail."  # flow: one ack per batch is enough
        try:
            for seq, (subject, payload, headers) in enumerate(messages, 1):
                op = 0 if seq == 1 else 2 if seq == last else 1
                await self.nc.publish(subject, payload, reply=f"{reply}{seq}.{op}.$FI", headers=headers or None)
        except Exception as err:  # part may be stored: unknown, so all fail (a retry is deduplicated)
            batch.end(0, PublishError(f"fast batch publish failed: {err!r}"))
        try:
            await asyncio.wait((batch.done,), timeout=self.timeout)
        finally:
            del self.fast[batch_id]
        if not batch.done.done():
            return [PublishError(f"no ack for the batch within {self.timeout:g}s")] * last
        if batch.disabled:
            return None
        why = batch.why or PublishError(f"the stream stored {batch.count} of {last} messages of the batch")
        return [None] * batch.count + [why] * (last - batch.count)

    async def _fast_reply(self, msg: Msg) -> None:
        batch = self.fast.get(msg.subject[len(self.fast_prefix):].split(".", 1)[0])
        data = msg.data
        if batch is None or batch.done.done() or b'"type":"ack"' in data:  # flow acks need no answer here
            return
        if msg.headers and msg.headers.get(STATUS) == "503":
            batch.end(0, PublishError("no stream answers on this subject (503 no responders)"))
            return
        reply = json.loads(data)
        error = reply.get("error")
        if reply.get("type") in ("gap", "err"):  # the final ack follows with the count stored before it
            what = error or {"description": f"message {reply.get('last_seq')} of the batch was lost"}
            batch.why = PublishError(f"stream refused the message: {what.get('code', '')} "
                                     f"{what.get('description', '')}".strip())
        elif error:
            batch.disabled = error.get("err_code") == FAST_DISABLED
            batch.end(0, PublishError(f"stream refused the batch: {error.get('code')} "
                                      f"{error.get('description', '')}".strip()))
        elif "count" in reply:
            batch.end(int(reply["count"]))

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

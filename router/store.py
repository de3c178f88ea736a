"""The dedup index in NATS KV, read and written in batches: one request reads every key a batch needs.

Reads use JetStream's batched direct get (`multi_last`, nats-server >= 2.11), so a batch of 256 envelopes
costs one round trip per bucket however many keys it touches. Entries expire with their bucket's max age
(the horizon for delivery records, the longest dedup window for the near-duplicate index), so writes carry
no per-message TTL header. Index hints are written without waiting; a batch's delivery records are one
fast-ingest batch (one acknowledgement; nats-server >= 2.14), or pipelined puts where the server has no
fast batches. Both buckets are shared by every router replica and survive restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import KeyValueConfig, StorageType
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

from router.pipeline import Pipeline

MULTI_LAST_MAX = 1000
STATUS = "Status"


class StoreError(Exception):
    """The KV bucket could not be read; the batch is retried later (transient)."""


class KvIndex:
    """Batched get and pipelined put over one KV bucket."""

    def __init__(self, nc: NATS, js: JetStreamContext, bucket: str, timeout: float = 5.0,
                 pipeline: Pipeline | None = None) -> None:
        self.nc = nc
        self.pipeline = pipeline or Pipeline(nc)
        self.js = js
        self.bucket = bucket
        self.stream = f"KV_{bucket}"
        self.prefix = f"$KV.{bucket}."
        self.timeout = timeout
        self.fast = False  # the bucket's stream takes fast-ingest batches (set by `open`)

    @classmethod
    async def open(cls, nc: NATS, js: JetStreamContext, bucket: str, max_age_s: float, replicas: int = 1,
                   pipeline: Pipeline | None = None, fast: bool = False) -> KvIndex:
        """Open the bucket, creating it if missing; its max age follows `max_age_s` (a changed setting applies).

        `fast`: write `put_many` batches as fast-ingest batches where the server has them.
        """
        stream = f"KV_{bucket}"
        try:
            cfg = (await js.stream_info(stream)).config
        except NotFoundError:
            with contextlib.suppress(BadRequestError):  # another replica created it first
                await js.create_key_value(KeyValueConfig(bucket=bucket, history=1, ttl=max_age_s, direct=True,
                                                         replicas=replicas, storage=StorageType.FILE))
            cfg = (await js.stream_info(stream)).config
        if not cfg.allow_direct or abs((cfg.max_age or 0) - max_age_s) > 1 or (fast and not cfg.allow_batched):
            cfg.allow_direct = True
            cfg.max_age = max_age_s
            cfg.allow_batched = cfg.allow_batched or fast or None
            try:
                cfg = (await js.update_stream(cfg)).config
            except BadRequestError:  # a server before 2.14 has no fast batches: puts go one by one
                cfg.allow_batched = None
                cfg = (await js.update_stream(cfg)).config
        index = cls(nc, js, bucket, pipeline=pipeline)
        index.fast = fast and bool(cfg.allow_batched)
        await index.pipeline.start()
        return index

    async def get_many(self, keys: list[str]) -> dict[str, bytes]:
        """The current value of each key that exists (missing keys are absent from the result)."""
        unique = list(dict.fromkeys(keys))
        chunks = [unique[i : i + MULTI_LAST_MAX] for i in range(0, len(unique), MULTI_LAST_MAX)]
        results = await asyncio.gather(*(self._get_chunk(chunk) for chunk in chunks))
        found: dict[str, bytes] = {}
        for part in results:
            found.update(part)
        return found

    async def _get_chunk(self, keys: list[str]) -> dict[str, bytes]:
        if not keys:
            return {}
        found: dict[str, bytes] = {}
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        failure: list[str] = []

        async def on_msg(msg: Msg) -> None:
            headers = msg.headers or {}
            status = headers.get(STATUS)
            if status is None:
                subject = headers.get("Nats-Subject", "")
                if headers.get("KV-Operation") in (None, "PUT"):
                    found[subject[len(self.prefix) :]] = msg.data
                return
            if status not in ("204", "404"):
                failure.append(f"status {status} {headers.get('Description', '')}".strip())
            if not done.done():
                done.set_result(None)

        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox, cb=on_msg)
        try:
            request: dict[str, Any] = {"multi_last": [self.prefix + k for k in keys], "batch": len(keys)}
            await self.nc.publish(f"$JS.API.DIRECT.GET.{self.stream}", msgspec.json.encode(request), reply=inbox)
            await asyncio.wait_for(done, self.timeout)
        except TimeoutError as err:
            raise StoreError(f"no answer from {self.stream} direct get within {self.timeout:g}s") from err
        finally:
            await sub.unsubscribe()
        if failure:
            raise StoreError(f"{self.stream} direct get failed: {failure[0]}")
        return found

    async def hint(self, writes: dict[str, bytes]) -> None:
        """Write keys without waiting for the stream's ack: for index entries that only guide dedup."""
        publish, prefix = self.nc.publish, self.prefix
        for key, value in writes.items():
            await publish(prefix + key, value)

    async def put_many(self, writes: list[tuple[str, bytes]]) -> list[BaseException | None]:
        """Store (key, value) writes (one fast batch where the bucket takes them); each one's outcome."""
        return await self.pipeline.publish_batch([(self.prefix + key, value, {}) for key, value in writes],
                                                 fast=self.fast)

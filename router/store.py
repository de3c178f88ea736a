"""The dedup index in NATS KV, read and written in batches: one request reads every key a batch needs.

Reads use JetStream's batched direct get (`multi_last`, nats-server >= 2.11), so a batch of 256 envelopes
costs one round trip per bucket however many keys it touches. Entries expire with their bucket's max age
(the horizon for delivery records, the longest dedup window for the near-duplicate index), so writes carry
no per-message TTL header. Index hints are written without waiting; a batch's delivery records are one
fast-ingest batch (one acknowledgement; nats-server >= 2.14), or pipelined puts where the server has no
fast batches. Both buckets are shared by every router replica and survive restarts.
"""

from __future__ import annotations

import contextlib

from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig, StorageType
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

from kanal import direct
from router.pipeline import Pipeline


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
        """The current value of each key that exists (missing and deleted keys are absent from the result)."""
        try:
            return await direct.kv_values(self.nc, self.bucket, keys, self.timeout)
        except direct.DirectGetError as err:
            raise StoreError(str(err)) from err

    async def hint(self, writes: dict[str, bytes]) -> None:
        """Write keys without waiting for the stream's ack: for index entries that only guide dedup."""
        publish, prefix = self.nc.publish, self.prefix
        for key, value in writes.items():
            await publish(prefix + key, value)

    async def put_many(self, writes: list[tuple[str, bytes]]) -> list[BaseException | None]:
        """Store (key, value) writes (one fast batch where the bucket takes them); each one's outcome."""
        return await self.pipeline.publish_batch([(self.prefix + key, value, {}) for key, value in writes],
                                                 fast=self.fast)

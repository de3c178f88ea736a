"""Provisioning for least-privilege deployments: KV buckets with direct get, then Kanal's usual provisioning.

Why: with direct get a KV read names the key in the request subject (`$JS.API.DIRECT.GET.<stream>.<key
subject>`), so nats-server permissions can confine each connector to its own checkpoint and lease keys.
Without it, reads go through `$JS.API.STREAM.MSG.GET.<stream>` with the key in the body, which a
permission cannot restrict.
"""

from __future__ import annotations

from nats.js.api import KeyValueConfig, StorageType
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

from kanal import bus, log
from kanal.config import Config
from schemas import subjects

_log = log.get("ops.provision")


async def ensure_direct_kv(js: JetStreamContext, bucket: str, replicas: int, ttl: float | None = None,
                           history: int = 1) -> None:
    """Create the bucket with direct get on, or switch direct get on for an existing one."""
    stream = f"KV_{bucket}"
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        try:
            await js.create_key_value(KeyValueConfig(bucket=bucket, history=history, ttl=ttl, replicas=replicas,
                                                     storage=StorageType.FILE, direct=True))
            _log.info("kv_created", bucket=bucket, direct=True, replicas=replicas)
        except BadRequestError:  # created concurrently
            pass
        return
    if not info.config.allow_direct:
        info.config.allow_direct = True
        await js.update_stream(info.config)
        _log.info("kv_direct_enabled", bucket=bucket)


async def provision(js: JetStreamContext, config: Config) -> None:
    """Everything `bus.provision` does, with the checkpoint and lease buckets readable per key."""
    replicas = config.nats.replicas
    await ensure_direct_kv(js, subjects.KV_CHECKPOINTS, replicas, history=5)
    await ensure_direct_kv(js, subjects.KV_LEASES, replicas, ttl=bus.LEASE_TTL)
    await bus.provision(js, config)

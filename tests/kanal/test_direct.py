"""Batched direct gets on a real nats-server: more subjects than one request takes, deleted and missing keys."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS

from kanal import bus, direct


async def test_last_per_subject_reads_many_keys_in_chunks(nc: NATS) -> None:
    js = nc.jetstream()
    kv = await bus.ensure_kv(js, "direct_test", history=2)
    keys = [f"k{i}" for i in range(direct.MULTI_LAST_MAX + 500)]  # two requests
    await asyncio.gather(*(kv.put(k, f"v{i}".encode()) for i, k in enumerate(keys)))
    await kv.put("k7", b"newer")
    await kv.delete("k8")
    await kv.purge("k9")
    wanted = [f"$KV.direct_test.{k}" for k in [*keys, "never-written"]]
    found = await direct.last_per_subject(nc, "KV_direct_test", wanted)
    values = {s.rsplit(".", 1)[1]: direct.kv_value(m) for s, m in found.items()}
    assert "never-written" not in values
    assert values["k0"] == b"v0" and values[keys[-1]] == f"v{len(keys) - 1}".encode()
    assert values["k7"] == b"newer"  # the last revision, not the first
    assert values["k8"] is None and values["k9"] is None  # deleted / purged: a marker, no value
    assert sum(v is not None for v in values.values()) == len(keys) - 2
    await js.delete_key_value("direct_test")

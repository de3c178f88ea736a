"""Helpers for tests of Kanal and of plugins: a real nats-server per test session, and clean JetStream state."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from nats.aio.client import Client as NATS

from kanal import bus
from kanal.config import Config, NatsSettings, load
from kanal.settings_types import Duration


@contextmanager
def nats_server(store: Path | None = None, port: int = 0) -> Iterator[bus.EmbeddedNats]:
    """A real nats-server with JetStream on a free loopback port, in its own temp dir."""
    with tempfile.TemporaryDirectory(prefix="kanal-nats-") as tmp:
        server = bus.EmbeddedNats(store or Path(tmp), port=port).start()
        try:
            yield server
        finally:
            server.stop()


def make_config(url: str, data_dir: Path, **sections: object) -> Config:
    """A Config pointing at `url`, with local state under `data_dir`, and optional raw sections."""
    config = load(path=None, env={})
    settings = NatsSettings(url=url, lease_ttl=Duration(seconds=5))  # a dead poller's lease lapses quickly
    return Config(
        kanal=config.kanal.__class__(data_dir=str(data_dir)),
        nats=settings,
        log=config.log,
        base_dir=str(data_dir),
        **sections,  # type: ignore[arg-type]
    )


async def reset_jetstream(nc: NATS) -> None:
    """Delete every stream (KV buckets and object stores are streams too), for test isolation."""
    js = nc.jetstream()
    for info in await js.streams_info():
        if info.config.name:
            await js.delete_stream(info.config.name)


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[NATS]:
    """A client connection closed on exit."""
    nc = await bus.connect(NatsSettings(url=url), name="kanal-test")
    try:
        yield nc
    finally:
        await nc.close()

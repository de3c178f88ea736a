"""Helpers for tests of Kanal and of plugins: a real nats-server per test session, and clean JetStream state."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from nats.aio.client import Client as NATS
from nats.js.api import StorageType, StreamConfig

from kanal import bus
from kanal.config import Config, NatsSettings, load
from kanal.settings_types import Duration

# Where each server started by `nats_server` keeps its JetStream files, by "host:port": `reset_jetstream`
# waits there for the server's own clean-up of the streams it deleted (see below).
_STORES: dict[str, Path] = {}
# A stream `reset_jetstream` never deletes, so the account's streams folder is never left empty (see below).
ANCHOR = "KANAL_TEST_ANCHOR"


@contextmanager
def nats_server(store: Path | None = None, port: int = 0) -> Iterator[bus.EmbeddedNats]:
    """A real nats-server with JetStream on a free loopback port, in its own temp dir."""
    with tempfile.TemporaryDirectory(prefix="kanal-nats-") as tmp:
        server = bus.EmbeddedNats(store or Path(tmp), port=port).start()
        where = f"{server.host}:{server.port}"
        _STORES[where] = server.store_dir
        try:
            yield server
        finally:
            _STORES.pop(where, None)
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


async def reset_jetstream(nc: NATS, within: float = 60.0) -> None:
    """Delete every stream (KV buckets and object stores are streams too), for test isolation, leaving the
    server ready to create the same names again.

    nats-server (2.10 to 2.15, `stream.stop` and `fileStore.Delete`) answers a delete before its files are
    gone: it renames `streams/<name>` to `streams/.<name>` and removes that from a goroutine, then another
    goroutine removes the account's `streams` folder and the account folder if they are empty. Under load
    those goroutines run late, and two races follow. (1) When the delete emptied the account, the folder
    removal can land between a new create's `MkdirAll` finding `streams` and making `streams/<name>` in it:
    the create fails with "error creating store for stream" (10049). The anchor stream, never deleted,
    keeps `streams` non-empty, so that removal never happens. (2) A second delete of a name whose `.<name>`
    is still there cannot rename; the server ignores that error, keeps the old files, and the next create
    of the name recovers the old messages. So this waits, before deleting and after, until the server has
    removed every `.<name>` (servers started by `nats_server`, whose folder it knows).
    """
    js = nc.jetstream()
    url = nc.connected_url
    store = _STORES.get(f"{url.hostname}:{url.port}") if url is not None else None
    streams = store / "jetstream" / "$G" / "streams" if store is not None else None
    if streams is not None:  # a test's own delete may still be in progress
        await _deleted_on_disk(streams, within)
    names = {info.config.name for info in await js.streams_info() if info.config.name}
    if ANCHOR not in names:
        await js.add_stream(StreamConfig(name=ANCHOR, subjects=["kanaltest.anchor"], storage=StorageType.FILE))
    for name in sorted(names - {ANCHOR}):
        await js.delete_stream(name)
    if streams is not None:
        await _deleted_on_disk(streams, within)


def _leftovers(streams: Path) -> list[str]:
    return sorted(p.name for p in streams.glob(".*")) if streams.is_dir() else []


async def _deleted_on_disk(streams: Path, within: float) -> None:
    """Wait until no `.<name>` folder (a deleted stream's files) is left in `streams`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        pending = await asyncio.to_thread(_leftovers, streams)
        if not pending:
            return
        if loop.time() > deadline:
            raise RuntimeError(f"nats-server has not removed the files of deleted streams after {within:g}s: "
                               f"{pending} in {streams}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[NATS]:
    """A client connection closed on exit."""
    nc = await bus.connect(NatsSettings(url=url), name="kanal-test")
    try:
        yield nc
    finally:
        await nc.close()

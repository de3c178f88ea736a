"""kanal.testing's reset leaves a nats-server ready to create the same streams again, however late its clean-up.

Issue #19: `error creating store for stream` (10049) at set-up under load. nats-server removes a deleted
stream's files, then the account's empty `streams` folder, from goroutines that run late on a loaded machine;
a create arriving meanwhile loses its folder (server log: "could not create storage directory").
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kanal import bus
from kanal.testing import ANCHOR, connected, make_config, nats_server, reset_jetstream
from schemas import subjects


@pytest.fixture
def server(tmp_path: Path) -> Iterator[bus.EmbeddedNats]:
    with nats_server(tmp_path / "nats") as running:  # its own server: the race needs an account of its own
        yield running


async def test_a_late_folder_clean_up_cannot_fail_the_next_create(server: bus.EmbeddedNats, tmp_path: Path) -> None:
    account = server.store_dir / "jetstream" / "$G"
    stop = threading.Event()

    def late_clean_up() -> None:  # what the server's goroutine does after a delete, when it runs late
        while not stop.is_set():
            for folder in (account / "streams", account):
                with contextlib.suppress(OSError):  # not empty: the server's removal is a no-op too
                    os.rmdir(folder)

    config = make_config(server.url, tmp_path)
    async with connected(server.url) as nc:
        for _ in range(10):  # without the anchor stream, about half of these creates failed with 10049
            await reset_jetstream(nc)
            assert sorted(p.name for p in (account / "streams").iterdir()) == [ANCHOR]  # never empty
            cleaner = threading.Thread(target=late_clean_up)
            stop.clear()
            cleaner.start()
            try:
                await bus.provision(nc.jetstream(), config)
            finally:
                stop.set()
                cleaner.join()
    log = (server.store_dir / "nats-server.log").read_text()
    assert "could not create storage directory" not in log


async def test_reset_waits_until_deleted_files_are_gone(server: bus.EmbeddedNats, tmp_path: Path) -> None:
    """A delete whose `.<name>` folder is still there cannot rename and keeps the old messages: never let one."""
    streams = server.store_dir / "jetstream" / "$G" / "streams"
    async with connected(server.url) as nc:
        await reset_jetstream(nc)
        await bus.provision(nc.jetstream(), make_config(server.url, tmp_path))
        await nc.jetstream().publish(subjects.inbound("sms", "a"), b"old", headers={"Nats-Msg-Id": "old"})
        pending = streams / f".{subjects.STREAM_IN}"
        pending.mkdir()  # a removal the server has not finished yet
        (pending / "1.blk").write_bytes(b"x")
        with pytest.raises(RuntimeError, match=r"has not removed the files of deleted streams"):
            await reset_jetstream(nc, within=0.5)
        (pending / "1.blk").unlink()
        pending.rmdir()  # the server's removal finishes
        await reset_jetstream(nc)
        await bus.provision(nc.jetstream(), make_config(server.url, tmp_path))
        info = await nc.jetstream().stream_info(subjects.STREAM_IN)
        assert info.state.messages == 0

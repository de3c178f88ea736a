"""A connector instance served over real HTTP against a private nats-server that a test can kill and restart.

For the check every webhook channel owes: while NATS is away the provider still gets its 2xx (from the spool)
and, once NATS is back, every envelope arrives once and in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.runtime import Instance
from connectors.spec import ChannelSpec
from connectors.testkit.harness import stored_messages
from kanal import bus
from kanal.testing import connected, make_config
from schemas import decode_envelope, subjects


@dataclass
class Served:
    """The running instance, its HTTP base URL, and the NATS server behind it."""

    instance: Instance
    server: bus.EmbeddedNats
    store: Path
    port: int

    @property
    def base_url(self) -> str:
        assert self.instance.http_port is not None
        return f"http://127.0.0.1:{self.instance.http_port}"

    def kill_nats(self) -> None:
        """SIGKILL the server, as a crash would."""
        self.server.kill()

    def restart_nats(self) -> None:
        """Start it again on the same port with the same store."""
        self.server = bus.EmbeddedNats(self.store, port=self.port).start()

    async def spool_depth_after_drain(self, within: float = 30) -> int:
        """The spool's depth once it has drained (0), or what is left after `within` seconds. A spooled message
        is removed only after JetStream acked it, a moment after a reader of the stream can see it."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            depth = self.instance.spool.depth
            if depth == 0 or asyncio.get_running_loop().time() > deadline:
                return depth
            await asyncio.sleep(0.1)

    async def external_ids(self, count: int, within: float = 30) -> list[str]:
        """External ids on the instance's inbound subject, in stream order, once `count` are stored."""
        subject = subjects.inbound(self.instance.spec.id, self.instance.name)
        async with connected(self.server.url) as nc:
            deadline = asyncio.get_running_loop().time() + within
            while True:
                found = [decode_envelope(data).external_id for data in await stored_messages(nc, subject)]
                if len(found) >= count or asyncio.get_running_loop().time() > deadline:
                    return found
                await asyncio.sleep(0.2)


@asynccontextmanager
async def served(spec: ChannelSpec, settings: dict[str, Any], work: Path,
                 instance: str = "outage-test") -> AsyncIterator[Served]:
    """Run `spec` as `instance` (settings as in its config section) on a free port; stop it cleanly after.

    On exit the instance must stop with code 0 within 30 s.
    """
    port = bus.free_port()
    store = work / "nats"
    server = bus.EmbeddedNats(store, port=port).start()
    config = make_config(server.url, work, connectors={instance: {"channel": spec.id, "port": 0, **settings}})
    inst = Instance(config, instance, spec)
    running = asyncio.create_task(inst.run())
    served_ = Served(inst, server, store, port)
    try:
        await asyncio.wait_for(inst.connected.wait(), 10)
        await asyncio.wait_for(inst.listening.wait(), 10)
        yield served_
    finally:
        inst.stop.set()
        code = await asyncio.wait_for(running, 30)
        served_.server.stop()
        assert code == 0, f"the instance stopped with exit code {code}"

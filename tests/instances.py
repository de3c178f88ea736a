"""What end-to-end tests run in process: a connector instance as `kanal connector run` runs it (webhook, health,
sender loop), and the notifier's app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from connectors.runtime import Instance
from kanal.config import Config
from notifier.service import build
from notifier.settings import OutboundSettings


@asynccontextmanager
async def running(config: Config, name: str) -> AsyncIterator[Instance]:
    """Instance `name` of `config`, connected and serving HTTP; on exit it must stop with code 0."""
    instance = Instance(config, name)
    task = asyncio.create_task(instance.run())
    try:
        async with asyncio.timeout(30):
            await instance.connected.wait()
            while instance.http_port is None:
                await asyncio.sleep(0.01)
        yield instance
    finally:
        instance.stop.set()
        assert await asyncio.wait_for(task, 60) == 0


@asynccontextmanager
async def notifier(config: Config, channel: str) -> AsyncIterator[None]:
    """The notifier's FastStream app in process, answering reporters on `channel` only, no quiet hours."""
    app = build(config)
    try:
        await app.open(OutboundSettings(channels=[channel], quiet_hours=None))
        await app.broker.start()
        yield
    finally:
        await app.broker.stop()

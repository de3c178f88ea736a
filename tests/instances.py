"""A connector instance run as `kanal connector run` runs it (webhook, health, sender loop), for end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from connectors.runtime import Instance
from kanal.config import Config


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

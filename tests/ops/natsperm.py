"""Logging in to a least-privilege nats-server as one user, and noticing what the server refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import nats
from nats.aio.client import Client as NATS

from kanal import bus


class Session:
    """A connection as one user, remembering every error the server sent it."""

    def __init__(self, nc: NATS, errors: list[str]) -> None:
        self.nc = nc
        self.errors = errors

    async def refused(self, subject: str) -> bool:
        """True once the server has reported a permissions violation for `subject`."""
        for _ in range(100):
            if any("permissions violation" in e.lower() and f'"{subject.lower()}"' in e.lower() for e in self.errors):
                return True
            await asyncio.sleep(0.02)
        return False


@asynccontextmanager
async def login(url: str, secrets: Path, user: str) -> AsyncIterator[Session]:
    errors: list[str] = []

    async def on_error(err: Exception) -> None:
        errors.append(str(err))

    password = (secrets / f"{user}.password").read_text().strip()
    nc = await nats.connect(url, user=user, password=password, error_cb=on_error, allow_reconnect=False,
                            inbox_prefix=bus.inbox_prefix(user))  # as bus.connect does
    try:
        yield Session(nc, errors)
    finally:
        await nc.close()

"""Serving a fake provider on a free loopback port: the one helper every fake in tests/ uses."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol, TypeVar

from starlette.applications import Starlette

from kanal import http


class Fake(Protocol):
    """A fake provider: its ASGI app, and the port it is served on (set by `serving`)."""

    port: int

    def app(self) -> Starlette: ...


F = TypeVar("F", bound=Fake)


@dataclass
class FakeProvider:
    """What every polled provider's fake has (the `provider` of PollerContract): the port `serving` sets, its
    loopback URL, and `fail(status)`: answer every request with that HTTP status until `fail(None)`."""

    port: int = 0
    status: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, status: int | None) -> None:
        self.status = status


@asynccontextmanager
async def serving(fake: F) -> AsyncIterator[F]:
    """Serve `fake.app()` on a free loopback port (`fake.port`) until the block ends."""
    server, task = await http.start(fake.app(), "127.0.0.1", 0)
    fake.port = http.bound_port(server)
    try:
        yield fake
    finally:
        await http.stop(server, task)


def free_port() -> int:
    """A loopback port nobody listens on now, for servers that must be told their port (Dovecot, SMTP)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

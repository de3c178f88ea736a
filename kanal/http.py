"""Serving an ASGI app inside a process that owns its own signal handling (uvicorn's are switched off)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator
from typing import Any

import uvicorn

from kanal.config import Config
from kanal.httplimits import Limits, guarded_protocol


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves SIGINT/SIGTERM to the caller, which stops it with `should_exit`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def limits_of(config: Config) -> Limits:
    """The HTTP limits `[kanal]` sets for every server of this config."""
    return Limits(read_timeout=config.kanal.http_read_timeout.total_seconds(),
                  per_client=config.kanal.http_max_connections_per_client,
                  trusted_proxies=tuple(config.kanal.trusted_proxies))


async def start(app: Any, host: str, port: int, limits: Limits | None = None,
                **options: Any) -> tuple[EmbeddedServer, asyncio.Task[None]]:
    """Start serving `app`; returns once the socket listens, raises OSError if it cannot bind.

    Every server reads a request within `limits.read_timeout` (else 408) and holds at most `limits.per_client`
    connections per client address (else 429): see kanal/httplimits.py. X-Forwarded-For/-Proto are read only
    from `limits.trusted_proxies`, so the app's `request.client` is the real client behind them (login
    throttling, allow-lists, logs). Without `limits`, the defaults.

    The socket is bound here, not by uvicorn: on a busy port uvicorn calls sys.exit(3) inside its task, and
    asyncio lets SystemExit escape the event loop, which would end the process without stopping anything.
    """
    family, kind, proto, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                          flags=socket.AI_PASSIVE)[0]  # "": every interface
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise OSError(err.errno, f"cannot listen on {host}:{port}: {err.strerror}") from err
    limits = limits or Limits()
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", access_log=False,
                            http=guarded_protocol(limits), proxy_headers=True,
                            forwarded_allow_ips=list(limits.trusted_proxies), **options)
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"http-{host}:{port}")
    try:
        while not server.started:
            if task.done():
                task.result()
                raise OSError(f"HTTP server on {host}:{port} stopped while starting")
            await asyncio.sleep(0.01)
    except BaseException:
        sock.close()
        raise
    return server, task


async def stop(server: EmbeddedServer, task: asyncio.Task[None]) -> None:
    """Stop accepting, let in-flight requests finish, and wait for the server task."""
    server.should_exit = True
    with contextlib.suppress(Exception):
        await task


def bound_port(server: EmbeddedServer) -> int:
    """The port actually bound (useful when asked for port 0)."""
    for srv in server.servers:
        for sock in srv.sockets:
            return int(sock.getsockname()[1])
    raise RuntimeError("server has no listening socket")

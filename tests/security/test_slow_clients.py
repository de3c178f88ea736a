"""Slow and greedy clients against a real server socket: a request trickled in (headers or body) is cut off
with 408 after the configured read timeout, and one address may not hold more than its share of connections.

Before: an incomplete multipart body to the app API held its connection open for more than a minute, with no
limit at all. The timeout here is short (configured), the waits generous (no timed assertions)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from connectors.app import spec as app_spec
from connectors.testkit import harness
from kanal import http
from kanal.httplimits import Limits
from kanal.testing import make_config

HEAD = (b"POST /api/v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: multipart/form-data; boundary=kanal\r\nContent-Length: 100000\r\n\r\n")


def _exchange(port: int, parts: list[bytes]) -> bytes:
    """Send `parts`, then read until the server closes (or 60 s pass: on old code it never did)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        for part in parts:
            sock.sendall(part)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            received += b"<still open after 60 s>"
        return received


async def test_slow_body_and_slow_headers_are_cut_off_with_408(nats_url: str) -> None:
    async with harness(app_spec, {"max_body_bytes": 2_000_000}, nats_url) as h:
        server, task = await http.start(h.instance.app(), "127.0.0.1", 0, Limits(read_timeout=1.0, per_client=10))
        port = http.bound_port(server)
        try:
            body = await asyncio.to_thread(_exchange, port, [HEAD, b"--kanal\r\nContent-Disposition: form-da"])
            headers = await asyncio.to_thread(_exchange, port, [b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\n"])
            idle = await asyncio.to_thread(_exchange, port, [])
            whole = await asyncio.to_thread(_exchange, port, [b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"])
        finally:
            await http.stop(server, task)
        assert await h.published() == []
    assert body.startswith(b"HTTP/1.1 408 "), body[:200]
    assert headers.startswith(b"HTTP/1.1 408 "), headers[:200]
    assert idle == b""  # a connection that never sent anything is simply closed
    assert whole.startswith(b"HTTP/1.1 200 ") and b"<still open" not in whole  # served, then idle: closed


async def test_one_address_may_hold_only_its_share_of_connections() -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(_request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    server, task = await http.start(Starlette(routes=[Route("/", hello)]), "127.0.0.1", 0,
                                    Limits(read_timeout=30.0, per_client=3))
    port = http.bound_port(server)
    held = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(3)]
    try:
        extra = await asyncio.to_thread(_exchange, port, [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
        assert extra.startswith(b"HTTP/1.1 429 ") and b"Retry-After: 5" in extra
        held.pop().close()
        deadline = asyncio.get_running_loop().time() + 30
        while True:  # the server notices the close in its own time: poll, generously
            request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            again = await asyncio.to_thread(_exchange, port, [request])
            if again.startswith(b"HTTP/1.1 200 ") or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.05)
        assert again.startswith(b"HTTP/1.1 200 "), again[:100]
    finally:
        for sock in held:
            sock.close()
        await http.stop(server, task)


def test_limits_come_from_the_config(tmp_path: Path) -> None:
    config = make_config("nats://127.0.0.1:1", tmp_path)
    assert http.limits_of(config) == Limits(read_timeout=30.0, per_client=100, trusted_proxies=("127.0.0.1", "::1"))
    from msgspec.structs import replace

    from kanal.settings_types import Duration

    tuned = replace(config, kanal=replace(config.kanal, http_read_timeout=Duration(seconds=5),
                                          http_max_connections_per_client=20, trusted_proxies=["10.0.0.0/8"]))
    assert http.limits_of(tuned) == Limits(read_timeout=5.0, per_client=20, trusted_proxies=("10.0.0.0/8",))


async def _client_seen(limits: Limits, headers: bytes) -> bytes:
    """What the app sees as the client of a request with `headers`, while two other connections are held."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def who(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"client={request.client.host if request.client else None}")

    server, task = await http.start(Starlette(routes=[Route("/", who)]), "127.0.0.1", 0, limits)
    port = http.bound_port(server)
    held = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(2)]
    try:
        request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers + b"\r\n"
        return await asyncio.to_thread(_exchange, port, [request])
    finally:
        for sock in held:
            sock.close()
        await http.stop(server, task)


async def test_behind_a_trusted_proxy_the_forwarded_client_is_seen_and_the_proxy_is_not_limited() -> None:
    answer = await _client_seen(Limits(per_client=1, trusted_proxies=("127.0.0.0/8",)),
                                   b"X-Forwarded-For: 203.0.113.9\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"client=203.0.113.9"), answer


async def test_an_untrusted_peer_cannot_claim_another_address() -> None:
    answer = await _client_seen(Limits(per_client=3, trusted_proxies=()), b"X-Forwarded-For: 203.0.113.9\r\n")
    assert answer.endswith(b"client=127.0.0.1"), answer
    limited = await _client_seen(Limits(per_client=1, trusted_proxies=()), b"")
    assert limited.startswith(b"HTTP/1.1 429 "), limited

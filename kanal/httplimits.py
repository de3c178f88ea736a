"""Limits every Kanal HTTP server applies before a request reaches the app: slow clients and connection floods.

uvicorn bounds neither how long a client may take to send its headers and body nor how many connections one
address may hold, so a client trickling a multipart body (or headers) kept its connection, and a task, for as
long as it liked. `guarded_protocol()` wraps uvicorn's h11 protocol:

- a request (headers and body) must arrive within `read_timeout` seconds of its first byte's turn (the
  connection opening, or the previous response ending): else 408 and the connection closes; the app, if it
  was waiting for the body, sees the client gone;
- one client address may hold at most `per_client` connections at once: the next one is answered 429 and
  closed before anything is read. A trusted reverse proxy (`trusted_proxies`) carries many clients, so its
  connections are not counted; uvicorn reads the real client from its X-Forwarded-For (kanal/http.py).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import Counter
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from kanal import log


@dataclass(frozen=True)
class Limits:
    """`[kanal] http_read_timeout`, `http_max_connections_per_client` and `trusted_proxies` (addresses or
    networks whose connections carry many clients: not counted per address)."""

    read_timeout: float = 30.0
    per_client: int = 100
    trusted_proxies: tuple[str, ...] = ()

    def is_proxy(self, address: str) -> bool:
        """Whether `address` is one of the trusted reverse proxies."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in ipaddress.ip_network(net, strict=False) for net in self.trusted_proxies)


def _raw_response(status: int, reason: str, text: str, extra: str = "") -> bytes:
    body = text.encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}"
            f"\r\nConnection: close\r\n{extra}\r\n")
    return head.encode() + body


TIMEOUT_RESPONSE = _raw_response(408, "Request Timeout", "request not received in time; send it again\n")
BUSY_RESPONSE = _raw_response(429, "Too Many Requests", "too many connections from your address; retry later\n",
                              "Retry-After: 5\r\n")


def guarded_protocol(limits: Limits) -> type[H11Protocol]:
    """An h11 protocol class for one server, with its own per-address connection counts."""
    open_per_client: Counter[str] = Counter()
    _log = log.get("http")

    class Guarded(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _counted: str | None = None
        _refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            address = self.client[0] if self.client else "unknown"
            if limits.is_proxy(address):  # a reverse proxy speaks for many clients: only the read timeout applies
                self._arm()
                return
            if open_per_client[address] >= limits.per_client:
                _log.warning("http_connection_refused", client=address, open=open_per_client[address],
                             limit=limits.per_client)
                self._refused = True
                transport.write(BUSY_RESPONSE)
                if transport.can_write_eof():
                    transport.write_eof()  # the client reads the answer and its end, then closes
                self.loop.call_later(2.0, transport.close)  # closing at once would reset the unread request
                return
            open_per_client[address] += 1
            self._counted = address
            self._arm()

        def data_received(self, data: bytes) -> None:
            if not self._refused:  # a refused connection's request is never read, let alone run
                super().data_received(data)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._counted is not None:
                open_per_client[self._counted] -= 1
                if open_per_client[self._counted] <= 0:
                    del open_per_client[self._counted]
                self._counted = None
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            cycle: Any = self.cycle
            if cycle is not None and not cycle.more_body and not cycle.response_complete:
                self._disarm()  # the whole request is in: the app may take its time to answer

        def on_response_complete(self) -> None:
            self._arm()  # the next request on this connection gets its own deadline
            super().on_response_complete()

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(limits.read_timeout, self._timed_out)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _timed_out(self) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            cycle: Any = self.cycle
            waiting = cycle is not None and not cycle.response_complete
            if waiting and cycle.response_started:
                return  # answering already (the request was complete); the app's response is not cut
            partial = waiting or bool(self.conn.trailing_data[0])
            if waiting:
                cycle.disconnected = True  # the app's receive() now says the client is gone
                cycle.message_event.set()
            if partial:
                _log.warning("http_request_timeout", client=self.client[0] if self.client else None,
                             timeout_s=limits.read_timeout, path=cycle.scope["path"] if waiting else None)
                self.transport.write(TIMEOUT_RESPONSE)
            self.transport.close()  # an idle keep-alive connection just closes

    return Guarded

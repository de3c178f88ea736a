"""Webhook connectors: provider endpoints on an ASGI app, signature checked before anything is parsed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute

from connectors.base import Connector
from connectors.errors import BadPayload, SignatureError
from connectors.spool import SpoolFull

S = TypeVar("S", bound=msgspec.Struct)
Handler = Callable[[Request], Awaitable[Response]]


class BodyTooLarge(Exception):
    """The request body is larger than `max_body_bytes`."""


class WebhookConnector(Connector[S]):
    """Subclasses return their provider endpoints from `routes()`; wrap each handler with `self.guard`."""

    def routes(self) -> list[BaseRoute]:
        """The provider's endpoints (health and metrics are added by the runtime)."""
        raise NotImplementedError

    def public_url(self, request: Request) -> str:
        """The URL as the provider called it: `public_url` from config (behind proxies), else the request's."""
        base = self.ctx.common.public_url
        if base:
            query = request.url.query
            path = request.url.path.removeprefix(_path_prefix(base))
            return base.rstrip("/") + path + (f"?{query}" if query else "")
        return str(request.url)

    async def read_body(self, request: Request) -> bytes:
        """The exact raw bytes, refused past `max_body_bytes` (set it above what the provider sends)."""
        limit = self.ctx.common.max_body_bytes
        declared = int(request.headers.get("content-length") or 0)
        if declared > limit:
            raise BodyTooLarge(f"{declared} bytes declared, limit {limit}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"more than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def guard(self, handler: Handler) -> Handler:
        """Turn the error tree into provider-facing answers, each logged with its reason and counted.

        SignatureError -> 403 (nothing published); BadPayload -> 400 (kept on the DLQ); too large -> 413;
        a failure to publish or spool -> 503 so the provider retries.
        """

        async def guarded(request: Request) -> Response:
            metrics = self.ctx.metrics
            try:
                return await handler(request)
            except SignatureError as err:
                metrics.rejected.labels(reason="bad_signature").inc()
                self.log.warning("webhook_refused", reason=err.reason, status=403, path=request.url.path,
                                 client=request.client.host if request.client else None)
                # the reason (bad_signature, bad_verify_token ...) tells whoever sets the provider up what is wrong
                return PlainTextResponse(f"refused: {err.reason}", status_code=403)
            except BodyTooLarge as err:
                metrics.rejected.labels(reason="too_large").inc()
                self.log.warning("webhook_refused", reason="too_large", detail=str(err), status=413)
                return PlainTextResponse("body too large", status_code=413)
            except BadPayload as err:
                self.log.warning("webhook_bad_payload", reason=err.reason, detail=err.detail, status=400)
                return PlainTextResponse(f"bad request: {err.reason}", status_code=400)
            except SpoolFull as err:  # NATS away for long: the provider must keep it and retry
                metrics.rejected.labels(reason="spool_full").inc()
                self.log.error("webhook_refused_spool_full", detail=str(err), status=503)
                return self.unavailable()
            except ClientDisconnect:  # gone, or cut off by the server's read timeout (kanal/httplimits.py)
                metrics.rejected.labels(reason="incomplete_request").inc()
                self.log.info("webhook_client_gone", path=request.url.path)
                return PlainTextResponse("request incomplete", status_code=408)
            except Exception as err:
                metrics.rejected.labels(reason="unavailable").inc()
                self.log.error("webhook_failed", error=repr(err), status=503)
                return self.unavailable()

        return guarded

    def unavailable(self) -> Response:
        """The 503 a caller gets when a request could not be kept; an API with its own error shape overrides it."""
        return PlainTextResponse("temporarily unavailable, retry later", status_code=503,
                                 headers={"Retry-After": "30"})


def _path_prefix(url: str) -> str:
    after_scheme = url.split("://", 1)[-1]
    slash = after_scheme.find("/")
    return after_scheme[slash:].rstrip("/") if slash >= 0 else ""

"""/healthz, /readyz and /metrics, served by every connector instance."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.base import Health
from connectors.publisher import Publisher


def routes(health: Health, publisher: Publisher, extra_ready: Callable[[], list[str]] | None = None) -> list[BaseRoute]:
    """Health routes: live while the process runs; ready when it can take input and its credentials work."""

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        problems: list[str] = []
        if not health.credentials_ok:
            problems.append(f"credentials rejected: {health.credentials_error}")
        if health.check_silence():
            problems.append(f"silent for longer than {health.silence_after:.0f}s")
        if not publisher.connected:
            problems.append(f"NATS unreachable: {publisher.spool.depth} message(s) waiting in the spool")
        if publisher.spool.full:
            problems.append(f"spool full ({publisher.spool.size} of {publisher.spool.max_bytes} bytes): new "
                            "input is refused with 503 until NATS takes the spool")
        if extra_ready is not None:
            problems.extend(extra_ready())
        body = {
            "ready": not problems,
            "problems": problems,
            "nats_connected": publisher.connected,
            "spool_depth": publisher.spool.depth,
            "last_success": health.last_success,
            "credentials_ok": health.credentials_ok,
        }
        # A connector that is spooling still accepts input safely; credentials, silence and a full spool make it
        # unready.
        unready = not health.credentials_ok or health.silent or publisher.spool.full
        return JSONResponse(body, status_code=503 if unready else 200)

    async def metrics(_request: Request) -> Response:
        health.check_silence()
        return Response(generate_latest(publisher.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]

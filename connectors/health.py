"""/healthz, /readyz and /metrics, served by every connector instance."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.base import Health
from connectors.publisher import Publisher


def readiness(health: Health, publisher: Publisher, more_problems: list[str]) -> dict[str, Any]:
    """The body of /readyz: ready means this instance can take input and keep it safely, and only that.

    Not ready (503): credentials refused, the spool full, shutting down (and any `more_problems`).
    Ready (200) but worth a look, under `warnings`: spooling while NATS is away (input is fsynced and
    drains later) and silence; a load balancer that took a silent webhook out of rotation would keep it silent.
    """
    problems: list[str] = []
    warnings: list[str] = []
    if not health.credentials_ok:
        problems.append(f"credentials rejected: {health.credentials_error}")
    if publisher.spool.full:
        problems.append(f"spool full: {publisher.spool.depth} message(s) waiting and no room for more")
    if health.stopping:
        problems.append("shutting down")
    problems.extend(more_problems)
    spooling = not publisher.connected or publisher.spool.depth > 0
    if not publisher.connected:
        warnings.append(f"NATS unreachable: spooling ({publisher.spool.depth} message(s) waiting)")
    elif publisher.spool.depth:
        warnings.append(f"draining the spool: {publisher.spool.depth} message(s) waiting")
    silent = health.check_silence()
    if silent:
        warnings.append(f"silent for longer than {health.silence_after:.0f}s")
    ready = not problems
    publisher.metrics.ready.set(1 if ready else 0)
    publisher.metrics.spooling.set(1 if spooling else 0)
    publisher.metrics.spool_depth.set(publisher.spool.depth)
    return {
        "ready": ready,
        "problems": problems,
        "warnings": warnings,
        "spooling": spooling,
        "nats_connected": publisher.connected,
        "spool_depth": publisher.spool.depth,
        "spool_full": publisher.spool.full,
        "silent": silent,
        "stopping": health.stopping,
        "last_success": health.last_success,
        "credentials_ok": health.credentials_ok,
    }


def routes(health: Health, publisher: Publisher, extra_ready: Callable[[], list[str]] | None = None) -> list[BaseRoute]:
    """Health routes: live while the process runs; ready while it can take input safely (see `readiness`)."""

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        body = readiness(health, publisher, extra_ready() if extra_ready is not None else [])
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

    async def metrics(_request: Request) -> Response:
        readiness(health, publisher, [])  # brings the ready, spooling and silent gauges up to date
        return Response(generate_latest(publisher.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]

"""Issue #19: a connector's /readyz code and body agree, and "ready" means it can take input safely."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.runtime import Instance
from kanal.bus import free_port
from kanal.testing import make_config
from tests.connectors.sample_channels import hook, message, sign

SETTINGS = {"channel": "hook", "account": "a", "secret": "s3cret-value"}


@pytest.fixture
async def away(tmp_path: Path) -> AsyncIterator[tuple[Instance, httpx.AsyncClient]]:
    """An instance whose NATS is not there (nothing listens on its port): it takes input into its spool."""
    config = make_config(f"nats://127.0.0.1:{free_port()}", tmp_path, connectors={"h": SETTINGS})
    instance = Instance(config, "h", hook)
    transport = httpx.ASGITransport(app=instance.app())
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://hook") as client:
            yield instance, client
    finally:
        instance.spool.close()


async def _ready(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/readyz")
    body: dict[str, Any] = response.json()
    assert (response.status_code == 200) is body["ready"], (response.status_code, body)  # code and body agree
    return response.status_code, body


async def test_spooling_with_room_to_spare_is_ready_and_shown(away: tuple[Instance, httpx.AsyncClient]) -> None:
    instance, client = away
    body = json.dumps({"messages": [message(1)]}).encode()
    posted = await client.post("/inbound", content=body, headers={"X-Hook-Signature": sign("s3cret-value", body)})
    assert posted.status_code == 200 and instance.spool.depth > 0
    code, ready = await _ready(client)
    assert code == 200 and ready["spooling"] is True and ready["nats_connected"] is False
    assert ready["spool_depth"] == instance.spool.depth and ready["problems"] == []
    assert any("spooling" in w for w in ready["warnings"])
    metrics = (await client.get("/metrics")).text
    assert 'kanal_connector_spooling{channel="hook",instance="h"} 1.0' in metrics
    assert 'kanal_connector_ready{channel="hook",instance="h"} 1.0' in metrics


async def test_refused_credentials_are_not_ready(away: tuple[Instance, httpx.AsyncClient]) -> None:
    instance, client = away
    instance.health.set_credentials(False, "token revoked")
    code, body = await _ready(client)
    assert code == 503 and body["problems"] == ["credentials rejected: token revoked"]
    assert 'kanal_connector_ready{channel="hook",instance="h"} 0.0' in (await client.get("/metrics")).text


async def test_a_full_spool_is_not_ready(away: tuple[Instance, httpx.AsyncClient],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    instance, client = away
    monkeypatch.setattr(instance.publisher.spool, "full", True)  # as Spool.append sets it past max_bytes
    code, body = await _ready(client)
    assert code == 503 and body["spool_full"] is True and body["problems"][0].startswith("spool full")


async def test_shutting_down_is_not_ready(away: tuple[Instance, httpx.AsyncClient]) -> None:
    instance, client = away
    assert (await _ready(client))[0] == 200
    instance.stopping()  # what SIGTERM calls
    code, body = await _ready(client)
    assert code == 503 and body["problems"] == ["shutting down"] and body["stopping"] is True

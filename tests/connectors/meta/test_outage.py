"""A valid Meta POST while NATS is down: 200 only once spooled, and everything delivered once NATS returns."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client as NATS

from connectors.meta import spec
from connectors.meta.signature import sign
from connectors.runtime import Instance
from kanal import bus
from kanal.testing import connected, make_config
from schemas import decode_envelope, subjects
from tests.connectors.meta import bodies as b

SECRET = "meta-app-secret-123456"
SETTINGS = {"app_secret": SECRET, "verify_token": "verify-123456", "phone_number_ids": [b.PHONE],
            "page_ids": [b.PAGE]}


def batch(n: int) -> bytes:
    """One signed-able WhatsApp POST whose message id follows n."""
    return b.whatsapp(b.wa(b.wamid(n), "text", {"body": f"Laporan nomor {n} 🚧"}))


@pytest.mark.slow
async def test_nats_down_spools_answers_200_then_delivers_everything_once(tmp_path: Path) -> None:
    port = bus.free_port()
    store = tmp_path / "nats"
    server = bus.EmbeddedNats(store, port=port).start()
    config = make_config(server.url, tmp_path, connectors={"meta-dki": {"channel": "meta", "port": 0, **SETTINGS}})
    instance = Instance(config, "meta-dki", spec)
    running = asyncio.create_task(instance.run())
    try:
        await asyncio.wait_for(instance.connected.wait(), 10)
        while instance.http_port is None:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{instance.http_port}", timeout=10) as client:
            async def post(body: bytes) -> int:
                response = await client.post("/webhook", content=body,
                                             headers={"x-hub-signature-256": sign(SECRET, body)})
                return response.status_code

            for n in range(1, 6):
                assert await post(batch(n)) == 200
            server.kill()
            for n in range(6, 16):  # NATS is gone: 200 only because the spool fsynced it
                assert await post(batch(n)) == 200
            two = b.dumps({"object": "page", "entry": [{"id": b.PAGE, "time": 1, "messaging": [
                b.messenger("m_outage_1", "Listrik padam di Cempaka Putih"),
                b.messenger("m_outage_2", "Air PAM mati sejak pagi")]}]})
            assert await post(two) == 200
            assert instance.spool.depth > 0
            assert await post(batch(6)) == 200  # Meta's retry of a spooled POST
            server = bus.EmbeddedNats(store, port=port).start()
            for n in range(16, 19):
                assert await post(batch(n)) == 200
        async with connected(server.url) as nc:
            ids = await _wait_for(nc, "kanal.in.meta.meta-dki", 20)
        expected = [b.wamid(n) for n in range(1, 16)] + ["m_outage_1", "m_outage_2"] + \
            [b.wamid(n) for n in range(16, 19)]
        assert ids == expected, "every envelope once, in the order received"
        assert instance.spool.depth == 0
    finally:
        instance.stop.set()
        assert await asyncio.wait_for(running, 30) == 0
        server.stop()


async def _wait_for(nc: NATS, subject: str, count: int, within: float = 30) -> list[str]:
    """The external ids on `subject` once the stream holds `count` envelopes (or `within` passed)."""
    js = nc.jetstream()
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        info = await js.stream_info(subjects.STREAM_IN)
        if info.state.messages >= count:
            break
        await asyncio.sleep(0.1)
    sub = await js.subscribe(subject, ordered_consumer=True)
    found: list[str] = []
    while True:
        try:
            msg = await sub.next_msg(timeout=0.5)
        except TimeoutError:
            break
        found.append(decode_envelope(msg.data).external_id)
    await sub.unsubscribe()
    return found

"""A valid Meta POST while NATS is down: 200 only once spooled, and everything delivered once NATS returns."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from connectors.meta import spec
from connectors.meta.signature import sign
from connectors.testkit import served
from tests.connectors.meta import bodies as b

SECRET = "meta-app-secret-123456"
SETTINGS = {"app_secret": SECRET, "verify_token": "verify-123456", "phone_number_ids": [b.PHONE],
            "page_ids": [b.PAGE]}


def batch(n: int) -> bytes:
    """One signed-able WhatsApp POST whose message id follows n."""
    return b.whatsapp(b.wa(b.wamid(n), "text", {"body": f"Laporan nomor {n} 🚧"}))


@pytest.mark.slow
async def test_nats_down_spools_answers_200_then_delivers_everything_once(tmp_path: Path) -> None:
    async with served(spec, SETTINGS, tmp_path, "meta-dki") as run:
        async with httpx.AsyncClient(base_url=run.base_url, timeout=10) as client:
            async def post(body: bytes) -> int:
                response = await client.post("/webhook", content=body,
                                             headers={"x-hub-signature-256": sign(SECRET, body)})
                return response.status_code

            for n in range(1, 6):
                assert await post(batch(n)) == 200
            run.kill_nats()
            for n in range(6, 16):  # NATS is gone: 200 only because the spool fsynced it
                assert await post(batch(n)) == 200
            two = b.dumps({"object": "page", "entry": [{"id": b.PAGE, "time": 1, "messaging": [
                b.messenger("m_outage_1", "Listrik padam di Cempaka Putih"),
                b.messenger("m_outage_2", "Air PAM mati sejak pagi")]}]})
            assert await post(two) == 200
            assert run.instance.spool.depth > 0
            assert await post(batch(6)) == 200  # Meta's retry of a spooled POST
            run.restart_nats()
            for n in range(16, 19):
                assert await post(batch(n)) == 200
        ids = await run.external_ids(20)
        expected = [b.wamid(n) for n in range(1, 16)] + ["m_outage_1", "m_outage_2"] + \
            [b.wamid(n) for n in range(16, 19)]
        assert ids == expected, "every envelope once, in the order received"
        assert await run.spool_depth_after_drain() == 0

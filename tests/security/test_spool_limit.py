"""The spool is bounded and private: when a long NATS outage fills it, new requests get 503 with Retry-After
(the provider keeps them and retries), /readyz says not ready and the full gauge is 1 for the alert; once NATS
is back it drains and takes input again. Its database is 0600 and its folder 0700."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import httpx
import pytest

from connectors.spool import Spool, SpoolFull
from connectors.testkit import served
from tests.connectors.sample_channels import hook, message, sign

SECRET = "hook-secret-123456"


def _body(n: int) -> bytes:
    return json.dumps({"messages": [message(n)]}).encode()


async def _post(client: httpx.AsyncClient, n: int) -> httpx.Response:
    body = _body(n)
    return await client.post("/inbound", content=body, headers={"x-hook-signature": sign(SECRET, body)})


def test_database_is_0600_and_folder_0700(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool" / "twilio-1.sqlite")
    spool.append([("kanal.in.twilio.twilio-1", "id-1", b"{}")])
    try:
        assert stat.S_IMODE((tmp_path / "spool").stat().st_mode) == 0o700
        files = list((tmp_path / "spool").iterdir())
        assert any(f.name.endswith("-wal") for f in files)
        for f in files:
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
    finally:
        spool.close()


def test_an_older_world_readable_spool_is_made_private(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    folder.mkdir(mode=0o755)
    path = folder / "x.sqlite"
    Spool(path).close()
    path.chmod(0o644)
    folder.chmod(0o755)
    Spool(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_limit_refuses_then_resumes_below_ninety_percent(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", max_bytes=1000)
    try:
        spool.append([("a", "1", b"x" * 600)])
        with pytest.raises(SpoolFull):
            spool.append([("a", "2", b"x" * 500)])
        assert spool.full
        with pytest.raises(SpoolFull):  # full stays full, even for a small message, until it drains
            spool.append([("a", "3", b"x" * 10)])
        spool.remove(spool.peek()[-1].seq)
        assert not spool.full and spool.size == 0
        spool.append([("a", "4", b"x" * 900)])
    finally:
        spool.close()
    reopened = Spool(tmp_path / "s.sqlite", max_bytes=1000)
    assert reopened.size == 900  # counted again from the database after a restart
    reopened.close()


@pytest.mark.slow
async def test_full_spool_answers_503_with_retry_after_and_readyz_says_so(tmp_path: Path) -> None:
    settings = {"account": "+628111272206", "secret": SECRET, "spool_max_bytes": 6000}
    async with served(hook, settings, tmp_path, "hook-full") as run:
        async with httpx.AsyncClient(base_url=run.base_url, timeout=30) as client:
            assert (await _post(client, 1)).status_code == 200
            run.kill_nats()
            answers = []
            for n in range(2, 40):
                response = await _post(client, n)
                answers.append(response.status_code)
                if response.status_code == 503:
                    assert response.headers["retry-after"] == "30"
                    break
            assert answers[-1] == 503 and set(answers[:-1]) == {200}, answers
            accepted = len(answers) - 1
            ready = await client.get("/readyz")
            assert ready.status_code == 503 and any("spool full" in p for p in ready.json()["problems"])
            metrics = (await client.get("/metrics")).text
            assert "kanal_connector_spool_full{" in metrics and 'instance="hook-full"} 1.0' in metrics
            assert 'reason="spool_full"' in metrics
            run.restart_nats()
            deadline = asyncio.get_running_loop().time() + 60
            while run.instance.spool.full and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.2)
            assert (await client.get("/readyz")).status_code == 200
            assert (await _post(client, 99)).status_code == 200
        ids = await run.external_ids(accepted + 2)
        assert ids == ["m1", *(f"m{n}" for n in range(2, 2 + accepted)), "m99"]  # all kept, once, in order

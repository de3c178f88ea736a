"""Twilio as a user runs it: NATS killed mid-test (spool, 2xx only once safe) and `kanal connector run`."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest

from connectors.testkit import served
from connectors.testkit.harness import stored_messages
from connectors.twilio import spec
from connectors.twilio.settings import DEFAULT_ACK
from kanal import bus
from kanal.testing import connected
from schemas import decode_envelope, subjects
from tests.connectors.twilio.cases import CITIZEN, NUMBER, sms
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, sign

SETTINGS = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "account": NUMBER,
            "ack_template": DEFAULT_ACK}  # the reference in the reply shows which messages were taken
FORM = {"content-type": "application/x-www-form-urlencoded"}


async def _post(client: httpx.AsyncClient, port: int, n: int) -> httpx.Response:
    body = sms(sid=f"SM{n:032x}", body=f"Lampu jalan mati nomor {n} 💡")
    url = f"http://127.0.0.1:{port}/twilio/inbound"
    sig = sign(url, parse_qsl(body.decode(), keep_blank_values=True))
    return await client.post(url, content=body, headers={**FORM, "X-Twilio-Signature": sig})


async def _published_sids(url: str, count: int) -> list[str]:
    async with connected(url) as nc:
        subject = subjects.inbound("twilio", "twilio-sms")
        for _ in range(150):
            found = [decode_envelope(data).external_id for data in await stored_messages(nc, subject)]
            if len(found) >= count:
                break
            await asyncio.sleep(0.2)
        return found


@pytest.mark.slow
async def test_nats_killed_mid_test_spools_and_delivers_every_message_once(tmp_path: Path) -> None:
    # answered with the reference only once the message is safe (spooled or on the bus)
    async with served(spec, {**SETTINGS, "ack_template": "Laporan {ref} diterima."}, tmp_path, "twilio-sms") as run:
        assert run.instance.http_port is not None
        http_port = run.instance.http_port
        async with httpx.AsyncClient(timeout=10) as client:
            for n in range(1, 6):
                assert (await _post(client, http_port, n)).status_code == 200
            run.kill_nats()
            for n in range(6, 16):  # NATS is gone: 200 only after the fsynced spool write
                response = await _post(client, http_port, n)
                assert response.status_code == 200 and "KNL-" in response.text
            assert run.instance.spool.depth > 0
            assert (await _post(client, http_port, 6)).status_code == 200  # a Twilio retry while down
            run.restart_nats()
        sids = await run.external_ids(15)
        assert sids == [f"SM{n:032x}" for n in range(1, 16)], "every message once, in order"
        assert await run.spool_depth_after_drain() == 0


@pytest.mark.slow
async def test_kanal_connector_run_from_a_config_file(tmp_path: Path) -> None:
    server = bus.EmbeddedNats(tmp_path / "nats", port=bus.free_port()).start()
    http_port = bus.free_port()
    (tmp_path / "token").write_text(AUTH_TOKEN + "\n")
    config = tmp_path / "kanal.toml"
    config.write_text(
        f'[kanal]\ndata_dir = "var"\n[nats]\nurl = "{server.url}"\n'
        f'[connectors.twilio-sms]\nchannel = "twilio"\nport = {http_port}\naccount = "{NUMBER}"\n'
        f'account_sid = "{ACCOUNT_SID}"\nauth_token_file = "token"\n')
    kanal = Path(sys.executable).with_name("kanal")
    proc = await asyncio.create_subprocess_exec(str(kanal), "connector", "run", "twilio-sms", "--config",
                                                str(config), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(200):
                assert proc.returncode is None, "the connector process exited"
                try:
                    if (await client.get(f"http://127.0.0.1:{http_port}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            assert (await _post(client, http_port, 1)).status_code == 200
        assert await _published_sids(server.url, 1) == [f"SM{1:032x}"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        server.stop()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert AUTH_TOKEN.encode() not in err, "the auth token reached the logs"
    assert b"connector_started" in err and b"envelope_accepted" in err
    assert CITIZEN.encode() not in err, "the reporter's number reached the logs"


def test_example_config_section_resolves() -> None:
    from connectors.runtime import resolve
    from kanal.config import load

    config = load(Path(__file__).resolve().parents[3] / "kanal.example.toml", env={})
    found, common, settings = resolve(config, "twilio-sms-08111272206")
    assert found.id == "twilio" and common.port == 8083 and settings.ack_template is None

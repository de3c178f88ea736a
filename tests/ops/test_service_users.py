"""The notifier, the admin console and the CRM forwarder, each logged in as its own least-privilege NATS user.

Each runs its real code against a nats-server configured by `kanal nats config`, after `kanal nats provision`
as ops: it must do its whole job without one refused subject, and be refused what is not its job.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import ConsumerConfig

from admin.console import build as build_console
from connectors.media import MediaStore
from kanal import bus
from kanal.config import Config, load
from kanal.ops import natsconf
from kanal.ops.provision import provision
from notifier.service import build as build_notifier
from notifier.settings import OutboundSettings
from schemas import StatusUpdate, encode, subjects
from tests.admin.conftest import csrf_of, login, photo_png
from tests.admin.crm import running_crm
from tests.admin.helpers import GAMBIR, item, publish, settings
from tests.admin.test_forwarder import _settings, forwarding
from tests.factories import envelope
from tests.ops.natsperm import Session, permissioned_server
from tests.ops.natsperm import login as nats_login

SECTIONS = """
[admin]
enabled = true
[forwarder]
enabled = true
url = "http://127.0.0.1:9/unused"
[connectors.sms-a]
channel = "twilio"
"""
Setup = tuple[Path, str]
# a photo over the object store's 128 KiB chunk size, with its bytes made unique so no other test stored it
BIG_PHOTO = photo_png() + b"\0" * 300_000 + os.urandom(16)


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Setup]:
    tmp = tmp_path_factory.mktemp("serviceusers")
    srv = permissioned_server(tmp, SECTIONS)
    async with nats_login(srv.url, tmp / "secrets", natsconf.OPS_USER) as ops:
        await provision(ops.nc.jetstream(), as_user(tmp, natsconf.OPS_USER))
    yield tmp, srv.url
    srv.stop()


def as_user(tmp: Path, user: str) -> Config:
    """The config a service runs with when its unit logs it in as `user`."""
    return load(tmp / "kanal.toml", env={"KANAL_NATS__USER": user,
                                         "KANAL_NATS__PASSWORD_FILE": str(tmp / "secrets" / f"{user}.password")})


async def out_messages(ops: Session, subject: str, count: int) -> None:
    js = ops.nc.jetstream()
    async with asyncio.timeout(20):
        while True:
            info = await js.stream_info(subjects.STREAM_OUT, subjects_filter=subject)
            if (info.state.subjects or {}).get(subject, 0) >= count:
                return
            await asyncio.sleep(0.1)


def test_the_config_has_a_user_per_enabled_service(server: Setup) -> None:
    tmp, _ = server
    text = (tmp / "nats.conf").read_text()
    for user in (natsconf.NOTIFIER_USER, natsconf.CONSOLE_USER, natsconf.FORWARDER_USER):
        assert f'"user": "{user}"' in text
    plain = load(tmp / "kanal.toml", env={"KANAL_ADMIN__ENABLED": "false", "KANAL_FORWARDER__ENABLED": "false",
                                          "KANAL_OUTBOUND__ENABLED": "false"})
    names = {u.name for u in natsconf.users(plain, natsconf.ServerOptions())}
    assert not names & {natsconf.NOTIFIER_USER, natsconf.CONSOLE_USER, natsconf.FORWARDER_USER}


async def test_the_notifier_answers_reporters_as_its_own_user(server: Setup,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    tmp, url = server
    env = envelope("svc-notify-1", instance="sms-a")
    mine = item("svc-notify-1", env=env)
    async with nats_login(url, tmp / "secrets", natsconf.ROUTER_USER) as router:
        await publish(router.nc, mine)  # as the router delivers it
    config = as_user(tmp, natsconf.NOTIFIER_USER)
    app = build_notifier(config)  # one connection, as the notifier user, for its consumers, KV and publishes
    async with nats_login(url, tmp / "secrets", natsconf.NOTIFIER_USER) as notifier, \
            nats_login(url, tmp / "secrets", natsconf.OPS_USER) as ops:
        try:
            await app.open(OutboundSettings(channels=["twilio"], quiet_hours=None))
            await app.broker.start()
            outbox = subjects.outbound("twilio", "sms-a")
            await out_messages(ops, outbox, 1)  # the acknowledgement with the report number
            async with nats_login(url, tmp / "secrets", natsconf.CONSOLE_USER) as console:
                update = StatusUpdate(item_id=env.id, ref=env.ref, stage="koordinasi", queue=GAMBIR,
                                      by="lurah-gambir", at=datetime.now(UTC))
                await console.nc.jetstream().publish(subjects.status(env.id), encode(update))
            await out_messages(ops, outbox, 2)  # the stage change, in the same thread
            async with nats_login(url, tmp / "secrets", "connector-sms-a") as connector:
                stop = envelope("svc-notify-stop", instance="sms-a", text="STOP")
                await connector.nc.jetstream().publish(subjects.inbound("twilio", "sms-a"), encode(stop),
                                                       headers={"Nats-Msg-Id": stop.id})
            js = ops.nc.jetstream()
            async with asyncio.timeout(20):  # each durable read its messages and acked them (a refused ack
                for stream, durable in ((subjects.STREAM_IN, "notifier-optout"),  # would leave them pending)
                                        (subjects.STREAM_ADMIN, "notifier"), (subjects.STREAM_STATUS, "notifier")):
                    while (info := await js.consumer_info(stream, durable)).num_ack_pending or info.num_pending:
                        await asyncio.sleep(0.1)
                    assert info.ack_floor.stream_seq >= 1, (stream, durable)
        finally:
            await app.broker.stop()
        assert not notifier.refusals(), notifier.errors
        logged = capsys.readouterr().err  # the broker's own connection reports errors through the log
        assert "permissions violation" not in logged.lower(), logged[-2000:]
        with pytest.raises(NatsTimeout):
            await notifier.nc.jetstream(timeout=0.5).publish(subjects.admin("triage"), b"forged")
        assert await notifier.refused(subjects.admin("triage"))


async def test_the_forwarder_reads_the_queues_as_its_own_user(server: Setup) -> None:
    tmp, url = server
    mine = item("svc-forward-1")
    async with nats_login(url, tmp / "secrets", natsconf.ROUTER_USER) as router:
        await publish(router.nc, mine)
    async with running_crm() as crm, nats_login(url, tmp / "secrets", natsconf.FORWARDER_USER) as fwd:
        async with forwarding(fwd.nc, as_user(tmp, natsconf.FORWARDER_USER), _settings(crm)) as forwarder:
            await crm.wait(lambda: mine.item_id in crm.stored)
            async with asyncio.timeout(20):  # acked once the CRM accepted it
                while (info := await forwarder.sub.consumer_info()).num_ack_pending or info.num_pending:
                    await asyncio.sleep(0.1)
        assert not fwd.refusals(), fwd.errors
        with pytest.raises(NatsTimeout):
            await fwd.nc.jetstream(timeout=0.5).publish(subjects.outbound("twilio", "sms-a"), b"forged")
        assert await fwd.refused(subjects.outbound("twilio", "sms-a"))


async def test_the_console_works_every_page_as_its_own_user(server: Setup) -> None:
    tmp, url = server
    async with nats_login(url, tmp / "secrets", "connector-sms-a") as connector:
        media = MediaStore(connector.nc.jetstream(), 5_000_000)
        photo = await media.put(BIG_PHOTO, "image/png", "lubang.png")  # several chunks: flow control
        await media.close()
    mine = item("svc-console-1", attachments=(photo,))
    async with nats_login(url, tmp / "secrets", natsconf.ROUTER_USER) as router:
        [seq] = await publish(router.nc, mine)
    async with nats_login(url, tmp / "secrets", natsconf.CONSOLE_USER) as session:
        console = await build_console(as_user(tmp, natsconf.CONSOLE_USER), settings(), session.nc)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=console.app()),
                                     base_url="http://testserver") as client:
            await login(client, "lurah-gambir")
            overview = await client.get("/")
            assert overview.status_code == 200 and GAMBIR in overview.text
            assert mine.ref in (await client.get(f"/q/{GAMBIR}")).text
            page = await client.get(f"/item/{seq}")
            assert page.status_code == 200 and mine.ref in page.text
            attachment = await client.get(f"/media/{seq}/0")
            assert attachment.status_code == 200 and attachment.content == BIG_PHOTO
            token = csrf_of(page.text)
            moved = await client.post(f"/item/{seq}/stage", data={"stage": "koordinasi", "csrf": token},
                                      follow_redirects=True)
            assert "Tahap diubah menjadi Koordinasi" in moved.text
            took = await client.post(f"/item/{seq}/take", data={"csrf": token}, follow_redirects=True)
            assert "Anda sekarang menangani" in took.text  # the desk record in kanal_items
            english = await client.post("/lang", data={"csrf": token, "lang": "en", "back": f"/item/{seq}"},
                                        follow_redirects=True)
            assert 'lang="en"' in english.text
            await client.post("/lang", data={"csrf": token, "lang": "id", "back": "/"})
            rerouted = await client.post(f"/item/{seq}/reroute", data={
                "to_queue": "kecamatan.317101", "reason": "lintas kelurahan", "csrf": token}, follow_redirects=True)
            assert "Dialihkan ke kecamatan.317101" in rerouted.text
            assert (await client.get("/overview")).status_code == 200
        assert not session.refusals(), session.errors
        for forbidden in (subjects.inbound("twilio", "sms-a"), subjects.outbound("twilio", "sms-a")):
            with pytest.raises(NatsTimeout):
                await session.nc.jetstream(timeout=0.5).publish(forbidden, b"forged")
            assert await session.refused(forbidden)
        delete = f"$JS.API.CONSUMER.DELETE.{subjects.STREAM_IN}.{subjects.ROUTER_CONSUMER}"
        with pytest.raises(NatsTimeout):
            await session.nc.request(delete, b"", timeout=0.5)
        assert await session.refused(delete)
        # found in review: the console could fetch from, ack on or rewrite the other services' durables on
        # KANAL_ADMIN (taking the forwarder's items, widening a queue reader's filter)
        admin = subjects.STREAM_ADMIN
        for durable in ("notifier", "crm-forwarder", "admin-kel1"):
            steal = f"$JS.API.CONSUMER.MSG.NEXT.{admin}.{durable}"
            with pytest.raises(NatsTimeout):
                await session.nc.request(steal, b'{"batch": 1}', timeout=0.5)
            assert await session.refused(steal)
            for new_filter, api in (("kanal.admin.triage", f"CONSUMER.CREATE.{admin}.{durable}.kanal.admin.triage"),
                                    ("kanal.admin.>", f"CONSUMER.DURABLE.CREATE.{admin}.{durable}")):
                rewrite = ConsumerConfig(name=durable if "triage" in new_filter else None, durable_name=durable,
                                         filter_subject=new_filter)
                with pytest.raises(NatsTimeout):
                    await session.nc.jetstream(timeout=0.5).add_consumer(admin, rewrite)
                assert await session.refused(f"$JS.API.{api}"), session.errors


async def test_the_inbox_cli_works_as_the_console_user(server: Setup) -> None:
    import os
    import subprocess
    import sys

    from kanal.passwords import hash_password

    tmp, url = server
    mine = item("svc-inbox-1")
    async with nats_login(url, tmp / "secrets", natsconf.ROUTER_USER) as router:
        await publish(router.nc, mine)
    cfg = tmp / "inbox.toml"
    cfg.write_text(f'[nats]\nurl = "{url}"\n[admin.users.lurah-gambir]\n'
                   f'password_hash = "{hash_password("rahasia-lurah-123")}"\nqueues = ["{GAMBIR}"]\n')
    env = {**os.environ, "KANAL_NATS__USER": natsconf.CONSOLE_USER,
           "KANAL_NATS__PASSWORD_FILE": str(tmp / "secrets" / f"{natsconf.CONSOLE_USER}.password")}

    def inbox(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kanal", "inbox", GAMBIR, "--as", "lurah-gambir", "--config",
                               str(cfg), *args], capture_output=True, text=True, timeout=60, env=env)

    listed = await asyncio.to_thread(inbox)
    assert listed.returncode == 0 and mine.ref in listed.stdout, listed.stdout + listed.stderr
    acked = await asyncio.to_thread(inbox, "ack", mine.ref)
    assert acked.returncode == 0, acked.stdout + acked.stderr
    after = await asyncio.to_thread(inbox)
    assert after.returncode == 0 and mine.ref not in after.stdout
    assert "permissions" not in (listed.stderr + acked.stderr + after.stderr).lower()


@pytest.mark.parametrize(("user", "command", "ready"), [
    (natsconf.NOTIFIER_USER, ["notifier", "run"], '"notifier_started"'),
    (natsconf.CONSOLE_USER, ["admin", "serve"], "admin: console at"),
    (natsconf.FORWARDER_USER, ["admin", "forward"], '"forwarder_started"'),
])
async def test_each_service_starts_and_stops_as_its_user(server: Setup, user: str, command: list[str],
                                                         ready: str) -> None:
    """The real entry points, provisioning check included, as `kanal up` or a systemd unit runs them."""
    import signal
    import subprocess
    import sys

    from kanal.passwords import hash_password

    tmp, url = server
    cfg = tmp / f"{user}.toml"
    cfg.write_text(f'[nats]\nurl = "{url}"\n[log]\nformat = "json"\n'
                   f'[admin]\nenabled = true\nport = {bus.free_port()}\n[admin.users.pusat]\n'
                   f'password_hash = "{hash_password("rahasia-pusat-123")}"\nsuperadmin = true\n'
                   '[forwarder]\nenabled = true\nurl = "http://127.0.0.1:9/crm"\n')
    env = {**os.environ, "KANAL_NATS__USER": user,
           "KANAL_NATS__PASSWORD_FILE": str(tmp / "secrets" / f"{user}.password")}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "kanal", *command, "--config", str(cfg),
                                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    output = b""
    try:
        async with asyncio.timeout(30):
            while ready.encode() not in output:
                line = await proc.stdout.readline()
                assert line, f"{command} exited before it was ready:\n{output.decode()}"
                output += line
        await asyncio.sleep(1.5)  # a couple of idle fetches
        proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(proc.communicate(), 30)
        output += rest
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = output.decode()
    assert proc.returncode == 0, text
    assert "permissions violation" not in text.lower() and "Traceback" not in text, text

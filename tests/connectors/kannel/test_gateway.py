"""The Kannel channel against the real Kannel: bearerbox + smsbox from Debian's packages, the README's kannel.conf.

A socket plays the operator's SMSC (Kannel's fake SMSC line protocol). An SMS injected there goes through
bearerbox and smsbox to a running connector instance, the router files it in its admin queue, the notifier's
acknowledgement goes back out through sendsms to the SMSC with the report's reference, and Kannel's delivery
reports land on the send record. Kannel killed with -9 in the middle of a stream loses nothing and doubles
nothing (its store plus Kanal's envelope ids).
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client as NATS

from connectors.errors import PermanentError
from connectors.kannel.normalise import normalise
from connectors.kannel.sender import KannelSender
from connectors.kannel.settings import KannelSettings
from connectors.outbound.sender import SendRefused
from connectors.spec import NormaliseContext
from connectors.testkit.harness import stored_messages
from kanal import bus, sends
from kanal.config import Config
from kanal.settings_types import Secret
from kanal.testing import make_config
from schemas import Envelope, Reporter, StatusUpdate, decode_envelope, encode, subjects
from schemas.outbound import OutboundMessage, SendRecord, outbound_id, reply_address
from tests.connectors.kannel.cases import raw
from tests.connectors.kannel.gateway import SMSC, Gateway, free_port, require_kannel
from tests.instances import notifier, running
from tests.router.helpers import drain, make_router, routed

NAME = "kannel-test"
CITY = "08111272206"
CITY_E164 = "+628111272206"
CITIZEN = "081298765432"
CITIZEN_E164 = "+6281298765432"
QUEUE = "kota.3171"
RULES = f"""version = 1
[[rule]]
id = "sms-city-number"
type = "channel"
channel = "kannel"
account = "{CITY_E164}"
queue = "{QUEUE}"

[[rule]]
id = "fallback"
type = "fallback"
queue = "triage"
"""

pytestmark = pytest.mark.slow


@dataclass
class Setup:
    nc: NATS
    gateway: Gateway
    smsc: SMSC
    config: Config
    rules: Path


@pytest.fixture
async def kannel(provisioned: NATS, tmp_path: Path) -> AsyncIterator[Setup]:
    """Kannel running from the README's kannel.conf on free ports, and the SMSC socket connected to it."""
    require_kannel()
    port = free_port()
    secret = secrets.token_urlsafe(24)
    gateway = Gateway(tmp_path / "kannel", kanal_port=port, secret=secret)
    url = provisioned.connected_url.geturl() if provisioned.connected_url else ""
    config = make_config(url, tmp_path / "kanal", connectors={NAME: {
        "channel": "kannel", "port": port, "secret": secret, "account": CITY,
        "sendsms_url": gateway.sendsms_url, "username": "kanal", "password": gateway.password}})
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    smsc = SMSC(gateway.smsc_port)
    await gateway.start()
    await smsc.connect()
    try:
        yield Setup(provisioned, gateway, smsc, config, rules)
    finally:
        await smsc.close()
        await gateway.stop()


async def published(nc: NATS, count: int) -> list[Envelope]:
    """Wait (generously) until the instance's inbound subject holds at least `count` envelopes."""
    async with asyncio.timeout(90):
        while True:
            found = [decode_envelope(m) for m in await stored_messages(nc, subjects.inbound("kannel", NAME))]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.2)


async def send_records(nc: NATS, item_id: str, done: object) -> list[SendRecord]:
    """Poll the item's send records until `done(records)` is true."""
    kv = await bus.ensure_kv(nc.jetstream(), subjects.KV_OUTBOUND, history=5)
    assert callable(done)
    async with asyncio.timeout(60):
        while True:
            found = await sends.for_item(kv, item_id)
            if done(found):
                return found
            await asyncio.sleep(0.2)


async def route(setup: Setup) -> None:
    """Run the router over everything on KANAL_IN (rules: the city's number -> QUEUE)."""
    await drain(await make_router(setup.nc, setup.config, setup.rules))


async def test_sms_reaches_its_queue_and_the_acknowledgement_comes_back_with_the_reference(kannel: Setup) -> None:
    async with running(kannel.config, NAME), notifier(kannel.config, "kannel"):
        await kannel.smsc.send(CITIZEN, CITY, "Jalan rusak di Jl. Kemang Raya depan sekolah")
        [env] = await published(kannel.nc, 1)
        await route(kannel)
        [item] = await routed(kannel.nc)
        [mt] = await kannel.smsc.wait_for(1)
        [ack] = await send_records(kannel.nc, env.id, lambda rs: rs and rs[0].delivery == "delivered")
    assert env.text == "Jalan rusak di Jl. Kemang Raya depan sekolah"
    assert (env.kind, env.account, env.reporter.contact) == ("sms", CITY_E164, CITIZEN_E164)
    assert item.decision.queue == QUEUE and item.item_id == env.id
    assert mt.receiver == CITIZEN_E164 and mt.sender == CITY_E164
    assert env.ref in mt.text and mt.text.startswith("Terima kasih")
    assert mt.parts == 2  # the acknowledgement with its status link is longer than one GSM SMS
    assert (ack.purpose, ack.state, ack.delivery) == ("ack", "sent", "delivered")


async def test_long_unicode_sms_both_ways_and_a_concatenated_sms_sent_out_of_order(kannel: Setup) -> None:
    long_text = ("Banjir setinggi lutut di Jl. Kemang Raya 😢🌧️ sejak pagi, saluran air tersumbat sampah. "
                 "Mohon segera ditangani, warga RT 05/RW 02 tidak bisa lewat 🙏")
    note = ("Petugas Dinas SDA sudah membersihkan saluran di Jl. Kemang Raya 🧹 dan air mulai surut 🌤️. "
            "Terima kasih atas laporannya 🙏")
    async with running(kannel.config, NAME), notifier(kannel.config, "kannel"):
        await kannel.smsc.send(CITIZEN, CITY, long_text)
        [long_env] = await published(kannel.nc, 1)
        first, second = b"Sampah menumpuk di pinggir ", "kali Ciliwung 🐟, baunya menyengat.".encode()
        await kannel.smsc.send_part(CITIZEN, CITY, ref=7, total=2, seq=2, data=second)
        await kannel.smsc.send_part(CITIZEN, CITY, ref=7, total=2, seq=1, data=first)
        joined = (await published(kannel.nc, 2))[1]
        await route(kannel)
        await kannel.smsc.wait_for(2)  # both acknowledgements
        update = StatusUpdate(item_id=long_env.id, ref=long_env.ref, stage="selesai", queue=QUEUE,
                              by="admin.kemang", at=datetime.now(UTC), note=note)
        await kannel.nc.jetstream().publish(subjects.status(long_env.id), encode(update))
        messages = await kannel.smsc.wait_for(3)
        final = await send_records(kannel.nc, long_env.id,
                                   lambda rs: any(r.purpose == "final" and r.delivery == "delivered" for r in rs))
    assert long_env.text == long_text and "sms_charset_fallback" not in long_env.flags
    assert joined.text == "Sampah menumpuk di pinggir kali Ciliwung 🐟, baunya menyengat."
    [mt] = [m for m in messages if "Selesai" in m.text]
    assert long_env.ref in mt.text and note in mt.text and mt.parts >= 3  # UCS-2: 67 characters a part
    assert {r.purpose: r.state for r in final} == {"ack": "sent", "final": "sent"}


async def store_empty(gateway: Gateway) -> str:
    """Wait until bearerbox's store holds nothing (every SMS handed to smsbox and acknowledged)."""
    async with asyncio.timeout(90):
        while True:
            status = await gateway.status()
            if re.search(r"store size 0\b", status):
                return status
            await asyncio.sleep(0.2)


async def received(gateway: Gateway, count: int) -> int:
    """Wait until bearerbox has taken `count` SMS from the SMSC since it started; returns how many it queues."""
    async with asyncio.timeout(60):
        while True:
            found = re.search(r"SMS: received (\d+) \((\d+) queued\)", await gateway.status())
            if found and int(found.group(1)) >= count:
                return int(found.group(2))
            await asyncio.sleep(0.1)


async def test_kannel_killed_mid_stream_loses_nothing_and_doubles_nothing(kannel: Setup) -> None:
    """A burst flows through; smsbox goes away and SMS pile up in bearerbox; bearerbox is killed -9 with them
    inside; both boxes restart: every SMS bearerbox took reaches KANAL_IN exactly once. (The SMSC side only
    counts what bearerbox confirmed taking: a real SMSC resends what was not acknowledged, the fake protocol
    has no acknowledgements.)"""
    texts = [f"Laporan nomor {n}: lampu jalan mati di RT {n:02d}" for n in range(35)]
    async with running(kannel.config, NAME):
        for text in texts[:15]:
            await kannel.smsc.send(CITIZEN, CITY, text)
        # smsbox acknowledges to bearerbox before Kanal answers (README: what survives what), so it is stopped
        # only once the burst has reached Kanal; the SMS that follow can only be in bearerbox's store.
        await published(kannel.nc, 15)
        await kannel.gateway.stop_smsbox()
        for text in texts[15:30]:
            await kannel.smsc.send(CITIZEN, CITY, text)
        waiting = await received(kannel.gateway, 30)
        await kannel.gateway.kill_bearerbox()
        await kannel.smsc.close()
        await kannel.gateway.start()
        await kannel.smsc.connect()
        for text in texts[30:]:
            await kannel.smsc.send(CITIZEN, CITY, text)
        await published(kannel.nc, 35)
        await store_empty(kannel.gateway)
    envelopes = await published(kannel.nc, 35)
    assert waiting >= 15  # the kill really happened with SMS inside Kannel
    assert sorted(e.text for e in envelopes) == sorted(texts)
    assert len({e.id for e in envelopes}) == len(envelopes) == 35


def outbound(env: Envelope, text: str) -> OutboundMessage:
    return OutboundMessage(id=outbound_id(env.id, "status", "proses"), item_id=env.id, ref=env.ref,
                           purpose="status", text=text, reply_to=reply_address(env), created_at=datetime.now(UTC))


async def test_sender_splits_past_max_parts_and_tells_errors_apart(kannel: Setup) -> None:
    [env] = normalise(raw(), NormaliseContext(channel="kannel", instance=NAME, account=CITY_E164,
                                              received_at=datetime.now(UTC))).envelopes
    settings = KannelSettings(secret=Secret("kannel-test-secret-0123456789"), sendsms_url=kannel.gateway.sendsms_url,
                              password=Secret(kannel.gateway.password), max_parts=1)
    text = " ".join(f"kata{n}" for n in range(50))  # 340 GSM characters: three one-part calls
    sender = KannelSender(settings, CITY_E164, None)
    try:
        assert await sender.send(outbound(env, text)) is None
        messages = await kannel.smsc.wait_for(3)
        nobody = msgspec.structs.replace(env, reporter=Reporter(handle="TELKOMSEL", user_id="TELKOMSEL"))
        with pytest.raises(SendRefused, match="kannel_no_number"):
            await sender.send(outbound(nobody, "halo"))
        wrong = KannelSender(msgspec.structs.replace(settings, password=Secret("not-the-password")), CITY_E164, None)
        with pytest.raises(PermanentError, match="sendsms-user") as refused:
            await wrong.send(outbound(env, "halo"))
        await wrong.close()
    finally:
        await sender.close()
    assert refused.value.credentials
    assert [m.parts for m in messages] == [1, 1, 1] and " ".join(m.text for m in messages) == text
    assert {m.receiver for m in messages} == {CITIZEN_E164}

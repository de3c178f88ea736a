"""Anonymous and private, end to end: one rule (schemas/privacy.py) and a test per surface that uses it.

An anonymous report shows no name, handle, phone, NIK or e-mail anywhere; a private one shows them only to the
admins of its queue (and the CRM they work in).
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from nats.aio.client import Client as NATS

from admin.forwarder import Forwarder
from admin.render import entry_json, entry_text
from admin.settings import ForwarderSettings
from admin.store import ItemState
from connectors.app import spec as app_spec
from connectors.testkit import harness
from kanal import log
from kanal.config import Config
from kanal.settings_types import Duration, Secret
from notifier import compose
from notifier.settings import OutboundSettings
from schemas import Reporter
from schemas.privacy import AUDIENCES, reporter_view
from schemas.routed import decode_routed
from tests.admin.conftest import login
from tests.admin.crm import TOKEN, running_crm
from tests.admin.helpers import GAMBIR, item, publish
from tests.admin.test_inbox import _inbox, _kanal, _write_config
from tests.connectors.app.photos import jpeg
from tests.factories import envelope, record_reference

NAME, HANDLE, PHONE, EMAIL = "Siti Rahmawati", "siti_rhm", "+6281299887766", "siti.r@example.id"
NIK = "3171014505900002"
IDENTITY = (NAME, HANDLE, PHONE, EMAIL, NIK, "81299887766")
Factory = Callable[[], httpx.AsyncClient]


def who(anonymous: bool, contact: str = PHONE) -> Reporter:
    return Reporter(display_name=NAME, handle=HANDLE, contact=contact, user_id=contact, nik=NIK, anonymous=anonymous)


def shows_nobody(text: str) -> bool:
    return not any(value in text for value in IDENTITY)


def test_the_rule_for_every_audience() -> None:
    anonymous = envelope("p-1", reporter=who(True), visibility="public")
    private = envelope("p-2", reporter=who(False), visibility="private")
    public = envelope("p-3", reporter=who(False), visibility="public")
    for audience in AUDIENCES:
        view = reporter_view(anonymous, audience)
        assert view.display_name is None and view.nik is None and view.label == "anonim", audience
        if audience != "outbound":  # the answer still reaches the reporter themself, by address only
            assert shows_nobody(repr(view)), audience
    for audience in ("other_admin", "public", "log", "metrics"):
        assert shows_nobody(repr(reporter_view(private, audience))), audience
    for audience in ("queue_admin", "crm"):
        view = reporter_view(private, audience)
        assert (view.display_name, view.contact, view.nik) == (NAME, PHONE, NIK)
    other = reporter_view(public, "other_admin")
    assert other.display_name == NAME and other.contact is None and other.nik is None
    assert shows_nobody(repr(reporter_view(public, "public")))
    assert reporter_view(private, "outbound").nik is None


async def test_console_item_page_and_list(provisioned: NATS, client_factory: Factory) -> None:
    anonymous = item("p-anon", reporter=who(True), text="Sampah menumpuk di pinggir kali")
    private = item("p-priv", reporter=who(False, EMAIL), text="Lampu jalan mati")
    anon_seq, priv_seq = await publish(provisioned, anonymous, private)
    client = client_factory()
    assert (await login(client, "lurah-gambir")).status_code == 303
    page = await client.get(f"/item/{anon_seq}")
    assert page.status_code == 200 and anonymous.ref in page.text
    assert shows_nobody(page.text) and "anonim" in page.text
    listing = await client.get(f"/q/{GAMBIR}")
    assert listing.status_code == 200 and shows_nobody(listing.text.replace(EMAIL, ""))
    assert anonymous.ref in listing.text
    own = await client.get(f"/item/{priv_seq}")  # private: its queue's admin sees who it is
    assert NAME in own.text and EMAIL in own.text and NIK in own.text
    other = client_factory()
    assert (await login(other, "lurah-kebon")).status_code == 303
    refused = await other.get(f"/item/{priv_seq}")
    assert refused.status_code == 403 and shows_nobody(refused.text)


async def test_inbox_text_and_json(provisioned: NATS, nats_url: str, tmp_path: Path) -> None:
    anonymous = item("p-in-anon", reporter=who(True))
    private = item("p-in-priv", reporter=who(False))
    await publish(provisioned, anonymous, private)
    nc, box = await _inbox(nats_url, GAMBIR, "lurah-gambir")
    try:
        first, second = await box.items()
    finally:
        await nc.close()
    assert shows_nobody(entry_text(first)) and "from: anonim" in entry_text(first)
    nothing_done = ItemState(item_id=first.stored.item.item_id)
    assert shows_nobody(json.dumps(entry_json(first, nothing_done)))
    assert NAME in entry_text(second) and PHONE in entry_text(second)
    assert NIK in json.dumps(entry_json(second, ItemState(item_id=second.stored.item.item_id)))
    toml = str(_write_config(tmp_path, nats_url))
    run = await asyncio.to_thread(_kanal, "inbox", GAMBIR, "--json", "--as", "lurah-gambir", "-c", toml)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    assert [x["ref"] for x in lines] == [anonymous.ref, private.ref]
    assert shows_nobody(json.dumps(lines[0])) and lines[0]["reporter"]["anonymous"] is True
    assert lines[1]["reporter"]["nik"] == NIK


async def test_crm_forwarder_payload(provisioned: NATS, config: Config) -> None:
    anonymous = item("p-crm-anon", reporter=who(True))
    private = item("p-crm-priv", reporter=who(False))
    await publish(provisioned, anonymous, private)
    async with running_crm() as crm:
        settings = ForwarderSettings(url=crm.url, auth_value=Secret(TOKEN), timeout=Duration(seconds=2),
                                     fetch_wait=Duration(seconds=0.2))
        fwd = Forwarder(config, settings, provisioned)
        await fwd.start()
        task = asyncio.create_task(fwd.run())
        try:
            await crm.wait(lambda: len(crm.stored) == 2)
        finally:
            fwd.stopping.set()
            await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)
            await fwd.close()
    sent_anon = crm.stored[anonymous.item_id]
    assert shows_nobody(sent_anon.decode()) and decode_routed(sent_anon).envelope.reporter.anonymous
    assert decode_routed(sent_anon).envelope.text == anonymous.envelope.text
    assert decode_routed(crm.stored[private.item_id]).envelope.reporter.nik == NIK


def test_outbound_message_carries_an_address_but_no_name_or_nik() -> None:
    routed = item("p-out", reporter=who(True), visibility="public")
    message = compose.for_routed(routed, OutboundSettings(quiet_hours=None), datetime.now(UTC))
    reply = message.reply_to.reporter
    assert reply.contact == PHONE and reply.display_name is None and reply.handle == HANDLE and reply.anonymous
    assert NAME not in message.text and message.public_allowed is False


@pytest.mark.parametrize("visibility", ["public", "private"])
async def test_app_status_api_logs_and_metrics(nats_url: str, visibility: str) -> None:
    taken = (datetime.now(UTC) - timedelta(minutes=5)).astimezone(ZoneInfo("Asia/Jakarta")).replace(tzinfo=None)
    out = io.StringIO()
    log.configure("debug", "json", stream=out)
    try:
        async with harness(app_spec, {"max_body_bytes": 2_000_000}, nats_url) as h:
            transport = httpx.ASGITransport(app=h.instance.app())
            async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
                sent = await client.post("/api/v1/reports", files=[("photos", ("a.jpg", jpeg(taken), "image/jpeg"))],
                                         data={"description": "Banjir setinggi lutut", "name": NAME,
                                               "phone": "081299887766", "email": EMAIL, "nik": NIK,
                                               "anonymous": "true", "visibility": visibility})
                assert sent.status_code == 201, sent.text
                (routed,) = await h.published()
                await record_reference(h.nc.jetstream(), routed)  # as the router does once it has routed it
                status = await client.get(sent.json()["status_url"])
                metrics = await client.get("/metrics")
            (env,) = await h.published()
    finally:
        log.configure("debug", "json")
    assert env.reporter.anonymous and env.reporter.contact == PHONE  # kept for the reply, shown to nobody
    assert status.status_code == 200 and shows_nobody(status.text)
    assert shows_nobody(metrics.text)
    assert "report_received" in out.getvalue() and shows_nobody(out.getvalue())

"""The Kannel endpoints over HTTP on a real nats-server: who may call, get-url and post-url, delivery reports."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from connectors.kannel import spec
from connectors.testkit import Harness, harness
from kanal import bus, log, sends
from schemas import subjects
from schemas.deadletter import decode_deadletter
from schemas.outbound import SendRecord
from tests.connectors.kannel.cases import CITIZEN_E164, CITY_E164, SECRET, query

SETTINGS: dict[str, Any] = {"secret": SECRET, "account": "08111272206", "allow_from": ["127.0.0.1", "10.8.0.0/24"]}
ITEM, MESSAGE = "0" * 31 + "1", "a" * 32


@asynccontextmanager
async def client_for(h: Harness, address: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=h.instance.app(), client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8086") as client:
        yield client


async def test_get_url_sms_is_published_once_and_answered_with_an_empty_body(nats_url: str) -> None:
    async with harness(spec, SETTINGS, nats_url) as h, client_for(h) as client:
        first = await client.get(f"/kannel/inbound?secret={SECRET}&{query()}")
        again = await client.get(f"/kannel/inbound?secret={SECRET}&{query()}")  # smsbox's http-request-retry
        published = await h.published()
        raw = await h.messages(f"{subjects.RAW_PREFIX}.>")
    assert (first.status_code, first.text, again.status_code) == (200, "", 200)
    [env] = published
    assert (env.account, env.reporter.contact, env.text) == (CITY_E164, CITIZEN_E164, "Jalan rusak di Kemang")
    assert SECRET.encode() not in raw[0]  # the secret is not kept with the raw request


async def test_post_url_with_headers_and_the_secret_in_a_header(nats_url: str) -> None:
    body = "Lampu jalan mati 😢 di Jl. Kemang".encode("utf-16-be")
    headers = {"X-Kanal-Secret": SECRET, "X-Kannel-To": "08111272206", "X-Kannel-Time": "1795488900",
               "X-Kannel-Coding": "2", "content-type": "text/plain; charset=UTF-16BE"}
    async with harness(spec, SETTINGS, nats_url) as h, client_for(h, "10.8.0.7") as client:
        answer = await client.post("/kannel/inbound?from=%2B6281298765432&id=f342144f-c724-40f0-96a7-53713523af7c",
                                   content=body, headers=headers)
        [env] = await h.published()
    assert answer.status_code == 200
    assert env.text == "Lampu jalan mati 😢 di Jl. Kemang" and env.reporter.contact == CITIZEN_E164


@pytest.mark.parametrize(("case", "reason"), [
    ("no_secret", "missing_secret"), ("wrong_secret", "bad_secret"), ("other_address", "address_not_allowed"),
    ("wrong_header", "bad_secret"),
])
async def test_callers_without_the_secret_or_from_elsewhere_get_403_and_publish_nothing(
        nats_url: str, case: str, reason: str) -> None:
    async with harness(spec, SETTINGS, nats_url) as h, \
            client_for(h, "192.0.2.9" if case == "other_address" else "127.0.0.1") as client:
        if case == "no_secret":
            answer = await client.get(f"/kannel/inbound?{query()}")
        elif case == "wrong_secret":
            answer = await client.get(f"/kannel/inbound?secret=kannel-test-secret-0123456780&{query()}")
        elif case == "wrong_header":
            answer = await client.get(f"/kannel/inbound?{query()}", headers={"X-Kanal-Secret": "x" * 20})
        else:
            answer = await client.get(f"/kannel/inbound?secret={SECRET}&{query()}")
        assert (answer.status_code, answer.text) == (403, f"refused: {reason}")
        assert await h.published() == []
        assert await h.messages(subjects.dlq("connector")) == []


async def test_a_request_without_sender_is_400_and_dead_lettered(nats_url: str) -> None:
    async with harness(spec, SETTINGS, nats_url) as h, client_for(h) as client:
        answer = await client.get(f"/kannel/inbound?secret={SECRET}&{query(**{'from': ''})}")
        letters = [decode_deadletter(m) for m in await h.messages(subjects.dlq("connector"))]
    assert answer.status_code == 400
    [letter] = letters
    assert letter.reason == "missing_field" and b"secret" not in letter.data


def _record(state: str = "sent") -> SendRecord:
    return SendRecord(message_id=MESSAGE, item_id=ITEM, purpose="ack", state=state,  # type: ignore[arg-type]
                      at=datetime.now(UTC), channel="kannel", instance="sms")


async def _dlr(client: httpx.AsyncClient, kind: str, reply: str = "") -> httpx.Response:
    return await client.get("/kannel/dlr", params={"secret": SECRET, "item": ITEM, "msg": MESSAGE, "type": kind,
                                                   "reply": reply, "at": "1795488960"})


async def test_delivery_reports_land_on_the_send_record_and_a_late_ack_does_not_undo_delivered(
        nats_url: str) -> None:
    async with harness(spec, SETTINGS, nats_url) as h, client_for(h) as client:
        kv = await bus.ensure_kv(h.nc.jetstream(), subjects.KV_OUTBOUND, history=5)
        await sends.write(kv, _record(), create=True)
        assert (await _dlr(client, "1", "id:42 stat:DELIVRD to 081298765432")).status_code == 200
        assert (await _dlr(client, "8", "ACK/")).status_code == 200  # the SMSC's ack, arriving late
        [record] = await sends.for_item(kv, ITEM)
        unknown = await client.get("/kannel/dlr", params={"secret": SECRET, "item": "f" * 32, "msg": MESSAGE,
                                                          "type": "1"})
        bad = await client.get("/kannel/dlr", params={"secret": SECRET, "item": ITEM, "msg": MESSAGE, "type": "3"})
        refused = await client.get("/kannel/dlr", params={"item": ITEM, "msg": MESSAGE, "type": "2"})
    assert (record.state, record.delivery, record.delivery_detail) == ("sent", "delivered",
                                                                        "id:42 stat:DELIVRD to <number>")
    assert record.delivery_at == datetime(2026, 11, 24, 2, 56, tzinfo=UTC)
    assert (unknown.status_code, bad.status_code, refused.status_code) == (200, 400, 403)


async def test_a_report_that_overtakes_the_sender_waits_for_its_record_to_settle(nats_url: str) -> None:
    async with harness(spec, SETTINGS, nats_url) as h, client_for(h) as client:
        kv = await bus.ensure_kv(h.nc.jetstream(), subjects.KV_OUTBOUND, history=5)
        revision = await sends.write(kv, _record("sending"), create=True)
        report = asyncio.create_task(_dlr(client, "1"))
        await asyncio.sleep(0.5)  # give the report a chance to (wrongly) write over `sending`
        assert not report.done()
        await sends.write(kv, _record("sent"), last=revision)  # the sender loop's compare-and-set succeeds
        assert (await report).status_code == 200
        [record] = await sends.for_item(kv, ITEM)
    assert (record.state, record.delivery) == ("sent", "delivered")


async def test_a_repeat_that_jetstream_drops_is_logged_as_duplicate(nats_url: str) -> None:
    out = io.StringIO()
    async with harness(spec, SETTINGS, nats_url) as h, client_for(h) as client:
        log.configure("debug", "json", stream=out)
        try:
            for _ in range(2):
                assert (await client.get(f"/kannel/inbound?secret={SECRET}&{query()}")).status_code == 200
        finally:
            log.configure("debug", "json")
        assert len(await h.published()) == 1
    accepted = [json.loads(line) for line in out.getvalue().splitlines() if '"envelope_accepted"' in line]
    assert [event["delivery"] for event in accepted] == ["acked", "duplicate"]

"""The Twilio webhook over HTTP on a real nats-server: signatures, TwiML, retries, media, bad requests."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from twilio.request_validator import RequestValidator

from connectors.testkit import Harness, harness
from connectors.twilio import spec
from connectors.twilio.connector import TwilioConnector
from connectors.twilio.settings import DEFAULT_ACK
from schemas import report_ref, subjects
from tests.conftest import shared_path
from tests.connectors.twilio.cases import NUMBER, sms, status, whatsapp, whatsapp_location
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, form, sign, twilio_media

PUBLIC = "https://kanal.jakarta.go.id/hooks/twilio/inbound"
SETTINGS: dict[str, Any] = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "account": NUMBER,
                            "public_url": "https://kanal.jakarta.go.id/hooks", "ack_template": DEFAULT_ACK}
FORM = {"content-type": "application/x-www-form-urlencoded"}


@asynccontextmanager
async def client_for(h: Harness) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=h.instance.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.7:8083") as client:
        yield client


async def post(client: httpx.AsyncClient, body: bytes, url: str = PUBLIC, token: str = AUTH_TOKEN,
               signature: str | None = None) -> httpx.Response:
    """POST as Twilio does: signed over the public URL and the form's fields."""
    sig = signature if signature is not None else sign(url, parse_qsl(body.decode(), keep_blank_values=True), token)
    return await client.post("/twilio/inbound", content=body, headers={**FORM, "X-Twilio-Signature": sig})


async def test_signed_sms_is_published_once_and_acknowledged_with_its_reference(nats_url: str) -> None:
    settings = {**SETTINGS, "ack_template": DEFAULT_ACK}  # an instance the notifier does not answer
    async with harness(spec, settings, nats_url) as h, client_for(h) as client:
        first = await post(client, sms())
        retry = await post(client, sms())  # Twilio retries after a timeout: same MessageSid
        published = await h.published()
    assert first.status_code == retry.status_code == 200
    assert first.headers["content-type"].startswith("application/xml")
    (env,) = published
    assert env.external_id == "SM0a1b2c3d4e5f60718293a4b5c6d7e8f9" and env.kind == "sms"
    assert first.text == retry.text == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Terima kasih, laporan Anda sudah kami terima '
        f"dengan nomor {report_ref(env.id)}.</Message></Response>")


async def test_whatsapp_location_and_sms_on_the_same_endpoint(nats_url: str) -> None:
    async with harness(spec, SETTINGS, nats_url) as h, client_for(h) as client:
        for body in (whatsapp(), whatsapp_location(), sms()):
            assert (await post(client, body)).status_code == 200
        published = await h.published()
    assert [e.kind for e in published] == ["direct_message", "direct_message", "sms"]
    assert published[1].location is not None and published[1].location.address
    assert published[1].reporter.contact == "+6281298765432"


async def test_custom_and_empty_ack_templates(nats_url: str) -> None:
    async with harness(spec, {**SETTINGS, "ack_template": "Nomor laporan: {ref} 👍 {x}"}, nats_url) as h, \
            client_for(h) as client:
        text = (await post(client, sms())).text
    assert re.search(r"<Message>Nomor laporan: KNL-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4} 👍 \{x\}</Message>", text)
    async with harness(spec, {**SETTINGS, "ack_template": ""}, nats_url) as h, client_for(h) as client:
        response = await post(client, sms())
        assert len(await h.published()) == 1
    assert response.text == '<?xml version="1.0" encoding="UTF-8"?><Response />'


async def test_status_callback_is_200_empty_twiml_and_publishes_nothing(nats_url: str) -> None:
    async with harness(spec, SETTINGS, nats_url) as h, client_for(h) as client:
        response = await post(client, status())
        metrics = (await client.get("/metrics")).text
        assert await h.published() == []
    assert response.status_code == 200 and response.text.endswith("<Response />")
    assert 'reason="status_callback"} 1.0' in metrics


@pytest.mark.parametrize("case", ["wrong_token", "missing", "tampered_body", "other_url", "garbage"])
async def test_bad_signatures_are_403_and_publish_nothing(nats_url: str, case: str) -> None:
    body = sms()
    async with harness(spec, SETTINGS, nats_url) as h, client_for(h) as client:
        if case == "wrong_token":
            response = await post(client, body, token="not-the-auth-token")
        elif case == "missing":
            response = await client.post("/twilio/inbound", content=body, headers=FORM)
        elif case == "tampered_body":
            sig = sign(PUBLIC, parse_qsl(body.decode(), keep_blank_values=True))
            response = await post(client, body.replace(b"Kemang", b"Menteng"), signature=sig)
        elif case == "other_url":
            response = await post(client, body, url="https://attacker.example/twilio/inbound")
        else:
            response = await post(client, b"Body=\xff&MessageSid=SM1", signature="AAAA")
        assert response.status_code == 403
        assert await h.published() == []
        assert await h.messages(subjects.dlq("connector")) == []


async def test_other_account_is_403(nats_url: str) -> None:
    body = sms(AccountSid="AC00000000000000000000000000000000")
    async with harness(spec, SETTINGS, nats_url) as h, client_for(h) as client:
        assert (await post(client, body)).status_code == 403
        assert await h.published() == []


async def test_url_without_public_url_is_the_request_url(nats_url: str) -> None:
    settings = {k: v for k, v in SETTINGS.items() if k != "public_url"}
    async with harness(spec, settings, nats_url) as h, client_for(h) as client:
        assert (await post(client, sms())).status_code == 403  # signed for the public URL, seen as 10.0.0.7
        ok = await post(client, sms(), url="http://10.0.0.7:8083/twilio/inbound")
        assert ok.status_code == 200 and len(await h.published()) == 1


async def test_signed_but_malformed_is_400_and_dead_lettered(nats_url: str) -> None:
    body = form({"AccountSid": ACCOUNT_SID, "From": "+6281234567890", "Body": "tanpa MessageSid"})
    async with harness(spec, SETTINGS, nats_url) as h, client_for(h) as client:
        response = await post(client, body)
        letters = [json.loads(m) for m in await h.messages(subjects.dlq("connector"))]
        assert await h.published() == []
    assert response.status_code == 400 and "missing_field" in response.text
    assert [x["reason"] for x in letters] == ["missing_field"]


async def test_media_is_downloaded_with_account_credentials_into_the_object_store(nats_url: str) -> None:
    photo = b"\xff\xd8\xff\xe0\x00\x10JFIF fake jpeg of a flooded street"
    async with twilio_media() as fake, harness(spec, SETTINGS, nats_url) as h, client_for(h) as client:
        fake.media["ME5f0afa2336bd0f73ca553fb5a2e3150b"] = (photo, "image/jpeg")
        fake.media["ME0c1d"] = (b"%PDF-1.4 surat", "application/pdf")
        sid = "MM21151abfaadc1fb79b782f8460862a52"
        body = whatsapp(sid=sid, body="Foto banjir", media=[
            (fake.url(sid, "ME5f0afa2336bd0f73ca553fb5a2e3150b"), "image/jpeg"),
            (fake.url(sid, "ME0c1d"), "application/pdf"),
            (fake.url(sid, "MEgone"), "image/png")])
        assert (await post(client, body)).status_code == 200
        (env,) = await h.published()
        image, pdf, gone = env.attachments
        assert image.kind == "image" and image.object_key and image.size == len(photo)
        assert await h.instance.media.get(image.object_key) == photo
        assert pdf.kind == "document" and pdf.object_key
        assert gone.object_key is None and gone.error and "http_404" in gone.error


async def test_media_without_credentials_is_recorded_as_failed(nats_url: str) -> None:
    settings = {**SETTINGS, "auth_token": AUTH_TOKEN}
    async with twilio_media() as fake, harness(spec, settings, nats_url) as h:
        fake.auth_token = "rotated-token"
        connector = h.instance.connector
        assert isinstance(connector, TwilioConnector)
        accepted = await connector.take(whatsapp(media=[(fake.url("MM1", "ME1"), "image/jpeg")]), NUMBER,
                                          "application/x-www-form-urlencoded")
        (attachment,) = accepted.envelopes[0].attachments
        (stored,) = (await h.published())[0].attachments
    assert attachment.source_url and stored.error and "http_401" in stored.error


def test_twilio_library_vectors_pass_our_verifier(tmp_path: Path) -> None:
    vectors = json.loads(shared_path("samples", "twilio", "twilio_request_validator_vectors.json").read_text())
    token = vectors["auth_token"]
    basic = next(v for v in vectors["vectors"] if v["name"] == "form_params_basic")
    pairs = list(basic["params"].items())
    connector = _verifier(token)
    for vector in vectors["vectors"]:
        url = vector.get("url") or vector["request_url"]
        if "body" in vector:  # JSON bodies are signed over the URL with bodySHA256; Twilio sends forms here
            assert RequestValidator(token).validate(url, vector["body"], vector["expected_signature"])
            continue
        params = (vector["params_multi"] if "params_multi" in vector
                  else pairs if vector.get("params") in (None, "same as form_params_basic") else
                  list(vector["params"].items()))
        signature = vector.get("expected_signature") or vector["expected_signature_supplied"]
        assert connector.verify(url, params, signature) is vector.get("expected_valid", True), vector["name"]
        if "params_multi" in vector:
            raw = vector["raw_query_form"].encode()
            assert connector.verify(url, parse_qsl(raw.decode(), keep_blank_values=True), signature)


def _verifier(token: str) -> TwilioConnector:
    connector = TwilioConnector.__new__(TwilioConnector)
    connector.validator = RequestValidator(token)
    return connector


@pytest.mark.parametrize(("outbound", "acknowledged"), [
    ({}, False),  # the notifier is on by default and answers Twilio: one acknowledgement, from it
    ({"channels": ["telegram"]}, True),
    ({"enabled": False}, True),
])
async def test_twiml_acknowledgement_is_off_by_default_while_the_notifier_answers(
        tmp_path: Path, outbound: dict[str, Any], acknowledged: bool) -> None:
    from connectors.runtime import Instance
    from kanal.testing import make_config

    settings = {k: v for k, v in SETTINGS.items() if k != "ack_template"}
    config = make_config("nats://127.0.0.1:1", tmp_path, outbound=outbound,
                         connectors={"tw": {"channel": "twilio", **settings}})
    instance = Instance(config, "tw")  # not connected: what it accepts is kept in its spool
    try:
        transport = httpx.ASGITransport(app=instance.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.7:8083") as client:
            response = await post(client, sms())
    finally:
        instance.spool.close()
    assert response.status_code == 200 and instance.spool.depth == 2  # the raw payload and the envelope
    assert ("<Message>Terima kasih" in response.text) is acknowledged, response.text

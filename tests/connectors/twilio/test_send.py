"""Twilio replies: the exact Messages API requests (path, basic auth, From/To/Body) on a local Twilio fake."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from connectors.errors import PermanentError, RateLimited, TransientError
from connectors.outbound.sender import SendRefused
from connectors.testkit import harness
from connectors.twilio import spec
from connectors.twilio.connector import TwilioConnector
from tests.connectors.twilio.cases import CITIZEN, NUMBER, sms, whatsapp
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioMedia, twilio_error, twilio_media
from tests.notifier.messages import ack, final, normalised

BASIC = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


@asynccontextmanager
async def connector(nats_url: str, **overrides: object) -> AsyncIterator[tuple[TwilioConnector, TwilioMedia]]:
    async with twilio_media() as fake:
        settings = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "account": NUMBER,
                    "api_base_url": fake.base_url, **overrides}
        async with harness(spec, settings, nats_url) as h:
            assert isinstance(h.instance.connector, TwilioConnector)
            yield h.instance.connector, fake


async def test_sms_report_is_answered_by_sms_from_the_instance_number(nats_url: str) -> None:
    [env] = normalised(spec, sms(), NUMBER)
    async with connector(nats_url) as (twilio, fake):
        sent = await twilio.send(ack(env))
        await twilio.send(final(env))
    assert sent.provider_id == "SM" + "1".zfill(32)
    first, second = fake.sent
    assert (first.method, first.path, first.authorization) == ("POST", PATH, BASIC)
    assert first.content_type.startswith("application/x-www-form-urlencoded")
    assert first.fields["From"] == NUMBER and first.fields["To"] == CITIZEN
    assert env.ref in first.fields["Body"] and first.fields["Body"].startswith("Terima kasih")
    assert "Selesai" in second.fields["Body"] and "Sudah diperbaiki." in second.fields["Body"]


async def test_whatsapp_report_is_answered_on_whatsapp(nats_url: str) -> None:
    [env] = normalised(spec, whatsapp(), NUMBER)
    async with connector(nats_url) as (twilio, fake):
        fake.customer_wrote(f"whatsapp:{CITIZEN}", env.created_at)
        await twilio.send(ack(env))
    [request] = fake.sent
    assert request.fields["From"] == f"whatsapp:{NUMBER}"
    assert request.fields["To"] == f"whatsapp:{CITIZEN}"


async def test_whatsapp_window_closed_after_24_hours_sends_nothing(nats_url: str) -> None:
    [env] = normalised(spec, whatsapp(), NUMBER, received_at=datetime.now(UTC) - timedelta(hours=25))
    [fresh] = normalised(spec, sms(), NUMBER, received_at=datetime.now(UTC) - timedelta(hours=25))
    async with connector(nats_url) as (twilio, fake):
        with pytest.raises(SendRefused, match="whatsapp_24h_window_closed"):
            await twilio.send(ack(env))
        await twilio.send(ack(fresh))  # SMS has no such window
    assert [r.fields["To"] for r in fake.sent] == [CITIZEN]


@pytest.mark.parametrize(("answer", "error", "text"), [
    (twilio_error(21610, f"Attempt to send to unsubscribed recipient {CITIZEN}"), SendRefused, "twilio_error_21610"),
    (twilio_error(63016, "Failed to send freeform message because you are outside the allowed window."),
     SendRefused, "twilio_error_63016"),
    (twilio_error(20429, "Too Many Requests", 429), RateLimited, "rate limit"),
    (twilio_error(20500, "Internal Server Error", 500), TransientError, "answered 500"),
    (twilio_error(20003, "Authenticate", 401), PermanentError, "credentials"),
])
async def test_provider_errors_map_to_what_the_sender_loop_does(
        nats_url: str, answer: tuple[int, dict[str, object]], error: type[Exception], text: str) -> None:
    [env] = normalised(spec, sms(), NUMBER)
    async with connector(nats_url) as (twilio, fake):
        fake.errors.append(answer)
        with pytest.raises(error, match=text) as raised:
            await twilio.send(ack(env))
    assert len(fake.sent) == 1
    assert CITIZEN not in str(raised.value), "phone numbers never reach send records or logs"
    if isinstance(raised.value, PermanentError):
        assert raised.value.credentials


async def test_wrong_auth_token_is_a_credentials_error(nats_url: str) -> None:
    [env] = normalised(spec, sms(), NUMBER)
    async with connector(nats_url, auth_token="not-the-twilio-auth-token") as (twilio, fake):
        with pytest.raises(PermanentError) as raised:
            await twilio.send(ack(env))
    assert raised.value.credentials
    assert fake.sent[0].authorization != BASIC


async def test_unreachable_api_is_transient(nats_url: str) -> None:
    [env] = normalised(spec, sms(), NUMBER)
    async with connector(nats_url, api_base_url="http://127.0.0.1:9") as (twilio, _fake):
        with pytest.raises(TransientError, match="unreachable"):
            await twilio.send(ack(env))


async def test_without_account_sid_replies_are_a_config_error(nats_url: str) -> None:
    [env] = normalised(spec, sms(), NUMBER)
    async with connector(nats_url, account_sid="") as (twilio, fake):
        with pytest.raises(PermanentError, match="account_sid"):
            await twilio.send(ack(env))
    assert fake.sent == []

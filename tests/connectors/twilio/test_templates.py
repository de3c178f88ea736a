"""Twilio WhatsApp templates: ContentSid and ContentVariables outside the 24-hour window (from the reporter's latest
message), and Twilio's template errors, on the local Twilio fake that enforces the rule (error 63016)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from connectors.outbound.whatsapp import TemplateRefused
from connectors.twilio import spec
from schemas import Envelope
from schemas.outbound import OutboundMessage
from tests.connectors.twilio.cases import CITIZEN, NUMBER, whatsapp
from tests.connectors.twilio.test_send import connector
from tests.notifier.messages import final, normalised

FINAL = "HX" + "1f" * 16
ACK = "HX" + "2e" * 16
LINK = "https://kanal.example.go.id/laporan/{ref}"
TEMPLATES = {"ack": {"id": {"content_sid": ACK, "parameters": ["ref", "status_url"]}},
             "final": {"id": {"content_sid": FINAL, "parameters": ["ref", "status_url"]}}}
REPORTER = f"whatsapp:{CITIZEN}"


def report(age: timedelta) -> Envelope:
    [env] = normalised(spec, whatsapp(), NUMBER, received_at=datetime.now(UTC) - age)
    return env


def stamped(message: OutboundMessage, last_inbound: datetime | None = None) -> OutboundMessage:
    return msgspec.structs.replace(message, last_inbound_at=last_inbound, status_url=LINK.format(ref=message.ref))


async def test_four_days_later_the_final_word_goes_as_the_content_template(nats_url: str) -> None:
    env = report(timedelta(days=4))
    async with connector(nats_url, whatsapp_templates=TEMPLATES) as (twilio, fake):
        fake.customer_wrote(REPORTER, env.created_at)
        fake.content(FINAL, variables=2)
        sent = await twilio.send(stamped(final(env)))
    [request] = fake.sent
    assert request.fields["From"] == f"whatsapp:{NUMBER}" and request.fields["To"] == REPORTER
    assert request.fields["ContentSid"] == FINAL and "Body" not in request.fields
    assert json.loads(request.fields["ContentVariables"]) == {"1": env.ref, "2": LINK.format(ref=env.ref)}
    assert sent.template == "final/id" and sent.provider_id is not None and sent.provider_id.startswith("SM")


async def test_inside_the_window_of_the_latest_message_free_text_goes(nats_url: str) -> None:
    env = report(timedelta(days=4))
    wrote = datetime.now(UTC) - timedelta(hours=3)
    async with connector(nats_url, whatsapp_templates=TEMPLATES) as (twilio, fake):
        fake.customer_wrote(REPORTER, wrote)
        sent = await twilio.send(stamped(final(env), last_inbound=wrote))
    [request] = fake.sent
    assert "Selesai" in request.fields["Body"] and "ContentSid" not in request.fields
    assert sent.template is None


async def test_free_text_twilio_finds_outside_the_window_is_refused_with_63016(nats_url: str) -> None:
    env = report(timedelta(hours=1))
    async with connector(nats_url, whatsapp_templates=TEMPLATES) as (twilio, fake):
        fake.customer_wrote(REPORTER, datetime.now(UTC) - timedelta(hours=26))
        with pytest.raises(TemplateRefused, match=r"whatsapp_24h_window_closed.*twilio_error_63016") as raised:
            await twilio.send(stamped(final(env)))
    assert len(fake.sent) == 1
    assert CITIZEN not in raised.value.reason


@pytest.mark.parametrize(("register", "reason"), [
    ({"variables": 3}, "whatsapp_template_params.*63028"),
    ({"variables": 2, "whatsapp": "rejected"}, "whatsapp_template_missing.*63027"),
    (None, "whatsapp_template_missing.*21655"),
])
async def test_template_errors_are_refusals_with_what_to_do(nats_url: str, register: dict[str, object] | None,
                                                            reason: str) -> None:
    env = report(timedelta(days=4))
    async with connector(nats_url, whatsapp_templates=TEMPLATES) as (twilio, fake):
        if register is not None:
            fake.content(FINAL, **register)  # type: ignore[arg-type]
        with pytest.raises(TemplateRefused, match=reason):
            await twilio.send(stamped(final(env)))
    assert len(fake.sent) == 1, "one call: a refused template is not retried"


async def test_without_a_template_for_the_kind_nothing_is_sent(nats_url: str) -> None:
    env = report(timedelta(days=4))
    async with connector(nats_url) as (twilio, fake):
        with pytest.raises(TemplateRefused, match="no WhatsApp template configured"):
            await twilio.send(stamped(final(env)))
    assert fake.sent == []

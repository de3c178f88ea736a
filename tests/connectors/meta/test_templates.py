"""WhatsApp Cloud API templates: the window from the reporter's latest message, the exact template request, and
Meta's template errors, on the local Graph fake that enforces the 24-hour rule (error 131047)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from connectors.outbound.whatsapp import TemplateRefused
from schemas.outbound import OutboundMessage
from tests.connectors.meta import bodies as b
from tests.connectors.meta.test_send import WHATSAPP, connector, report
from tests.fakes.meta import VERSION
from tests.notifier.messages import ack, final

LINK = "https://kanal.example.go.id/laporan/{ref}"
TEMPLATES = {
    "ack": {"id": {"name": "kanal_laporan_diterima", "language": "id", "parameters": ["ref", "status_url"]}},
    "status": {"id": {"name": "kanal_status_laporan", "language": "id", "parameters": ["ref", "stage"]}},
    "final": {"id": {"name": "kanal_laporan_selesai", "language": "id", "parameters": ["ref", "status_url"]},
              "en": {"name": "kanal_report_resolved", "language": "en_US", "parameters": ["ref"]}},
}


def stamped(message: OutboundMessage, last_inbound: datetime | None = None) -> OutboundMessage:
    """The message as the notifier queues it: the reporter's latest message and the status link stamped on."""
    return msgspec.structs.replace(message, last_inbound_at=last_inbound, status_url=LINK.format(ref=message.ref))


async def test_four_days_after_the_report_the_final_word_goes_as_the_approved_template(nats_url: str) -> None:
    env = report(WHATSAPP, age=timedelta(days=4))
    message = stamped(final(env))
    async with connector(nats_url, whatsapp_templates=TEMPLATES) as (meta, graph):
        graph.customer_wrote(b.WA_ID, env.created_at)
        graph.approve("kanal_laporan_selesai", "id", body_params=2)
        sent = await meta.send(message)
    [post] = graph.sent
    assert post.path == f"/{VERSION}/{b.PHONE}/messages"
    assert post.body == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": b.WA_ID, "type": "template",
        "template": {"name": "kanal_laporan_selesai", "language": {"code": "id"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": env.ref},
                                            {"type": "text", "text": LINK.format(ref=env.ref)}]}]}}
    assert sent.template == "final/id" and sent.provider_id is not None


async def test_the_window_runs_from_the_reporters_latest_message_not_the_report(nats_url: str) -> None:
    env = report(WHATSAPP, age=timedelta(days=3))
    wrote = datetime.now(UTC) - timedelta(hours=2)
    async with connector(nats_url, whatsapp_templates=TEMPLATES) as (meta, graph):
        graph.customer_wrote(b.WA_ID, wrote)
        sent = await meta.send(stamped(final(env), last_inbound=wrote))
    [post] = graph.sent
    assert post.body["type"] == "text" and sent.template is None


async def test_a_stage_update_uses_the_stage_label(nats_url: str) -> None:
    env = report(WHATSAPP, age=timedelta(days=2))
    update = msgspec.structs.replace(stamped(final(env)), purpose="status", stage="tindak_lanjut")
    async with connector(nats_url, whatsapp_templates=TEMPLATES) as (meta, graph):
        graph.approve("kanal_status_laporan", "id", body_params=2)
        await meta.send(update)
    [post] = graph.sent
    assert post.body["template"] == {"name": "kanal_status_laporan", "language": {"code": "id"}, "components": [
        {"type": "body", "parameters": [{"type": "text", "text": env.ref}, {"type": "text", "text": "Tindak Lanjut"}]}]}


async def test_an_english_speaking_reporter_gets_the_english_template(nats_url: str) -> None:
    env = msgspec.structs.replace(report(WHATSAPP, age=timedelta(days=4)), language="en")
    async with connector(nats_url, whatsapp_templates=TEMPLATES) as (meta, graph):
        graph.approve("kanal_report_resolved", "en_US", body_params=1)
        sent = await meta.send(stamped(final(env)))
    assert graph.sent[0].body["template"] == {
        "name": "kanal_report_resolved", "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": env.ref}]}]}
    assert sent.template == "final/en"


async def test_without_a_template_for_the_kind_nothing_is_sent(nats_url: str) -> None:
    env = report(WHATSAPP, age=timedelta(days=4))
    async with connector(nats_url) as (meta, graph):
        with pytest.raises(TemplateRefused, match="no WhatsApp template configured for final"):
            await meta.send(stamped(final(env)))
    assert graph.sent == []


async def test_free_text_the_fake_finds_outside_the_window_is_refused_with_131047(nats_url: str) -> None:
    """Meta's own reckoning decides, as the real API's does: free text the sender thought in time still meets
    131047 when Meta counts more than 24 hours, and it is a template refusal (fallback, no retry)."""
    env = report(WHATSAPP)
    async with connector(nats_url, whatsapp_templates=TEMPLATES) as (meta, graph):
        graph.customer_wrote(b.WA_ID, datetime.now(UTC) - timedelta(hours=30))
        with pytest.raises(TemplateRefused, match=r"whatsapp_24h_window_closed.*graph_error_131047"):
            await meta.send(stamped(ack(env)))
    assert len(graph.sent) == 1


@pytest.mark.parametrize(("status", "params", "name", "reason"), [
    ("PAUSED", 2, "kanal_laporan_selesai", "whatsapp_template_paused.*132015"),
    ("DISABLED", 2, "kanal_laporan_selesai", "whatsapp_template_disabled.*132016"),
    ("APPROVED", 3, "kanal_laporan_selesai", "whatsapp_template_params.*132000"),
    ("APPROVED", 2, "another_template", "whatsapp_template_missing.*132001"),
])
async def test_template_errors_are_refusals_with_what_to_do(nats_url: str, status: str, params: int, name: str,
                                                            reason: str) -> None:
    env = report(WHATSAPP, age=timedelta(days=4))
    async with connector(nats_url, whatsapp_templates=TEMPLATES) as (meta, graph):
        graph.approve(name, "id", body_params=params, status=status)
        with pytest.raises(TemplateRefused, match=reason) as raised:
            await meta.send(stamped(final(env)))
    assert len(graph.sent) == 1, "one call: a refused template is not retried"
    assert b.WA_ID not in raised.value.reason

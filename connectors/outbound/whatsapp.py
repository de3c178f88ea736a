"""WhatsApp's 24-hour customer-service window and the approved templates sent outside it (Meta and Twilio).

Inside the window (24 h from the reporter's latest inbound message on the conversation, stamped by the notifier
as `OutboundMessage.last_inbound_at`) a reply is free text. Outside it WhatsApp accepts only a template that Meta
has approved, so each WhatsApp sender's config names one per message kind and language, with the order of its
body parameters. A template the provider refuses (not approved, paused, wrong parameter count) is a
`TemplateRefused`: recorded on the item, never retried, and handed to the fallback channel when one is set.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from connectors.outbound.sender import SendRefused
from connectors.outbound.templates import Templates, WhatsAppTemplate
from schemas.outbound import OutboundMessage
from schemas.status import STAGES

WINDOW = timedelta(hours=24)
_LABELS: dict[str, str] = {info.stage: info.label for info in STAGES}
# A duplicate notice without its own template goes as the acknowledgement's (both carry the reference).
_SUBSTITUTE = {"duplicate": "ack"}


class TemplateRefused(SendRefused):
    """The provider would not send the template (or none is configured): fall back, never retry."""

    fallback_ok = True


def last_inbound(message: OutboundMessage) -> datetime:
    """When the reporter last wrote on this conversation: the notifier's stamp, else the report itself."""
    stamp = message.last_inbound_at
    created = message.reply_to.created_at
    return stamp if stamp is not None and stamp > created else created


def window_open(message: OutboundMessage, now: datetime) -> bool:
    """Whether free text may still go (WhatsApp's customer-service window)."""
    return now - last_inbound(message) <= WINDOW


def choose(templates: Templates, message: OutboundMessage) -> tuple[str, WhatsAppTemplate]:
    """The template for this message's kind in the reporter's language (else Indonesian, else the first one
    configured), with a label for records ("<kind>/<language>"); TemplateRefused when none is configured."""
    purpose = message.purpose
    by_language = templates.get(purpose) or templates.get(_SUBSTITUTE.get(purpose, ""), {})
    if not by_language:
        raise TemplateRefused(f"whatsapp_24h_window_closed: no WhatsApp template configured for {purpose}; "
                              f"name an approved one in whatsapp_templates.{purpose}.<language>")
    wanted = (message.reply_to.language or "").split("-")[0].lower()
    for language in (wanted, "id"):
        if language in by_language:
            return f"{purpose}/{language}", by_language[language]
    language, template = next(iter(by_language.items()))
    return f"{purpose}/{language}", template


def values(template: WhatsAppTemplate, message: OutboundMessage) -> list[str]:
    """The body parameters' values, in the template's order (the reference, the stage's label, the link)."""
    found = {"ref": message.ref, "stage": _LABELS.get(message.stage or "", message.stage or ""),
             "status_url": message.status_url or ""}
    return [found[p] for p in template.parameters]

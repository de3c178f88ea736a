"""The `whatsapp_templates` setting of WhatsApp senders (Meta, Twilio): plain data, importable without them.

Its checks serve `kanal doctor`; connectors/outbound/whatsapp.py chooses and fills a template at send time.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Parameter = Literal["ref", "stage", "status_url"]
KINDS = ("ack", "duplicate", "status", "final")


class WhatsAppTemplate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One approved template. Meta: `name` and `language` (its code, e.g. "id" or "en_US"). Twilio: the Content
    template's `content_sid` (HX...). `parameters`: what fills body placeholders {{1}}, {{2}}, ... in order."""

    name: str = ""
    language: str = ""
    content_sid: str = ""
    parameters: list[Parameter] = []


# purpose ("ack", "duplicate", "status", "final") -> language ("id", "en") -> template
Templates = dict[str, dict[str, WhatsAppTemplate]]


def problems(templates: Templates, provider: Literal["meta", "twilio"]) -> list[str]:
    """What is wrong with a `whatsapp_templates` table, for `kanal doctor` (empty when nothing is)."""
    found: list[str] = []
    kinds = set(KINDS)
    for purpose, by_language in templates.items():
        if purpose not in kinds:
            found.append(f"whatsapp_templates.{purpose}: not a message kind (use {', '.join(sorted(kinds))})")
        for language, template in by_language.items():
            where = f"whatsapp_templates.{purpose}.{language}"
            if provider == "meta" and not (template.name and template.language):
                found.append(f"{where}: Meta needs the approved template's name and language code")
            if provider == "twilio" and not (template.content_sid.startswith("HX") and len(template.content_sid) == 34):
                found.append(f"{where}: Twilio needs the Content template's content_sid (HX + 32 hex digits)")
            if any(template.parameters.count(p) > 1 for p in template.parameters):
                found.append(f"{where}: a parameter is listed twice")
    for purpose in ("ack", "status", "final"):
        if purpose not in templates:
            found.append(f"whatsapp_templates.{purpose}: not set; such messages to reporters who last wrote more "
                         "than 24 hours ago are not sent on WhatsApp")
    return found

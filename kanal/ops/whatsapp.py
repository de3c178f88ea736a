"""`kanal doctor`'s WhatsApp checks: templates configured for messages outside the 24-hour window, the SMS
fallback instance, and the latest template outcome each sender recorded (a refused template: not approved,
paused, disabled, wrong parameters)."""

from __future__ import annotations

from typing import Any, Literal

from nats.aio.client import Client as NATS
from nats.js.errors import BucketNotFoundError, NotFoundError

from connectors.outbound import fallback
from connectors.outbound.templates import problems
from kanal import localtime, sends
from kanal.config import Config
from schemas import subjects

Level = Literal["ok", "warn", "fail"]


def senders(resolved: list[Any]) -> list[tuple[str, Literal["meta", "twilio"], Any]]:
    """(instance, provider, settings) of each instance that sends WhatsApp: Meta with WhatsApp numbers, Twilio
    with templates or a fallback configured (a Twilio number may be SMS only)."""
    found: list[tuple[str, Literal["meta", "twilio"], Any]] = []
    for r in resolved:
        s = r.settings
        if r.spec.id == "meta" and getattr(s, "phone_number_ids", None):
            found.append((r.instance, "meta", s))
        elif r.spec.id == "twilio" and (getattr(s, "whatsapp_templates", None) or getattr(s, "whatsapp_fallback", "")):
            found.append((r.instance, "twilio", s))
    return found


def check_config(config: Config, resolved: list[Any]) -> list[tuple[Level, str, str, str]]:
    """(level, check, message, fix) for each WhatsApp sender's templates and fallback."""
    out: list[tuple[Level, str, str, str]] = []
    for instance, provider, settings in senders(resolved):
        where = f"whatsapp {instance}"
        fix = f"name approved templates in [connectors.{instance}.whatsapp_templates.<kind>.<language>] " \
              "(docs/reporter-loop.md, WhatsApp templates)"
        templates = settings.whatsapp_templates
        found = problems(templates, provider)
        wrong = [p for p in found if "not set" not in p]
        if not templates:
            out.append(("warn", where, "no whatsapp_templates: reporters who last wrote more than 24 hours ago get "
                        "no stage updates or final word on WhatsApp", fix))
        elif wrong:
            out.append(("fail", where, "; ".join(wrong), fix))
        else:
            missing = [p for p in found if "not set" in p]
            out.append(("warn" if missing else "ok", where,
                        "; ".join(missing) if missing else f"templates for {', '.join(sorted(templates))}", fix))
        name = settings.whatsapp_fallback
        if name:
            try:
                target = fallback.target(config.connectors, instance, name)
            except ValueError as err:
                out.append(("fail", where, str(err), f"set whatsapp_fallback in [connectors.{instance}] to a Kannel "
                            "or Twilio instance that has `account`"))
            else:
                channel = target[0] if target else ""
                out.append(("ok", where, f"messages WhatsApp refuses go by SMS through {name} ({channel})", ""))
    return out


async def check_outcomes(nc: NATS, resolved: list[Any]) -> list[tuple[Level, str, str, str]]:
    """The latest template outcome each WhatsApp sender recorded (KV `kanal_outbound`, `whatsapp.<instance>`)."""
    names = [instance for instance, _, _ in senders(resolved)]
    if not names:
        return []
    try:
        kv = await nc.jetstream(timeout=2).key_value(subjects.KV_OUTBOUND)
    except (BucketNotFoundError, NotFoundError):
        return [("ok", f"whatsapp {name}", "no message sent yet", "") for name in names]
    out: list[tuple[Level, str, str, str]] = []
    for instance in names:
        note = await sends.template_note(kv, instance)
        where = f"whatsapp {instance}"
        if note is None:
            out.append(("ok", where, "no template sent yet", ""))
        elif note.ok:
            out.append(("ok", where, f"last template ({note.template}) sent {localtime.wib(note.at)}", ""))
        else:
            out.append(("fail", where, f"template refused {localtime.wib(note.at)}: {note.reason}",
                        "fix the template in WhatsApp Manager or Twilio's Content editor, or name another in "
                        f"[connectors.{instance}.whatsapp_templates]; affected messages are on each item's page"))
    return out

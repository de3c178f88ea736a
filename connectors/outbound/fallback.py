"""The fallback channel: a WhatsApp message that cannot go (template refused or missing) goes by SMS instead.

Pure: the SMS twin of a message, addressed to the same number through another connector instance (Kannel or
Twilio SMS, `whatsapp_fallback` in the WhatsApp instance's config). The sender loop publishes it on that
instance's outbound subject; that instance records its own send, under the same item.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from kanal.phone import e164
from schemas.outbound import Addressee, OutboundMessage, outbound_id

SMS_CHANNELS = ("kannel", "twilio")


def target(connectors: Mapping[str, Mapping[str, Any]], instance: str, name: str) -> tuple[str, str] | None:
    """(channel, instance) of the fallback `name` configured on `instance` (None when empty; a Twilio instance may
    name itself: its WhatsApp messages then go as SMS from the same number); ValueError saying what to fix when
    it names no SMS instance, or one without the number to send from."""
    if not name:
        return None
    section = connectors.get(name)
    channel = section.get("channel") if section is not None else None
    if channel not in SMS_CHANNELS:
        raise ValueError(f"config key 'connectors.{instance}.whatsapp_fallback': {name!r} is not a configured "
                         f"SMS instance (a [connectors.<name>] of channel {' or '.join(SMS_CHANNELS)})")
    if not (section or {}).get("account") and not (section or {}).get("sender"):
        raise ValueError(f"config key 'connectors.{name}.account': required when {instance} falls back to it "
                         "(the number the SMS goes from)")
    return str(channel), name


def number(message: OutboundMessage) -> str | None:
    """The reporter's phone number in E.164, when the WhatsApp address is one (a username or a business-scoped
    user id is not)."""
    reporter = message.reply_to.reporter
    for candidate in (reporter.contact, reporter.handle):
        if candidate:
            found = e164(candidate.removeprefix("whatsapp:"), "ID")
            if found is not None:
                return found
    return None


def by_sms(message: OutboundMessage, channel: str, instance: str) -> OutboundMessage | None:
    """The same words as an SMS through `channel`/`instance`, or None when the reporter has no phone number.

    Its id is derived from the original's, so a redelivered original hands over the same SMS only once.
    """
    to = number(message)
    if to is None:
        return None
    address = msgspec.structs.replace(
        message.reply_to, channel=channel, instance=instance, kind="sms", flags=(), thread=None,
        reporter=Addressee(contact=to, anonymous=message.reply_to.reporter.anonymous))
    return msgspec.structs.replace(message, id=outbound_id(message.item_id, message.purpose,
                                                           f"{message.stage or ''}\x1ffallback"),
                                   reply_to=address, public_allowed=False)

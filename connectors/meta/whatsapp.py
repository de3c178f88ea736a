"""Pure mapping of object=whatsapp_business_account (Cloud API) `messages` changes: who wrote, where, and when.

A sender is known by what WhatsApp gives: the phone number in `from` (`contacts[].wa_id`), and/or the
business-scoped user id (BSUID: `from_user_id`, `contacts[].user_id`, like `ID.1502576394655843`) that a
user with a WhatsApp username may be known by alone. Only a valid phone number (`kanal.phone.e164`) becomes
`Reporter.contact`; the BSUID is `Reporter.user_id`; a sender that is neither is dead-lettered.
"""

from __future__ import annotations

import re

import msgspec

from connectors.meta import payloads
from connectors.meta.collect import Collector
from connectors.meta.wacontent import Content, Skip, content, describe
from kanal.phone import e164
from schemas import Envelope, Reporter, Thread, envelope_id

PRODUCT = "whatsapp"
GROUP_FLAG = "whatsapp_group"
# Meta: a two-letter country code, a period, up to 128 letters and digits; a parent BSUID has ENT. in between.
BSUID = re.compile(r"^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$")
_WA_ID = re.compile(r"^[0-9]{7,15}$")  # an E.164 number without its plus, as `from` and `wa_id` carry it


def change(out: Collector, field: str, raw: msgspec.Raw) -> None:
    """One entry[].changes[] element of a WhatsApp Business Account."""
    if field != "messages":
        out.ignore("unsupported_field", f"whatsapp change field '{field}'")
        return
    value = out.decoded(payloads.wa_value, raw, "whatsapp messages change")
    if value is None:
        return
    account = str(value.metadata.phone_number_id)
    if not out.ours(account, "whatsapp"):
        return
    for error in value.errors:
        out.reject("whatsapp_error", describe(error), raw)
    for status, _ in out.each(payloads.wa_status, value.statuses, "whatsapp status"):
        out.ignore("status", f"whatsapp status '{status.status}' of {status.id}")
    for message, message_raw in out.each(payloads.wa_message, value.messages, "whatsapp message"):
        _message(out, account, message, _contact(value.contacts, message), message_raw)


def _contact(contacts: list[payloads.WaContact], message: payloads.WaMessage) -> payloads.WaContact | None:
    """The contacts[] entry of the message's sender: by phone number or BSUID, else the only one."""
    for candidate in contacts:
        ids = {candidate.wa_id, candidate.user_id} - {None}
        if message.sender in ids or message.from_user_id in ids:
            return candidate
    return contacts[0] if len(contacts) == 1 else None


def sender(message: payloads.WaMessage, contact: payloads.WaContact | None) -> Reporter | Skip:
    """The reporter as WhatsApp names them, or why the sender id cannot be one."""
    given = (message.sender or "").strip()
    bsuid = message.from_user_id or (contact.user_id if contact else None)
    if bsuid is not None and not BSUID.match(bsuid):
        return Skip("invalid_sender", f"whatsapp message {message.id}: its user id is not a business-scoped user id "
                    "(country code, a period, letters and digits); the sender id is in the dead letter's data")
    phone: str | None = None
    user_id = bsuid
    if _WA_ID.match(given.removeprefix("+")):
        phone = e164("+" + given.removeprefix("+"))
        if phone is None and user_id is None:
            user_id = given.removeprefix("+")  # WhatsApp's own id for the user, not a number phonenumbers knows
    elif BSUID.match(given):
        user_id = user_id or given  # a BSUID where the phone number would be: never a contact "+ID.123"
    elif given:
        return Skip("invalid_sender", f"whatsapp message {message.id}: 'from' is neither a phone number (digits) "
                    "nor a business-scoped user id; the sender id is in the dead letter's data")
    if phone is None and user_id is None:
        return Skip("missing_sender", f"whatsapp message {message.id} names no sender ('from' and 'from_user_id' "
                    "missing)")
    profile = contact.profile if contact else None
    return Reporter(contact=phone, user_id=user_id, handle=profile.username if profile else None,
                    display_name=profile.name if profile else None)


def _message(out: Collector, account: str, message: payloads.WaMessage, contact: payloads.WaContact | None,
             raw: msgspec.Raw) -> None:
    what = f"whatsapp message {message.id}"
    created = out.created(message.timestamp, what, raw)
    if created is None:
        return
    found = content(message)
    if isinstance(found, Skip):
        _skip(out, found, raw)
        return
    reporter = sender(message, contact)
    if isinstance(reporter, Skip):
        _skip(out, reporter, raw)
        return
    flags = ["whatsapp", *found.flags]
    context = message.context
    if context is not None and (context.forwarded or context.frequently_forwarded):
        flags.append("forwarded")
    if message.group_id:
        flags.append(GROUP_FLAG)  # said in a group: the sender never gets a private answer by mistake
    ctx = out.ctx
    out.add(Envelope(
        id=envelope_id(ctx.channel, account, message.id, PRODUCT), channel=ctx.channel, instance=ctx.instance,
        account=account, external_id=message.id, kind="direct_message", created_at=created,
        received_at=ctx.received_at, reporter=reporter, visibility="private", text=found.text,
        attachments=found.attachments, location=found.location, thread=_thread(message, found),
        flags=tuple(flags),
    ))


def _skip(out: Collector, skip: Skip, raw: msgspec.Raw) -> None:
    if skip.reject:
        out.reject(skip.reason, skip.detail, raw)
    else:
        out.ignore(skip.reason, skip.detail)


def _thread(message: payloads.WaMessage, found: Content) -> Thread | None:
    """The message it answers (or reacts to), and for a group message the group as its conversation."""
    reply_to = found.reply_to or (message.context.id if message.context is not None and message.context.id else None)
    conversation = f"group:{message.group_id}" if message.group_id else None
    return Thread(reply_to=reply_to, conversation=conversation) if reply_to or conversation else None

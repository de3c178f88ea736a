"""Pure normaliser of the Meta app webhook: one POST (many entries, many events) -> an Outcome.

`NormaliseContext.account` carries the instance's allow-list (comma-separated page / Instagram /
phone_number ids, "*" for any); each envelope's account is the id the event was addressed to.
"""

from __future__ import annotations

import msgspec

from connectors.errors import BadPayload
from connectors.meta import facebook, payloads, whatsapp
from connectors.meta.collect import Collector, allowed, when
from connectors.spec import NormaliseContext, Outcome

PRODUCTS = ("page", "instagram", "whatsapp_business_account")


def normalise(raw: bytes, ctx: NormaliseContext) -> Outcome:
    """Every event of a Meta webhook POST becomes an envelope, a Rejected (dead-lettered) or an Ignored."""
    try:
        body = payloads.top.decode(raw)
    except msgspec.DecodeError as err:
        raise BadPayload("malformed_json", f"not a Meta webhook body: {err}") from err
    if not body.object:
        raise BadPayload("not_a_meta_webhook", "the JSON body has no 'object' field")
    out = Collector(ctx, allowed(ctx.account))
    if body.object not in PRODUCTS:
        out.ignore("unsupported_object", f"object '{body.object}' (subscribed by mistake?)")
        return out.outcome()
    for entry, _ in out.each(payloads.entry, body.entry, f"{body.object} entry", "malformed_entry"):
        _entry(out, body.object, entry)
    if not body.entry:
        out.ignore("empty_batch", f"{body.object} POST without entries")
    return out.outcome()


def _entry(out: Collector, product: str, entry: payloads.Entry) -> None:
    entry_id = str(entry.id)
    for event in entry.messaging:
        facebook.messaging(out, entry_id, event, "page" if product == "page" else "instagram")
    for _ in entry.standby:
        out.ignore("standby", f"{product} {entry_id}: message for another app (handover protocol)")
    for change, raw_change in out.each(payloads.change, entry.changes, f"{product} change"):
        if bytes(change.value) in (b"null", b""):
            out.reject("malformed_event", f"{product} change '{change.field}' has no value", raw_change)
            continue
        if product == "whatsapp_business_account":
            whatsapp.change(out, change.field, change.value)
        elif product == "page":
            if change.field != "feed":
                out.ignore("unsupported_field", f"page change field '{change.field}'")
            elif out.ours(entry_id, "page"):
                facebook.feed(out, entry_id, change.value)
        elif out.ours(entry_id, "instagram"):
            created = when(entry.time, out.ctx.received_at)
            facebook.instagram_change(out, entry_id, change.field, change.value, created)

"""Pure reading of WhatsApp Cloud API `statuses[]` (sent, delivered, read, failed with `errors[]`) from a webhook
body, as late outcomes for the sender's records (connectors/outbound/late.py). Messages in the same body are the
normaliser's (whatsapp.py), which counts these statuses as ignored events."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from connectors.meta import payloads
from connectors.meta.collect import moment
from connectors.meta.sender import reason_for
from connectors.outbound.late import Late
from schemas.outbound import DeliveryState

# WhatsApp's status words -> delivery states ("sent": on WhatsApp's servers, not yet on the phone).
STATES: dict[str, DeliveryState] = {"sent": "accepted", "delivered": "delivered", "read": "read", "failed": "failed"}


class _Change(msgspec.Struct, kw_only=True):
    field: str = ""
    value: msgspec.Raw = msgspec.Raw(b"{}")


class _Entry(msgspec.Struct, kw_only=True):
    changes: list[_Change] = []


class _Body(msgspec.Struct, kw_only=True):
    object: str = ""
    entry: list[_Entry] = []


class _Value(msgspec.Struct, kw_only=True):
    statuses: list[payloads.WaStatus] = []


def read(body: bytes, now: datetime | None = None) -> list[Late]:
    """The statuses of a WhatsApp webhook body that Kanal records; [] for anything else (the normaliser judges
    malformed bodies)."""
    try:
        parsed = msgspec.json.decode(body, type=_Body)
    except msgspec.DecodeError:
        return []
    if parsed.object != "whatsapp_business_account":
        return []
    found: list[Late] = []
    for entry in parsed.entry:
        for change in entry.changes:
            if change.field != "messages":
                continue
            try:
                value = msgspec.json.decode(change.value, type=_Value)
            except msgspec.DecodeError:
                continue
            found.extend(late for status in value.statuses if (late := _late(status, now)) is not None)
    return found


def _late(status: payloads.WaStatus, now: datetime | None) -> Late | None:
    state = STATES.get(status.status)
    if state is None or not status.id:
        return None
    at = (moment(status.timestamp) if status.timestamp is not None else None) or now or datetime.now(UTC)
    detail, fallback_ok = None, False
    if state == "failed":
        error = status.errors[0] if status.errors else payloads.WaError()
        words = error.error_data.details if error.error_data and error.error_data.details else \
            (error.message or error.title)
        detail, fallback_ok = reason_for(error.code, words[:200])
    return Late(provider_id=status.id, state=state, at=at, detail=detail, fallback_ok=fallback_ok)

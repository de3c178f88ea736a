"""Twilio status callbacks (MessageStatus, ErrorCode) as late outcomes of messages Kanal sent
(connectors/outbound/late.py); the normaliser counts the same requests as ignored `status_callback` events."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.outbound.late import Late
from connectors.twilio.sender import reason_for
from schemas.outbound import DeliveryState

# Twilio's MessageStatus words -> delivery states (queued/sending/accepted/scheduled say nothing new).
STATES: dict[str, DeliveryState] = {"sent": "accepted", "delivered": "delivered", "read": "read",
                                    "undelivered": "failed", "failed": "failed"}


def status(pairs: list[tuple[str, str]], now: datetime | None = None) -> Late | None:
    """A status callback's outcome for the message it names, or None (not a status callback, or a word that
    says nothing new)."""
    form = dict(pairs)
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    state = STATES.get(form.get("MessageStatus", ""))
    if state is None or not sid:
        return None
    detail, fallback_ok = None, False
    if state == "failed":
        code = form.get("ErrorCode", "")
        detail, fallback_ok = reason_for(int(code) if code.isdigit() else None,
                                         form.get("ErrorMessage", "") or f"MessageStatus={form['MessageStatus']}")
    return Late(provider_id=sid, state=state, at=now or datetime.now(UTC), detail=detail, fallback_ok=fallback_ok)

"""Kanal's shared contract: the envelope, routed items, status updates, dead letters and NATS names.

Pure code, no I/O: connectors, the router and any outside consumer agree through these types.
"""

from __future__ import annotations

from schemas.deadletter import DeadLetter
from schemas.envelope import (
    Attachment,
    Envelope,
    Location,
    RawRef,
    Reporter,
    Thread,
    decode_envelope,
    encode,
    envelope_id,
    report_ref,
)
from schemas.errors import SchemaError, UnsupportedVersion
from schemas.routed import Decision, Dedup, RoutedItem, decode_routed
from schemas.status import STAGES, StatusUpdate, decode_status

__all__ = [
    "STAGES",
    "Attachment",
    "DeadLetter",
    "Decision",
    "Dedup",
    "Envelope",
    "Location",
    "RawRef",
    "Reporter",
    "RoutedItem",
    "SchemaError",
    "StatusUpdate",
    "Thread",
    "UnsupportedVersion",
    "decode_envelope",
    "decode_routed",
    "decode_status",
    "encode",
    "envelope_id",
    "report_ref",
]

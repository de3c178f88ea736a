"""Dead letters: input no stage could handle, kept with the reason and the original bytes on KANAL_DLQ."""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from schemas._decode import strict_decode
from schemas.envelope import UtcTime


class DeadLetter(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`reason` is a stable snake_case code for counting; `detail` says what was wrong in words."""

    v: Literal[1] = 1
    stage: str
    reason: str
    detail: str
    at: UtcTime
    data: bytes
    object_key: str | None = None  # the original bytes in kanal_media when too big for one message
    subject: str | None = None
    instance: str | None = None
    headers: dict[str, str] = {}
    deliveries: int | None = None


def decode_deadletter(data: bytes | str) -> DeadLetter:
    """Strictly decode a dead letter."""
    return strict_decode(data, DeadLetter, "dead letter")

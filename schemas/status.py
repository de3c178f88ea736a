"""Status updates on `kanal.status.<item_id>`: the stages of a Jakarta CRM report, in order."""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from schemas._decode import strict_decode
from schemas.envelope import EnvelopeId, UtcTime

Stage = Literal["menunggu", "koordinasi", "disposisi", "proses", "tindak_lanjut", "validasi", "selesai"]


class StageInfo(Struct, frozen=True, kw_only=True):
    """How a stage is shown to admins and citizens."""

    stage: Stage
    label: str
    colour: str


STAGES: tuple[StageInfo, ...] = (
    StageInfo(stage="menunggu", label="Menunggu", colour="#d32f2f"),
    StageInfo(stage="koordinasi", label="Koordinasi", colour="#7b1fa2"),
    StageInfo(stage="disposisi", label="Disposisi", colour="#1976d2"),
    StageInfo(stage="proses", label="Proses", colour="#fbc02d"),
    StageInfo(stage="tindak_lanjut", label="Tindak Lanjut", colour="#c9a227"),
    StageInfo(stage="validasi", label="Validasi", colour="#9e9e9e"),
    StageInfo(stage="selesai", label="Selesai", colour="#388e3c"),
)
STAGE_ORDER: dict[str, int] = {info.stage: index for index, info in enumerate(STAGES)}


class StatusUpdate(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One stage change: who moved the report, from which queue, with an optional note."""

    v: Literal[1] = 1
    item_id: EnvelopeId
    ref: str
    stage: Stage
    queue: str
    by: str
    at: UtcTime
    note: str | None = None


def decode_status(data: bytes | str) -> StatusUpdate:
    """Strictly decode a status update."""
    return strict_decode(data, StatusUpdate, "status update")

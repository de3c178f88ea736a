"""The validated desk submission: the "raw" payload the desk connector publishes and its normaliser reads."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from schemas.envelope import Attachment, UtcTime


class DeskSubmission(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One complaint typed by a desk officer, with the office taken from the desk's config."""

    v: Literal[1] = 1
    key: Annotated[str, Meta(pattern=r"^[0-9a-f]{32}$")]  # made when the form was shown: a resubmit is the same
    submitted_at: UtcTime
    officer: str
    office_code: str
    office_name: str
    office_kind: str
    region_code: str | None = None
    region_name: str | None = None
    name: str | None = None
    nik: Annotated[str, Meta(pattern=r"^[0-9]{16}$")] | None = None
    contact: str | None = None
    anonymous: bool = False
    description: str
    address: str | None = None
    category: str | None = None
    attachments: tuple[Attachment, ...] = ()


_encoder = msgspec.json.Encoder()
decoder = msgspec.json.Decoder(DeskSubmission)


def encode(submission: DeskSubmission) -> bytes:
    """The raw payload bytes for one submission."""
    return _encoder.encode(submission)

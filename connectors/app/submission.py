"""The validated app submission: the "raw" payload the app connector publishes and its normaliser reads.

The app has no provider signature or provider payload; the connector validates the multipart request,
stores the photos, and encodes this Struct. Keeping it as the raw payload makes normalising pure and
replayable from KANAL_RAW.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from schemas.envelope import Attachment, UtcTime, Visibility


class AppReporter(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Who reports, as the app sends it; every field optional (and hidden downstream when anonymous)."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    nik: Annotated[str, Meta(pattern=r"^[0-9]{16}$")] | None = None
    user_id: str | None = None
    anonymous: bool = False


class AppPoint(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the report is, and whether the app sent it (`gps`) or the first photo's EXIF said so."""

    lat: Annotated[float, Meta(ge=-90, le=90)]
    lon: Annotated[float, Meta(ge=-180, le=180)]
    source: Literal["gps", "exif"]
    accuracy_m: Annotated[float, Meta(ge=0)] | None = None


class AppSubmission(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One accepted report: fields after validation plus the stored photos' descriptors."""

    v: Literal[1] = 1
    key: Annotated[str, Meta(min_length=1)]  # idempotency key: the client's, or a server-made uuid
    submitted_at: UtcTime
    description: str
    category: str | None = None
    visibility: Visibility = "private"
    reporter: AppReporter
    location: AppPoint | None = None
    address: str | None = None
    photos: tuple[Attachment, ...] = ()
    taken_at: UtcTime | None = None  # EXIF time of the first photo, when it has one


_encoder = msgspec.json.Encoder()
decoder = msgspec.json.Decoder(AppSubmission)


def encode(submission: AppSubmission) -> bytes:
    """The raw payload bytes for one submission."""
    return _encoder.encode(submission)

"""Pure: a validated app submission (JSON bytes) -> one `report` envelope.

`decode` and `one_report` are shared with the desk (connectors/desk/normalise.py): both channels publish
a submission their own connector validated and encoded, one envelope per submission key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import msgspec

from connectors.app.submission import AppSubmission, decoder
from connectors.errors import BadPayload
from connectors.spec import NormaliseContext, Outcome
from schemas import Envelope, Location, Reporter, envelope_id

T = TypeVar("T")


def decode(raw: bytes, submissions: msgspec.json.Decoder[T]) -> T:
    """The submission the connector encoded; anything else is a BadPayload (dead-lettered, never dropped)."""
    try:
        return submissions.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise BadPayload("malformed_submission", str(err)) from err


def one_report(ctx: NormaliseContext, key: str, submitted_at: datetime, **fields: Any) -> Outcome:
    """The one envelope of a submission: its id from the submission key, so a replayed POST is the same report."""
    envelope = Envelope(id=envelope_id(ctx.channel, ctx.account, key), channel=ctx.channel, instance=ctx.instance,
                        account=ctx.account, external_id=key, created_at=submitted_at,
                        received_at=ctx.received_at, **fields)
    return Outcome(envelopes=(envelope,))


def normalise(raw: bytes, ctx: NormaliseContext) -> Outcome:
    """One submission is one report; the reporter's contact is the phone, else the e-mail."""
    sub: AppSubmission = decode(raw, decoder)
    who = sub.reporter
    location = None
    if sub.location is not None:
        location = Location(lat=sub.location.lat, lon=sub.location.lon, source=sub.location.source,
                            accuracy_m=sub.location.accuracy_m, address=sub.address)
    text = sub.description.strip()
    if sub.address and location is None:
        text = f"{text}\n\nAlamat: {sub.address}"  # no point: the gazetteer can still read the address
    return one_report(
        ctx, sub.key, sub.submitted_at, kind="report",
        reporter=Reporter(display_name=who.name, contact=who.phone or who.email, user_id=who.user_id,
                          nik=who.nik, anonymous=who.anonymous),
        visibility=sub.visibility, text=text, attachments=sub.photos, location=location, category=sub.category,
    )

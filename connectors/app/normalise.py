"""Pure: a validated app submission (JSON bytes) -> one `report` envelope."""

from __future__ import annotations

import msgspec

from connectors.app.submission import AppSubmission, decoder
from connectors.errors import BadPayload
from connectors.spec import NormaliseContext, Outcome
from schemas import Envelope, Location, Reporter, envelope_id


def normalise(raw: bytes, ctx: NormaliseContext) -> Outcome:
    """One submission is one report; the reporter's contact is the phone, else the e-mail."""
    try:
        sub: AppSubmission = decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise BadPayload("malformed_submission", str(err)) from err
    who = sub.reporter
    location = None
    if sub.location is not None:
        location = Location(lat=sub.location.lat, lon=sub.location.lon, source=sub.location.source,
                            accuracy_m=sub.location.accuracy_m, address=sub.address)
    text = sub.description.strip()
    if sub.address and location is None:
        text = f"{text}\n\nAlamat: {sub.address}"  # no point: the gazetteer can still read the address
    envelope = Envelope(
        id=envelope_id(ctx.channel, ctx.account, sub.key),
        channel=ctx.channel,
        instance=ctx.instance,
        account=ctx.account,
        external_id=sub.key,
        kind="report",
        created_at=sub.submitted_at,
        received_at=ctx.received_at,
        reporter=Reporter(display_name=who.name, contact=who.phone or who.email, user_id=who.user_id,
                          nik=who.nik, anonymous=who.anonymous),
        visibility=sub.visibility,
        text=text,
        attachments=sub.photos,
        location=location,
        category=sub.category,
    )
    return Outcome(envelopes=(envelope,))

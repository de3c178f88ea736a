"""Pure: one LAPOR! report (JSON, field names in mapping.py) -> a `report` envelope keyed by its tracking id.

An updated report (same tracking id, newer update time) gives the same envelope id, so it is deduplicated
downstream instead of becoming a second complaint.
"""

from __future__ import annotations

import re

import msgspec

from connectors.errors import BadPayload
from connectors.lapor import mapping
from connectors.mediatypes import kind_of
from connectors.spec import NormaliseContext, Outcome
from schemas import Attachment, Envelope, Location, Reporter, envelope_id

_NIK = re.compile(r"^[0-9]{16}$")


def normalise(raw: bytes, ctx: NormaliseContext) -> Outcome:
    """A report LAPOR! dispositioned to the city becomes one envelope of kind `report`."""
    try:
        report = mapping.decode(raw)
    except (msgspec.DecodeError, ValueError) as err:
        raise BadPayload("malformed_lapor_report", str(err)) from err
    if not report.tracking_id.strip():
        raise BadPayload("lapor_report_without_tracking_id", "empty tracking id")
    location = None
    if report.lat is not None and report.lon is not None and -90 <= report.lat <= 90 \
            and -180 <= report.lon <= 180 and (report.lat, report.lon) != (0.0, 0.0):
        location = Location(lat=report.lat, lon=report.lon, source="provider", address=report.address)
    parts = [report.title, report.content]
    if report.address and location is None:
        parts.append(f"Lokasi: {report.address}")  # the router's gazetteer reads place names from the text
    nik = report.nik if report.nik and _NIK.match(report.nik) else None
    reporter = Reporter(anonymous=True) if report.anonymous else Reporter(
        display_name=report.name, contact=report.email or report.phone, nik=nik)
    envelope = Envelope(
        id=envelope_id(ctx.channel, ctx.account, report.tracking_id), channel=ctx.channel, instance=ctx.instance,
        account=ctx.account, external_id=report.tracking_id, kind="report",
        created_at=report.created_at, received_at=ctx.received_at, reporter=reporter,
        visibility="private" if report.confidential else "public",
        text="\n\n".join(p for p in parts if p), subject=report.title or None, language="id",
        category=report.category, location=location,
        attachments=tuple(Attachment(kind=kind_of(a.media_type, a.url), media_type=a.media_type, name=a.name,
                                     source_url=a.url) for a in report.attachments),
    )
    return Outcome(envelopes=(envelope,))

"""Pure: a validated desk submission (JSON bytes) -> one private `walk_in` envelope for the desk's office."""

from __future__ import annotations

from connectors.app.normalise import decode, one_report
from connectors.desk.submission import DeskSubmission, decoder
from connectors.errors import BadPayload
from connectors.spec import NormaliseContext, Outcome
from schemas import Reporter


def normalise(raw: bytes, ctx: NormaliseContext) -> Outcome:
    """One submission is one walk-in report; a submission for another office than the account is refused."""
    sub: DeskSubmission = decode(raw, decoder)
    if sub.office_code != ctx.account:
        raise BadPayload("office_mismatch", f"submission for office {sub.office_code} arrived on account "
                                            f"{ctx.account}; one desk cannot submit for another")
    # No coordinates at a desk: the address and region go into the text, where the router's gazetteer reads them.
    extra = [f"Alamat: {sub.address}"] if sub.address else []
    if sub.region_name:
        extra.append(f"Wilayah: {sub.region_name}")
    text = sub.description.strip() + ("\n\n" + "\n".join(extra) if extra else "")
    return one_report(
        ctx, sub.key, sub.submitted_at, kind="walk_in",
        reporter=Reporter(display_name=sub.name, contact=sub.contact, nik=sub.nik, anonymous=sub.anonymous),
        visibility="private", text=text, subject=f"Pengaduan tatap muka: {sub.office_name}", language="id",
        attachments=sub.attachments, category=sub.category,
    )

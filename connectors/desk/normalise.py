"""Pure: a validated desk submission (JSON bytes) -> one private `walk_in` envelope for the desk's office."""

from __future__ import annotations

import msgspec

from connectors.desk.submission import DeskSubmission, decoder
from connectors.errors import BadPayload
from connectors.spec import NormaliseContext, Outcome
from schemas import Envelope, Reporter, envelope_id


def normalise(raw: bytes, ctx: NormaliseContext) -> Outcome:
    """One submission is one walk-in report; a submission for another office than the account is refused."""
    try:
        sub: DeskSubmission = decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise BadPayload("malformed_submission", str(err)) from err
    if sub.office_code != ctx.account:
        raise BadPayload("office_mismatch", f"submission for office {sub.office_code} arrived on account "
                                            f"{ctx.account}; one desk cannot submit for another")
    # No coordinates at a desk: the address and region go into the text, where the router's gazetteer reads them.
    extra = [f"Alamat: {sub.address}"] if sub.address else []
    if sub.region_name:
        extra.append(f"Wilayah: {sub.region_name}")
    text = sub.description.strip() + ("\n\n" + "\n".join(extra) if extra else "")
    envelope = Envelope(
        id=envelope_id(ctx.channel, ctx.account, sub.key),
        channel=ctx.channel,
        instance=ctx.instance,
        account=ctx.account,
        external_id=sub.key,
        kind="walk_in",
        created_at=sub.submitted_at,
        received_at=ctx.received_at,
        reporter=Reporter(display_name=sub.name, contact=sub.contact, nik=sub.nik, anonymous=sub.anonymous),
        visibility="private",
        text=text,
        subject=f"Pengaduan tatap muka: {sub.office_name}",
        language="id",
        attachments=sub.attachments,
        category=sub.category,
    )
    return Outcome(envelopes=(envelope,))

"""Pure mapping of one SMS that Kannel's smsbox received (its sms-service request) to an envelope.

The connector hands over a canonical form: the request's fields, URL-encoded, with the shared secret removed
and, for a post-url, the body as `text` and the X-Kannel-* headers as fields. Field names are the ones our
kannel.conf puts in the URL (README): from (%p), to (%P), text (%a), time (%T), coding (%c), charset (%C),
id (%I), smsc (%i), udh (%u), service (%n).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote_from_bytes

from connectors.errors import BadPayload
from connectors.kannel.sms import decode_text
from connectors.spec import Ignored, NormaliseContext, Outcome
from kanal.phone import e164
from schemas import Envelope, Reporter, envelope_id

MEDIA_TYPE = "application/x-www-form-urlencoded"
TEXT_FIELDS = ("text", "b")  # %a, or %b (the raw message body) when a kannel.conf uses that
_SKEW = timedelta(minutes=10)  # a phone clock this far ahead is still believed


def canonical(fields: list[tuple[str, bytes]]) -> bytes:
    """The form the normaliser reads: `name=value&...`, values percent-encoded byte for byte."""
    return "&".join(f"{quote_from_bytes(k.encode())}={quote_from_bytes(v)}" for k, v in fields).encode("ascii")


def parse(raw: bytes) -> dict[str, bytes]:
    """The canonical form's fields (last one wins), each value as the exact bytes Kannel sent."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as err:
        raise BadPayload("malformed_form", f"not a URL-encoded Kannel request: {err}") from err
    pairs = parse_qsl(text, keep_blank_values=True, encoding="latin-1")
    return {name: value.encode("latin-1") for name, value in pairs}


def _str(fields: dict[str, bytes], name: str) -> str:
    return fields.get(name, b"").decode("utf-8", errors="replace").strip()


def _time(value: str, received_at: datetime) -> tuple[datetime, tuple[str, ...]]:
    """Kannel's %T (UNIX seconds) as UTC; absent or implausible -> the receive time, flagged."""
    if value.isdigit():
        sent = datetime.fromtimestamp(int(value), UTC)
        # Phones and SMSCs with a wrong clock exist; a time in the future or decades back is not a send time.
        if datetime(2000, 1, 1, tzinfo=UTC) <= sent <= received_at.replace(microsecond=0) + _SKEW:
            return sent, ()
    return received_at, ("sms_time_invalid",) if value else ()


def normalise(raw: bytes, ctx: NormaliseContext) -> Outcome:
    """One MO SMS -> one envelope (Ignored when empty); BadPayload when it has no sender."""
    fields = parse(raw)
    sender = _str(fields, "from")
    if not sender:
        raise BadPayload("missing_field", "no sender (from=%p) in the Kannel request: check the sms-service URL")
    region = _str(fields, "region") or "ID"  # added by the connector from its settings, not by Kannel
    coding_text = _str(fields, "coding")
    coding = int(coding_text) if coding_text.isdigit() else None
    data = next((fields[name] for name in TEXT_FIELDS if name in fields), b"")
    text, flags = decode_text(data, coding, _str(fields, "charset"))
    message_id = _str(fields, "id")
    receiver = _str(fields, "to")
    account = ctx.account or e164(receiver, region) or receiver or "kannel"
    created_at, time_flags = _time(_str(fields, "time"), ctx.received_at)
    if not message_id:
        # Without %I (older kannel.conf), the same SMS delivered twice still gets one id.
        digest = hashlib.blake2b(b"\x1f".join((sender.encode(), receiver.encode(), fields.get("time", b""), data)),
                                 digest_size=12).hexdigest()
        message_id = f"sms-{digest}"
    if not text.strip():
        return Outcome(ignored=(Ignored(reason="empty_message", detail=message_id),))
    number = e164(sender, region)
    udh = fields.get("udh", b"")
    part_flags = ("sms_part",) if len(udh) >= 6 and udh[1] in (0x00, 0x08) else ()  # a part Kannel could not join
    envelope = Envelope(
        id=envelope_id(ctx.channel, account, message_id), channel=ctx.channel, instance=ctx.instance,
        account=account, external_id=message_id, kind="sms", created_at=created_at, received_at=ctx.received_at,
        reporter=Reporter(handle=number or sender, contact=number, user_id=number or sender),
        visibility="private", text=text, flags=(*flags, *time_flags, *part_flags),
    )
    return Outcome(envelopes=(envelope,))


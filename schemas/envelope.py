"""The envelope: one citizen message, normalised from any channel, as connectors publish it on KANAL_IN."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from schemas._decode import strict_decode

Kind = Literal["post", "comment", "direct_message", "email", "sms", "report", "walk_in", "article"]
Visibility = Literal["public", "private"]
LocationSource = Literal["gps", "exif", "provider", "text"]
AttachmentKind = Literal["image", "video", "audio", "document", "sticker", "other"]

# Channel ids are lowercase identifiers: the same token names the package, entry point and subject.
ChannelId = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="channel plugin id")]
# Instance names are NATS subject tokens: no dots, spaces or wildcards.
InstanceName = Annotated[
    str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", description="configured connector instance")
]
EnvelopeId = Annotated[str, Meta(pattern=r"^[0-9a-f]{32}$", description="deterministic id, 32 hex chars")]
UtcTime = Annotated[datetime, Meta(tz=True, description="RFC 3339 timestamp with offset")]
Sha256 = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]
NonEmpty = Annotated[str, Meta(min_length=1)]


class Reporter(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Who sent it. The only place where personal data (contact, NIK) may live; logs mask it."""

    handle: str | None = None
    display_name: str | None = None
    contact: str | None = None
    user_id: str | None = None
    nik: Annotated[str, Meta(pattern=r"^[0-9]{16}$")] | None = None
    anonymous: bool = False


class Attachment(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A photo, document or other media; stored in the object store (`object_key`) or only linked."""

    kind: AttachmentKind
    media_type: str | None = None
    size: Annotated[int, Meta(ge=0)] | None = None
    sha256: Sha256 | None = None
    name: str | None = None
    object_key: str | None = None
    source_url: str | None = None
    error: str | None = None


class Location(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the complaint is about, in WGS84, and how we know it."""

    lat: Annotated[float, Meta(ge=-90, le=90)]
    lon: Annotated[float, Meta(ge=-180, le=180)]
    source: LocationSource
    accuracy_m: Annotated[float, Meta(ge=0)] | None = None
    address: str | None = None


class Thread(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Conversation context: what this message answers and which conversation it belongs to."""

    reply_to: str | None = None
    conversation: str | None = None


class RawRef(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the provider's original payload is kept: on stream KANAL_RAW (`subject`, one per envelope:
    `kanal.raw.<instance>.<envelope_id>`, or `kanal.raw.<envelope_id>` in envelopes written before contract
    1.1), or, when it is larger than one NATS message should be, in the object store `kanal_media`
    (`object_key`). Read the payload from the subject named here; never build it."""

    subject: NonEmpty | None = None
    object_key: str | None = None
    sha256: Sha256
    media_type: str
    size: Annotated[int, Meta(ge=0)]


class Envelope(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Contract v1 for one inbound message. `id` is derived from (channel, account, external_id[, product])."""

    v: Literal[1] = 1
    id: EnvelopeId
    channel: ChannelId
    instance: InstanceName
    account: NonEmpty
    external_id: NonEmpty
    kind: Kind
    created_at: UtcTime
    received_at: UtcTime
    reporter: Reporter
    visibility: Visibility
    text: str
    subject: str | None = None
    language: str | None = None
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    category: str | None = None
    thread: Thread | None = None
    raw: RawRef | None = None
    flags: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """The report reference a citizen is told, e.g. ``KNL-8C3Q-W2ZP-4M7D``."""
        return report_ref(self.id)


def envelope_id(channel: str, account: str, external_id: str, product: str | None = None) -> str:
    """Deterministic id, so a webhook retry or a re-poll of the same provider message gives the same id.

    `product` names the provider's product when one channel serves several whose ids may meet (Meta: the same
    account and message id on Messenger and WhatsApp are two messages); it is appended to the key.
    """
    parts = (channel, account, external_id) if product is None else (channel, account, external_id, product)
    key = "\x1f".join(parts).encode()
    return hashlib.blake2b(key, digest_size=16, person=b"kanal-envelope").hexdigest()


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_PAIRS = tuple(a + b for a in _CROCKFORD for b in _CROCKFORD)


def report_ref(envelope_id_hex: str) -> str:
    """A short, unambiguous reference (Crockford base32 of the id's first 60 bits), e.g. KNL-8C3Q-W2ZP-4M7D.

    60 bits keep the chance of two reports sharing a reference below 1 in 20,000 at ten million reports.
    """
    n = int(envelope_id_hex[:15], 16)
    pair = _CROCKFORD_PAIRS  # 10 bits -> 2 digits: six lookups instead of twelve shifts and a join
    return (f"KNL-{pair[n >> 50]}{pair[(n >> 40) & 1023]}-{pair[(n >> 30) & 1023]}{pair[(n >> 20) & 1023]}-"
            f"{pair[(n >> 10) & 1023]}{pair[n & 1023]}")


_encoder = msgspec.json.Encoder()


def encode(message: Struct) -> bytes:
    """Encode any contract struct to its JSON wire form."""
    return _encoder.encode(message)


def decode_envelope(data: bytes | str) -> Envelope:
    """Strictly decode an envelope; raises SchemaError naming the field, UnsupportedVersion for v != 1."""
    return strict_decode(data, Envelope, "envelope")

"""Pure: one fetched IMAP message (or plain RFC 822 bytes) -> one `email` envelope.

Input is what the connector publishes as the raw payload: JSON `ImapItem` (mailbox, UIDVALIDITY, UID,
INTERNALDATE and the exact RFC 822 bytes), media type `application/vnd.kanal.imap+json`. Plain RFC 822 bytes
(an .eml file) are accepted too. Attachments and inline images are described (name, type, size, sha256,
`source_url = "mime-part:<section>"`); the connector's `enrich` stores their bytes in the object store.
Auto-replies, bounces and bulk mail are published with flags (`auto_reply`, `bounce`, `bulk`), never dropped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import parsedate_to_datetime

import msgspec
from bs4 import BeautifulSoup

from connectors.email import mime
from connectors.errors import BadPayload
from connectors.mediatypes import kind_of
from connectors.spec import NormaliseContext, Outcome
from schemas import Attachment, Envelope, Reporter, Thread, envelope_id

MEDIA_TYPE = "application/vnd.kanal.imap+json"
PART_URL = "mime-part:"


class ImapItem(msgspec.Struct, frozen=True, kw_only=True):
    """One message as fetched: where it was and its exact bytes (JSON: `rfc822` is base64)."""

    mailbox: str
    uidvalidity: int
    uid: int
    internaldate: datetime | None = None
    rfc822: bytes


_item = msgspec.json.Decoder(ImapItem)


def encode_item(item: ImapItem) -> bytes:
    """The raw payload the connector publishes for one message."""
    return msgspec.json.encode(item)


def unwrap(raw: bytes) -> tuple[bytes, ImapItem | None]:
    """The RFC 822 bytes and the IMAP facts, from either input form."""
    if raw[:1] == b"{":
        try:
            item = _item.decode(raw)
        except msgspec.DecodeError:
            return raw, None
        return item.rfc822, item
    return raw, None


def external_id(msg: Message, rfc822: bytes) -> str:
    """Stable across re-reads (UIDVALIDITY change, re-delivery) and unique even when a mailer reuses an id.

    `<Message-ID>#<16 hex>`, the hex from sha256 over the stable headers and the body (line endings
    normalised); without a Message-ID, `sha256:<32 hex>` of the same. UIDs are never part of it.
    """
    stable = [mime.raw_header(msg, name) for name in ("Message-ID", "From", "To", "Cc", "Date", "Subject")]
    digest = mime.digest(*stable, mime.body_bytes(rfc822))
    ids = mime.message_ids(mime.raw_header(msg, "Message-ID"))
    if ids:
        return f"{ids[0][:200]}#{digest[:16]}"
    return f"sha256:{digest[:32]}"


def own_message_id(external: str) -> str | None:
    """The Message-ID (without brackets) of a mail, from its external id `<id>#<digest>` (None without one)."""
    if external.startswith("sha256:"):
        return None
    return external.rpartition("#")[0] or None


def normalise(raw: bytes, ctx: NormaliseContext) -> Outcome:
    """Turn one message into an envelope; only an empty or header-less input is a BadPayload."""
    rfc822, item = unwrap(raw)
    if not rfc822.strip():
        raise BadPayload("empty_message", "the message has no bytes")
    msg = mime.parse(rfc822)
    if not msg.keys():
        raise BadPayload("no_headers", "no RFC 822 header could be read; this is not an e-mail message")
    text, attachments = _content(msg)
    subject = mime.header(msg, "Subject")
    ext = external_id(msg, rfc822)
    reply_ids = mime.message_ids(mime.raw_header(msg, "In-Reply-To"))
    references = mime.message_ids(mime.raw_header(msg, "References"))
    thread = None
    if reply_ids or references:
        reply_to = reply_ids[0] if reply_ids else references[-1]
        thread = Thread(reply_to=reply_to, conversation=references[0] if references else reply_to)
    fallback = item.internaldate if item and item.internaldate else ctx.received_at
    envelope = Envelope(
        id=envelope_id(ctx.channel, ctx.account, ext), channel=ctx.channel, instance=ctx.instance,
        account=ctx.account, external_id=ext, kind="email", created_at=_date(msg, fallback, ctx.received_at),
        received_at=ctx.received_at, reporter=_reporter(msg), visibility="private", text=text,
        subject=subject, attachments=tuple(attachments), thread=thread, flags=flags(msg),
    )
    return Outcome(envelopes=(envelope,))


def _date(msg: Message, fallback: datetime, received: datetime) -> datetime:
    """The Date header; INTERNALDATE (else receive time) when it is missing, invalid or absurd."""
    raw = mime.raw_header(msg, "Date")
    if raw:
        try:
            sent = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError, OverflowError):
            sent = None
        if sent is not None:
            if sent.tzinfo is None:
                sent = sent.replace(tzinfo=UTC)  # "-0000": no zone information, RFC 5322 says UTC
            if datetime(1990, 1, 1, tzinfo=UTC) < sent < max(received, fallback) + timedelta(days=1):
                return sent
    return fallback if fallback.tzinfo else fallback.replace(tzinfo=UTC)


def _reporter(msg: Message) -> Reporter:
    """The sender: From's name and address; replies go to Reply-To when it holds a usable address."""
    sender = mime.addresses(msg, "From") or mime.addresses(msg, "Sender") or mime.addresses(msg, "Return-Path")
    reply = mime.addresses(msg, "Reply-To")
    name, address = sender[0] if sender else ("", "")
    if not name and reply:
        name = reply[0][0]
    contact = reply[0][1] if reply else address
    if not address and not contact:
        return Reporter()
    return Reporter(display_name=name or None, contact=contact or None, user_id=(address or contact).lower(),
                    handle=(address or contact).lower())


AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Reply")
BOUNCE_SENDERS = ("mailer-daemon", "postmaster")


def flags(msg: Message) -> tuple[str, ...]:
    """Why this mail is machine-made: `auto_reply`, `bounce`, `bulk` (the router does not treat those as complaints)."""
    found: list[str] = []
    auto = (mime.raw_header(msg, "Auto-Submitted") or "no").split(";")[0].strip().lower()
    if auto != "no" or any(mime.raw_header(msg, h) for h in AUTO_HEADERS):
        found.append("auto_reply")
    ctype = mime._safe(msg.get_content_type, "")
    report = (mime._safe(lambda: msg.get_param("report-type"), None) or "")
    senders = [a for _, a in mime.addresses(msg, "From") + mime.addresses(msg, "Sender")]
    if (ctype == "multipart/report" and str(report).lower() == "delivery-status") or any(
            a.split("@", 1)[0].lower() in BOUNCE_SENDERS for a in senders):
        found.append("bounce")
    precedence = (mime.raw_header(msg, "Precedence") or "").strip().lower()
    if precedence in ("bulk", "junk", "list") or mime.raw_header(msg, "List-Unsubscribe"):
        found.append("bulk")
    return tuple(found)


def _content(msg: Message) -> tuple[str, list[Attachment]]:
    """Body text (plain preferred, else HTML converted) and every other part as an attachment."""
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    for part in mime.parts(msg):
        is_file = part.disposition == "attachment" or part.filename is not None
        if not is_file and part.content_type == "text/plain":
            plain.append(mime.decode_bytes(part.payload(), part.charset))
        elif not is_file and part.content_type == "text/html":
            html.append(mime.decode_bytes(part.payload(), part.charset))
        else:
            attachments.append(_attachment(part))
    if any(t.strip() for t in plain):
        text = "\n\n".join(t.strip() for t in plain if t.strip())
    else:
        text = "\n\n".join(html_text(h) for h in html)
    return _tidy(text), attachments


def _attachment(part: mime.Part) -> Attachment:
    data = part.payload()
    name = part.filename or (f"{part.content_id}" if part.content_id else None)
    if part.content_type == "message/rfc822" and not name:
        inner = part.message.get_payload()
        first = inner[0] if isinstance(inner, list) and inner else None
        subject = mime.header(first, "Subject") if isinstance(first, Message) else None
        name = f"{subject or 'message'}.eml"
    return Attachment(kind=kind_of(part.content_type, part.filename), media_type=part.content_type, size=len(data),
                      sha256=mime.digest_bytes(data), name=name, source_url=f"{PART_URL}{part.path}")


def html_text(html: str) -> str:
    """Readable text of an HTML body (BeautifulSoup with the stdlib parser): scripts and styles dropped."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head", "title"]):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    return soup.get_text("\n")


_BLANKS = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()

"""Defensive MIME reading (pure): charsets Python lacks, broken encoded-words, raw 8-bit headers, part walking.

Real mail breaks every rule (see ../shared/samples/email/): headers with raw Windows-1252 or UTF-8 bytes,
encoded-words in unknown charsets with bad padding, `ks_c_5601-1987`, GB2312 declared over UTF-8 bytes,
nested multiparts reusing the outer boundary. Nothing here raises on bad input; it degrades to best-effort
text. Shared by the normaliser and by the connector (which stores the parts the normaliser described).
"""

from __future__ import annotations

import codecs
import email.header
import email.utils
import hashlib
import re
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser
from typing import TypeVar

T = TypeVar("T")

# Charset labels mail clients send that Python's codec registry lacks or gets wrong.
ALIASES = {
    "ks_c_5601-1987": "cp949", "ks_c_5601": "cp949", "ks_c_5601-1989": "cp949", "ksc5601": "cp949",
    "euc-kr": "cp949", "x-gbk": "gbk", "gb_2312-80": "gb2312", "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874", "x-sjis": "shift_jis", "x-mac-roman": "mac_roman", "macintosh": "mac_roman",
    "iso-2022-jp-ms": "iso2022_jp_ext", "x-user-defined": "cp1252", "ansi_x3.4-1968": "ascii",
}
# A strict decode in the declared charset failed: these are tried next (GB2312 is often a superset's label).
SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "iso-8859-1": "cp1252", "ascii": "cp1252", "shift_jis": "cp932",
             "euc-jp": "cp932", "big5": "big5hkscs", "iso-8859-9": "cp1254", "iso-8859-2": "cp1250"}


def codec(charset: str | None) -> str | None:
    """The Python codec for a MIME charset label, or None when it is unknown (e.g. "NONE", "unknown-8bit")."""
    if not charset:
        return None
    label = charset.strip().strip('"').lower()
    label = ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text from bytes in a declared charset; never raises.

    Order: valid UTF-8 wins for non-ASCII bytes (mislabelled UTF-8 is the most common error, and legacy
    CJK/Latin text is practically never valid UTF-8); then the declared codec strictly, its superset, and
    Windows-1252; last the declared codec (or UTF-8) with replacement characters.
    """
    if data.isascii():
        name = codec(charset)
        if name and name not in ("utf-8", "ascii") and not name.startswith("iso8859") and not name.startswith("cp"):
            try:  # 7-bit charsets (ISO-2022-JP, UTF-7) are ASCII bytes that still need decoding
                return data.decode(name)
            except (UnicodeDecodeError, LookupError):
                pass
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    name = codec(charset)
    tries = [n for n in (name, SUPERSETS.get(name or ""), "cp1252") if n]
    for attempt in tries:
        try:
            return data.decode(attempt)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode(name or "utf-8", errors="replace")


def raw_header(msg: Message, name: str) -> str | None:
    """A header's raw value (folding removed, raw 8-bit bytes decoded); None when absent or empty."""
    wanted = name.lower()
    try:
        raw = next((str(value) for key, value in msg.raw_items() if key.lower() == wanted), None)
    except Exception:
        return None
    if raw is None:
        return None
    raw = unfold(raw)
    if any("\udc80" <= ch <= "\udcff" for ch in raw):  # raw 8-bit bytes, kept as surrogates by the parser
        raw = decode_bytes(raw.encode("ascii", "surrogateescape"), None)
    return raw.strip() or None


def unfold(value: str) -> str:
    """Remove header folding (CRLF + whitespace)."""
    return " ".join(line.strip() for line in value.replace("\r\n", "\n").split("\n") if line.strip())


def decode_words(value: str | None) -> str | None:
    """Decode RFC 2047 encoded-words, tolerating unknown charsets, bad padding and raw text around them."""
    if not value:
        return value
    if "=?" not in value:
        return value
    try:
        parts = email.header.decode_header(value)
    except Exception:  # malformed beyond repair: show it as sent
        return value
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
        else:
            out.append(decode_bytes(chunk, charset))
    return "".join(out).strip()


def header(msg: Message, name: str) -> str | None:
    """A header decoded for people: raw bytes and encoded-words decoded, whitespace collapsed."""
    value = decode_words(raw_header(msg, name))
    return " ".join(value.split()) if value else None


_BARE_NAME = re.compile(r'(^|,)\s*([^",<>@\s]+@[^",<>\s]+)\s*<([^<>]*)>')


def addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, address) pairs; split before decoding so an encoded comma stays inside its name."""
    raw = raw_header(msg, name)
    if not raw:
        return []
    raw = _BARE_NAME.sub(r'\1"\2" <\3>', raw)  # `a@b.c <d@e.f>`: the first address is a display name
    try:
        pairs = email.utils.getaddresses([raw])
    except Exception:
        return []
    found: list[tuple[str, str]] = []
    for display, address in pairs:
        address = address.strip()
        if not address or "@" not in address:
            continue
        found.append(((decode_words(display) or "").strip(), address))
    return found


def message_ids(value: str | None) -> list[str]:
    """The `<id>` tokens of Message-ID / In-Reply-To / References, without brackets, de-duplicated in order."""
    if not value:
        return []
    ids: list[str] = []
    for token in value.replace(">", "> ").split():
        token = token.strip().strip(",")
        if token.startswith("<") and token.endswith(">") and len(token) > 2:
            token = token[1:-1]
            if token not in ids:
                ids.append(token)
    if not ids and value.strip() and " " not in value.strip():
        ids.append(value.strip().strip("<>"))  # a bare id without brackets
    return ids


def parse(raw: bytes) -> Message:
    """Parse RFC 822 bytes with the modern policy; defects are recorded on the message, never raised."""
    return BytesParser(policy=policy.default).parsebytes(raw)


@dataclass(frozen=True)
class Part:
    """One leaf of the MIME tree, numbered like IMAP sections ("1", "2.1")."""

    path: str
    content_type: str
    disposition: str | None
    filename: str | None
    content_id: str | None
    charset: str | None
    message: Message

    def payload(self) -> bytes:
        """The decoded bytes (base64/QP undone; a broken encoding yields what could be decoded)."""
        if self.content_type == "message/rfc822":
            return embedded_bytes(self.message)
        try:
            data = self.message.get_payload(decode=True)
        except Exception:
            data = None
        if isinstance(data, bytes):
            return data
        body = self.message.get_payload()
        return body.encode("utf-8", "surrogateescape") if isinstance(body, str) else b""


def embedded_bytes(part: Message) -> bytes:
    """The bytes of a message/rfc822 part's inner message, as generated from its parsed form."""
    inner = part.get_payload()
    if isinstance(inner, list) and inner:
        inner = inner[0]
    if isinstance(inner, Message):
        for generation in (policy.SMTP, policy.compat32):
            with suppress(Exception):  # a generator chokes on some broken headers: try the lenient one
                return inner.as_bytes(policy=generation)
    return inner.encode("utf-8", "surrogateescape") if isinstance(inner, str) else b""


def parts(msg: Message) -> list[Part]:
    """Leaf parts in order; message/rfc822 is a leaf (an attachment), not descended into."""
    found: list[Part] = []
    _walk(msg, "", found)
    return found


def _walk(node: Message, path: str, found: list[Part]) -> None:
    ctype = _safe(node.get_content_type, "text/plain")
    if node.is_multipart() and ctype.startswith("multipart/"):
        children = node.get_payload()
        if isinstance(children, list):
            children = [c for c in children if isinstance(c, Message)] + _stray_parts(node)
            for index, child in enumerate(children, start=1):
                _walk(child, f"{path}.{index}" if path else str(index), found)
        return
    if ctype.startswith("multipart/"):  # a multipart the parser could not split (e.g. a reused boundary)
        body = node.get_payload()
        if not isinstance(body, str) or not body.strip():
            return
    filename = _safe(node.get_filename, None)
    if filename and any("\udc80" <= ch <= "\udcff" for ch in filename):
        filename = decode_bytes(filename.encode("ascii", "surrogateescape"), None)
    found.append(Part(
        path=path or "1", content_type=ctype, disposition=_safe(node.get_content_disposition, None),
        filename=decode_words(filename) if filename else None,
        content_id=next(iter(message_ids(raw_header(node, "Content-ID"))), None),
        charset=_safe(node.get_content_charset, None), message=node,
    ))


def _stray_parts(node: Message) -> list[Message]:
    """Parts after a premature closing delimiter (a nested multipart reusing its parent's boundary).

    Outlook Express for Mac closed the inner multipart with the shared boundary, so the parser ends the
    outer one there and leaves the remaining attachments in the epilogue; parse them back out.
    """
    boundary = _safe(node.get_boundary, None)
    epilogue = node.epilogue
    if not boundary or not epilogue or f"--{boundary}" not in epilogue:
        return []
    found: list[Message] = []
    for chunk in re.split(rf"^--{re.escape(boundary)}(?:--)?[ \t]*\r?$", epilogue, flags=re.MULTILINE)[1:]:
        if chunk.strip():
            found.append(parse(chunk.lstrip("\r\n").encode("utf-8", "surrogateescape")))
    return found


def _safe(call: Callable[[], T], default: T) -> T:
    try:
        return call()
    except Exception:
        return default


def body_bytes(raw: bytes) -> bytes:
    """The bytes after the header block, line endings normalised (for content digests that survive migration)."""
    text = raw.replace(b"\r\n", b"\n")
    _head, sep, body = text.partition(b"\n\n")
    return (body if sep else b"").rstrip()


def digest(*values: bytes | str | None) -> str:
    """sha256 hex over values separated unambiguously."""
    h = hashlib.sha256()
    for value in values:
        data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else (value or b"")
        h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def digest_bytes(data: bytes) -> str:
    """sha256 hex of bytes (the object store key of a stored part)."""
    return hashlib.sha256(data).hexdigest()

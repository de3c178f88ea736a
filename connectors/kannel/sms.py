"""Pure SMS text rules: decoding what Kannel hands over (coding, charset) and planning what we send (parts).

No I/O. The GSM 03.38 tables are the default alphabet and its extension table as 3GPP TS 23.038 lists them.
"""

from __future__ import annotations

import codecs
import math
from dataclasses import dataclass

# 3GPP TS 23.038 default alphabet, septet values 0x00..0x7F in order (0x1B is the escape to the extension table).
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: septet after 0x1B -> character (each costs two septets).
GSM_EXTENSION = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~", 0x3E: "]",
                 0x40: "|", 0x65: "€"}
_BASIC = frozenset(GSM_BASIC) - {"\x1b"}
_EXTENDED = frozenset(GSM_EXTENSION.values())

GSM7, UCS2 = 0, 2  # Kannel's `coding` values: 0 = 7-bit default alphabet, 1 = 8-bit data, 2 = UCS-2
SINGLE = {GSM7: 160, UCS2: 70}     # characters (septets / UTF-16 units) in a one-part SMS
PART = {GSM7: 153, UCS2: 67}       # ... and per part of a concatenated SMS (the UDH takes the rest)
_GSM_NAMES = {"gsm", "gsm7", "gsm-7", "gsm0338", "gsm03.38", "gsm-03.38"}
_UCS2_NAMES = {"", "ucs-2", "ucs2", "utf-16be", "utf-16", "iso-10646-ucs-2"}
_BINARY_NAMES = {"", "8-bit", "8bit", "binary"}


def gsm_decode(septets: bytes) -> str:
    """Unpacked GSM 7-bit (one septet per byte, as gateways pass it) -> text; unknown escapes become spaces."""
    out: list[str] = []
    escaped = False
    for value in septets:
        value &= 0x7F
        if escaped:
            out.append(GSM_EXTENSION.get(value, " "))
            escaped = False
        elif value == 0x1B:
            escaped = True
        else:
            out.append(GSM_BASIC[value])
    return "".join(out)


def decode_text(data: bytes, coding: int | None, charset: str) -> tuple[str, tuple[str, ...]]:
    """The SMS text Kannel passed (`%a`/POST body) as a str, and flags saying how it had to be read.

    `coding` 2 is UCS-2 (raw UTF-16BE unless smsbox recoded it, then `charset` says UTF-8); 0 is text in
    `charset` (UTF-8 with `mo-recode`, or Latin-1 / WINDOWS-1252 from SMSCs that use it; GSM when passed as
    septets); 1 is 8-bit data. Bytes that are not valid in the announced charset are read as Latin-1, the
    single-byte charset SMSCs use for data_coding 3, and flagged `sms_charset_fallback`.
    """
    name = charset.strip().lower()
    if name in _GSM_NAMES:
        return gsm_decode(data), ()
    if coding == UCS2 and name in _UCS2_NAMES:
        text = data.decode("utf-16-be", errors="replace")
        return text, (("sms_charset_fallback",) if len(data) % 2 or "\ufffd" in text else ())
    if name in _BINARY_NAMES or name == "utf-8":
        codec = "utf-8"
    else:
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            codec = "utf-8"
    try:
        return data.decode(codec), ()
    except UnicodeDecodeError:
        return data.decode("latin-1"), ("sms_charset_fallback",)


def coding_for(text: str) -> int:
    """GSM7 when every character is in the default alphabet or its extension, else UCS2."""
    return GSM7 if all(ch in _BASIC or ch in _EXTENDED for ch in text) else UCS2


def length(text: str, coding: int) -> int:
    """Units `text` takes in `coding`: septets (extension characters count two) or UTF-16 code units."""
    if coding == GSM7:
        return sum(2 if ch in _EXTENDED else 1 for ch in text)
    return len(text.encode("utf-16-be")) // 2


def parts(text: str, coding: int | None = None) -> int:
    """How many SMS one concatenated message of `text` takes."""
    code = coding_for(text) if coding is None else coding
    size = length(text, code)
    return 1 if size <= SINGLE[code] else math.ceil(size / PART[code])


@dataclass(frozen=True)
class Chunk:
    """One sendsms call: text that fits `max_parts` concatenated parts in `coding`."""

    text: str
    coding: int
    parts: int


def plan(text: str, max_parts: int) -> list[Chunk]:
    """`text` as sendsms calls of at most `max_parts` parts each (Kannel splits each into UDH parts).

    One call is the rule; a text too long for `max_parts` is cut at word boundaries into several, each a whole
    concatenated SMS, so nothing the reporter must read is dropped.
    """
    coding = coding_for(text)
    if parts(text, coding) <= max_parts:
        return [Chunk(text, coding, parts(text, coding))]
    budget = PART[coding] * max_parts
    chunks: list[Chunk] = []
    rest = text.strip()
    while rest:
        cut = _fit(rest, coding, budget)
        piece, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        chunks.append(Chunk(piece, coding, parts(piece, coding)))
    return chunks


def _fit(text: str, coding: int, budget: int) -> int:
    """The longest prefix of `text` within `budget` units, ending at a space when there is one."""
    used = 0
    end = len(text)
    for index, ch in enumerate(text):
        used += length(ch, coding)
        if used > budget:
            end = index
            break
    else:
        return len(text)
    space = text.rfind(" ", 0, end + 1)
    return space if space > end // 2 else max(end, 1)

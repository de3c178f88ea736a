"""Phone numbers as people write them -> one E.164 key, so a reporter is the same person on every channel.

"0812-3456-7890", "+62 (0)812 3456 7890", "62 0812 3456 7890", "0062 812 3456 7890", "812 3456 7890" and
"whatsapp:+6281234567890" are all +6281234567890. Parsing and validity come from `phonenumbers` (Google's
libphonenumber metadata), not from hand-written prefixes. Pure: no I/O, no logging (the input is personal).

Two questions, two functions: `normalise_phone` (lenient: is this *possibly* a number someone typed, for
matching a reporter across channels) and `e164` (strict: may a channel call this sender id a phone number,
`Reporter.contact`). Every channel asks here; there is no second phone module.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, ValidationResult

DEFAULT_REGION = "ID"
_SCHEME = re.compile(r"^(?:tel|sms|whatsapp|wa|tg):", re.IGNORECASE)
_NOT_DIAL = re.compile(r"[^0-9+]")


def _parse(text: str, region: str) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


def _possible(number: PhoneNumber) -> bool:
    """Possible as dialled from anywhere (a number possible only locally, without its area code, is not)."""
    return bool(phonenumbers.is_possible_number_with_reason(number) == ValidationResult.IS_POSSIBLE)


@functools.lru_cache(maxsize=4096)  # the router asks ~4 times per envelope (dedup, conversations, prompts)
def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """The number in E.164 (`+6281234567890`), or None when `raw` is not a possible phone number.

    Without a `+`, a number is read in `region` (Indonesia by default), except that a leading `00` (the
    international prefix people write, e.g. "0062 812...") and a leading country code of the region
    ("62 812...", "6281...") are read as international when that gives a valid number.
    """
    text = _SCHEME.sub("", raw.strip())
    if not text or "@" in text:
        return None
    compact = _NOT_DIAL.sub("", text.replace("(0)", ""))
    if not compact.strip("+"):
        return None
    candidates: list[str] = []
    if not compact.startswith("+"):
        if compact.startswith("00"):
            candidates.append("+" + compact[2:])
        code = str(phonenumbers.country_code_for_region(region))
        if code != "0" and compact.startswith(code):
            candidates.append("+" + compact)
    candidates.append(text)  # phonenumbers reads the national form, trunk 0 and "(0)" itself
    parsed = [n for n in (_parse(c, region) for c in candidates) if n is not None]
    chosen = next((n for n in parsed if phonenumbers.is_valid_number(n)), None)
    if chosen is None:
        chosen = next((n for n in parsed if _possible(n)), None)
    if chosen is None:
        return None
    return phonenumbers.format_number(chosen, PhoneNumberFormat.E164)


def contact_key(contact: str, region: str = DEFAULT_REGION) -> str:
    """One comparable form of a reporter's contact: an e-mail address lower-cased, a phone number in E.164,
    anything else trimmed and lower-cased (so two spellings of the same contact meet in dedup and look-ups)."""
    value = contact.strip()
    if "@" in value and not _SCHEME.match(value):
        return value.lower()
    return normalise_phone(value, region) or value.lower()


def e164(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """`raw` as E.164 when `phonenumbers` says it is a *valid* number, else None: what a channel may call a
    phone number (`Reporter.contact`).

    A leading `+` (or `00`), or the international form without it (`628...`, `14155552671`, as SMSCs and
    WhatsApp send it), is read as international; a national form (`0811...`) in `region`. Letters make it not
    a number (`US.1234`, `bla`, an alphanumeric SMS sender): `phonenumbers` would read them as a keypad's.
    """
    text = _SCHEME.sub("", raw.strip())
    if not text or any(ch.isalpha() for ch in text) or not any(ch.isdigit() for ch in text):
        return None
    found = normalise_phone(text, region)
    if found is not None and phonenumbers.is_valid_number(phonenumbers.parse(found, None)):
        return found
    digits = _NOT_DIAL.sub("", text)
    if digits.isdigit() and len(digits) > 8 and not digits.startswith("0"):
        international = _parse("+" + digits, region)  # "14155552671": the international form without its plus
        if international is not None and phonenumbers.is_valid_number(international):
            return phonenumbers.format_number(international, PhoneNumberFormat.E164)
    return None

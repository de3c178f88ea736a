"""Phone numbers as channels give them ("0812...", "+62 812-...", "62812...") -> E.164, or None when not one.

One place for every channel (SMS gateways, WhatsApp), so the same citizen gets the same reporter identity and a
string is only called a phone number when `phonenumbers` says it is a valid one.
"""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "ID"


def e164(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """`raw` as E.164 (`+628111272206`) when it is a valid number in `region`'s numbering plan, else None.

    A leading `+` or the international form without it (`628...`, as some SMSCs send it) is read as
    international; a national form (`0811...`) in `region`. Short codes and alphanumeric senders give None.
    """
    text = raw.strip()
    if not text or not any(ch.isdigit() for ch in text) or any(ch.isalpha() for ch in text):
        return None
    candidates = [text]
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith(("+", "0")) and len(digits) > 8:
        candidates.append("+" + digits)  # "6281298765432": the international form without its plus
    for candidate in candidates:
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None


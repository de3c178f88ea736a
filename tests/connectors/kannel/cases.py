"""Kannel sms-service requests as our kannel.conf's get-url makes them (fields %p %P %a %T %c %C %I %i %u %n)."""

from __future__ import annotations

from urllib.parse import quote_from_bytes

CITY = "08111272206"
CITY_E164 = "+628111272206"
CITIZEN = "081298765432"
CITIZEN_E164 = "+6281298765432"
SECRET = "kannel-test-secret-0123456789"
SENT = "1795488900"  # 2026-11-24 02:55 UTC, %T


def query(text: bytes | str = "Jalan rusak di Kemang", **fields: bytes | str) -> str:
    """The get-url's query string, values percent-encoded byte for byte as smsbox does."""
    values: dict[str, bytes | str] = {"from": CITIZEN, "to": CITY, "text": text, "time": SENT, "coding": "0",
                                      "charset": "UTF-8", "id": "3671240a-c2e9-401f-9e8f-797599d6f733",
                                      "smsc": "fake", "udh": "", "service": "default", **fields}
    return "&".join(f"{k}={quote_from_bytes(v.encode() if isinstance(v, str) else v)}" for k, v in values.items())


def raw(text: bytes | str = "Jalan rusak di Kemang", **fields: bytes | str) -> bytes:
    """The canonical form the connector hands the normaliser (the query plus the instance's region)."""
    return f"{query(text, **fields)}&region=ID".encode()

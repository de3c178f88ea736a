"""Twilio webhook bodies in Twilio's real wire format (form-encoded), written for Kanal's tests."""

from __future__ import annotations

from tests.fakes.twilio import ACCOUNT_SID, form

NUMBER = "+628111272206"
CITIZEN = "+6281234567890"


def sms(sid: str = "SM0a1b2c3d4e5f60718293a4b5c6d7e8f9", body: str = "Jalan rusak di Jl. Kemang Raya, mohon segera "
        "diperbaiki 🙏", **extra: str) -> bytes:
    """An inbound SMS, with the best-effort geo fields Twilio adds (often empty)."""
    return form([
        ("ToCountry", "ID"), ("ToState", ""), ("SmsMessageSid", sid), ("NumMedia", "0"), ("ToCity", ""),
        ("FromZip", ""), ("SmsSid", sid), ("FromState", ""), ("SmsStatus", "received"), ("FromCity", ""),
        ("Body", body), ("FromCountry", "ID"), ("To", NUMBER), ("ToZip", ""), ("NumSegments", "1"),
        ("MessageSid", sid), ("AccountSid", ACCOUNT_SID), ("From", CITIZEN), ("ApiVersion", "2010-04-01"),
        *extra.items(),
    ])


def whatsapp(sid: str = "SM5e1f2a3b4c5d6e7f8091a2b3c4d5e6f7", body: str = "Banjir setinggi lutut di depan "
             "SDN Pejaten 01 🌧️🌊", media: list[tuple[str, str]] | None = None, **extra: str) -> bytes:
    """An inbound WhatsApp message with ProfileName/WaId, optionally with media (url, content type)."""
    pairs = [
        ("SmsMessageSid", sid), ("NumMedia", str(len(media or []))), ("ProfileName", "Budi Santoso"),
        ("MessageType", "image" if media else "text"), ("SmsSid", sid), ("WaId", CITIZEN.lstrip("+")),
        ("SmsStatus", "received"), ("Body", body), ("To", f"whatsapp:{NUMBER}"), ("NumSegments", "1"),
        ("ReferralNumMedia", "0"), ("MessageSid", sid), ("AccountSid", ACCOUNT_SID),
        ("From", f"whatsapp:{CITIZEN}"), ("ApiVersion", "2010-04-01"),
    ]
    for n, (url, media_type) in enumerate(media or []):
        pairs += [(f"MediaContentType{n}", media_type), (f"MediaUrl{n}", url)]
    return form(pairs + list(extra.items()))


def whatsapp_location(sid: str = "SM7c8d9e0f1a2b3c4d5e6f708192a3b4c5") -> bytes:
    """A shared WhatsApp pin in Jakarta: Latitude/Longitude strings, Address, Label, empty Body."""
    return form([
        ("Latitude", "-6.1753924"), ("Longitude", "106.8271528"),
        ("Address", "Gambir, Kota Jakarta Pusat, Daerah Khusus Ibukota Jakarta 10110"), ("Label", "Monas"),
        ("SmsMessageSid", sid), ("NumMedia", "0"), ("ProfileName", "Siti"), ("MessageType", "location"),
        ("SmsSid", sid), ("WaId", "6281298765432"), ("SmsStatus", "received"), ("Body", ""),
        ("To", f"whatsapp:{NUMBER}"), ("NumSegments", "1"), ("MessageSid", sid), ("AccountSid", ACCOUNT_SID),
        ("From", "whatsapp:+6281298765432"), ("ApiVersion", "2010-04-01"),
    ])


def status(sid: str = "SM1f2e3d4c5b6a79880716253443526170", state: str = "read") -> bytes:
    """A status callback for an outbound reply (same endpoint): not a complaint."""
    return form([
        ("EventType", state.upper()), ("SmsSid", sid), ("SmsStatus", state), ("MessageStatus", state),
        ("ChannelToAddress", CITIZEN), ("To", f"whatsapp:{CITIZEN}"), ("ChannelPrefix", "whatsapp"),
        ("MessageSid", sid), ("AccountSid", ACCOUNT_SID), ("From", f"whatsapp:{NUMBER}"),
        ("ApiVersion", "2010-04-01"),
    ])

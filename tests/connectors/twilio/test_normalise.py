"""The pure Twilio normaliser, table-driven over Twilio's captured bodies (../shared) and Kanal's own."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.errors import BadPayload
from connectors.spec import NormaliseContext
from connectors.twilio.normalise import normalise
from schemas import envelope_id
from tests.conftest import shared_path
from tests.connectors.twilio.cases import CITIZEN, NUMBER, sms, status, whatsapp
from tests.fakes.twilio import form

CTX = NormaliseContext(channel="twilio", instance="twilio-sms", account=NUMBER,
                       received_at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
SAMPLES = ("samples", "twilio")


def test_shared_whatsapp_text() -> None:
    raw = shared_path(*SAMPLES, "twilio_whatsapp_inbound_text_botbuilder.form").read_bytes()
    (env,) = normalise(raw, CTX).envelopes
    assert env.text == "test" and env.kind == "direct_message"
    assert env.external_id == "SM892512e202b34d4109b10a3893fa9640"
    assert env.id == envelope_id("twilio", NUMBER, "SM892512e202b34d4109b10a3893fa9640")
    assert env.reporter.contact == "+31612345678" and env.reporter.handle == "whatsapp:+31612345678"


def test_shared_whatsapp_image_with_empty_body() -> None:
    raw = shared_path(*SAMPLES, "twilio_whatsapp_inbound_image_empty_body_botbuilder.form").read_bytes()
    (env,) = normalise(raw, CTX).envelopes
    assert env.text == ""
    (photo,) = env.attachments
    assert photo.kind == "image" and photo.media_type == "image/jpeg"
    assert photo.source_url == ("https://api.twilio.com/2010-04-01/Accounts/AC1a03647d811fab342c0ad608e382fab2/"
                                "Messages/MM21151abfaadc1fb79b782f8460862a52/Media/ME5f0afa2336bd0f73ca553fb5a2e3150bc")


def test_shared_whatsapp_location() -> None:
    raw = shared_path(*SAMPLES, "twilio_whatsapp_inbound_location_botbuilder.form").read_bytes()
    (env,) = normalise(raw, CTX).envelopes
    assert env.location is not None
    assert (env.location.lat, env.location.lon) == (52.303897857666016, 4.750025749206543)
    assert env.location.address == "Microsoft, Evert van de Beekstraat 354, Schiphol, North Holland 1118 CZ"


def test_shared_status_callback_is_ignored_not_a_complaint() -> None:
    raw = shared_path(*SAMPLES, "twilio_whatsapp_status_delivered_botbuilder.form").read_bytes()
    outcome = normalise(raw, CTX)
    assert outcome.envelopes == ()
    assert [i.reason for i in outcome.ignored] == ["status_callback"]


@pytest.mark.parametrize(("raw", "kind", "text", "media"), [
    (sms(), "sms", "Jalan rusak di Jl. Kemang Raya, mohon segera diperbaiki 🙏", 0),
    (sms(body="Sampah menumpuk di Jl. Ciledug Raya sudah 3 hari, bau sekali 🤢🤮"), "sms",
     "Sampah menumpuk di Jl. Ciledug Raya sudah 3 hari, bau sekali 🤢🤮", 0),
    (sms(body="ÀÉÎõü — 中文 — العربية"), "sms", "ÀÉÎõü — 中文 — العربية", 0),
    (whatsapp(), "direct_message", "Banjir setinggi lutut di depan SDN Pejaten 01 🌧️🌊", 0),
    (whatsapp(body="", media=[("https://api.twilio.com/m/ME1", "image/jpeg"),
                              ("https://api.twilio.com/m/ME2", "application/pdf")]), "direct_message", "", 2),
    (whatsapp(body="", ButtonText="Lapor banjir"), "direct_message", "Lapor banjir", 0),
], ids=["sms", "sms_emoji", "sms_unicode", "whatsapp", "whatsapp_two_media", "whatsapp_button"])
def test_inbound_messages(raw: bytes, kind: str, text: str, media: int) -> None:
    (env,) = normalise(raw, CTX).envelopes
    assert (env.kind, env.text, len(env.attachments)) == (kind, text, media)
    assert env.visibility == "private" and env.account == NUMBER
    assert env.reporter.contact == CITIZEN
    assert CITIZEN not in env.text and CITIZEN not in env.external_id


def test_media_kinds_and_missing_url_is_recorded_not_dropped() -> None:
    raw = whatsapp(media=[("https://api.twilio.com/m/ME1", "application/pdf")], NumMedia="2")
    (env,) = normalise(raw, CTX).envelopes
    assert [a.kind for a in env.attachments] == ["document", "other"]
    assert env.attachments[1].error and "MediaUrl1" in env.attachments[1].error


def test_whatsapp_flags_and_profile() -> None:
    (env,) = normalise(whatsapp(Forwarded="true", FrequentlyForwarded="true"), CTX).envelopes
    assert env.flags == ("forwarded", "frequently_forwarded")
    assert env.reporter.user_id == CITIZEN.lstrip("+") and env.reporter.display_name == "Budi Santoso"


def test_out_of_range_pin_is_flagged_and_message_kept() -> None:
    (env,) = normalise(whatsapp(Latitude="123.0", Longitude="106.8"), CTX).envelopes
    assert env.location is None and "location_invalid" in env.flags and env.text


def test_account_falls_back_to_the_to_number() -> None:
    ctx = NormaliseContext(channel="twilio", instance="x", account="", received_at=CTX.received_at)
    (env,) = normalise(whatsapp(), ctx).envelopes
    assert env.account == NUMBER


@pytest.mark.parametrize(("raw", "reason"), [
    (status(state="delivered"), "status_callback"),
    (status(state="failed"), "status_callback"),
    (sms(body=""), "empty_message"),
    (sms(SmsStatus="sent"), "not_inbound"),
])
def test_not_complaints_are_ignored_with_a_reason(raw: bytes, reason: str) -> None:
    outcome = normalise(raw.replace(b"SmsStatus=received&", b"") if reason == "not_inbound" else raw, CTX)
    assert outcome.envelopes == () and [i.reason for i in outcome.ignored] == [reason]


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "missing_field"),
    (form({"MessageSid": "SMabc", "Body": "tanpa pengirim"}), "missing_field"),
    (form({"From": CITIZEN, "Body": "tanpa sid"}), "missing_field"),
    (sms(NumMedia="dua"), "invalid_field"),
    (b"Body=\xc3\x28&MessageSid=SM1", "malformed_form"),
])
def test_unusable_bodies_raise_bad_payload(raw: bytes, reason: str) -> None:
    with pytest.raises(BadPayload) as err:
        normalise(raw, CTX)
    assert err.value.reason == reason


@pytest.mark.parametrize(("raw", "handle", "user_id"), [
    (sms(From="TELKOMSEL"), "TELKOMSEL", "TELKOMSEL"),
    (whatsapp(From="whatsapp:US.1234", WaId=""), "whatsapp:US.1234", "US.1234"),
    (whatsapp(From="whatsapp:bla", WaId=""), "whatsapp:bla", "bla"),
])
def test_a_sender_that_is_no_phone_number_is_never_a_contact(raw: bytes, handle: str, user_id: str) -> None:
    (env,) = normalise(raw, CTX).envelopes
    assert env.reporter.contact is None, "only a valid number is called a phone number (no '+US.1234', '+bla')"
    assert (env.reporter.handle, env.reporter.user_id) == (handle, user_id)

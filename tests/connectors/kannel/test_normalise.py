"""The pure parts of the Kannel channel: text decoding, numbers, times, ids, and planning replies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.errors import BadPayload
from connectors.kannel.normalise import normalise
from connectors.kannel.sms import GSM7, GSM_BASIC, UCS2, coding_for, decode_text, gsm_decode, parts, plan
from connectors.spec import NormaliseContext
from kanal.phone import e164
from tests.connectors.kannel.cases import CITIZEN_E164, CITY_E164, raw

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def run(data: bytes, account: str = "") -> list:  # type: ignore[type-arg]
    ctx = NormaliseContext(channel="kannel", instance="sms", account=account, received_at=NOW)
    return list(normalise(data, ctx).envelopes)


@pytest.mark.parametrize(("data", "coding", "charset", "text", "flags"), [
    ("Jalan rusak 😢".encode(), 0, "UTF-8", "Jalan rusak 😢", ()),                    # UCS-2 recoded by smsbox
    ("Jalan rusak 😢".encode("utf-16-be"), 2, "UTF-16BE", "Jalan rusak 😢", ()),      # raw UCS-2
    ("Jalan rusak 😢".encode("utf-16-be"), 2, "", "Jalan rusak 😢", ()),
    (b"caf\xe9 \xe0 Menteng", 0, "ISO-8859-1", "café à Menteng", ()),                 # Latin-1 SMSC
    (b"\x80 caf\xe9", 0, "WINDOWS-1252", "€ café", ()),
    (b"caf\xe9", 0, "UTF-8", "café", ("sms_charset_fallback",)),                     # mislabelled Latin-1
    (bytes([0x00, 0x1B, 0x65, 0x11, 0x04, 0x1B, 0x3C]), 0, "GSM", "@€_è[", ()),       # GSM 03.38 septets
    (b"First half, second half.", 1, "8-BIT", "First half, second half.", ()),
])
def test_text_is_decoded_as_coding_and_charset_say(data: bytes, coding: int, charset: str, text: str,
                                                   flags: tuple[str, ...]) -> None:
    assert decode_text(data, coding, charset) == (text, flags)


def test_gsm_default_alphabet_positions() -> None:
    assert len(GSM_BASIC) == 128 and len(set(GSM_BASIC)) == 128 and GSM_BASIC[0x1B] == "\x1b"
    assert [GSM_BASIC[i] for i in (0x00, 0x02, 0x11, 0x24, 0x40, 0x5F, 0x60, 0x7F)] == list("@$_¤¡§¿à")
    assert gsm_decode(bytes(range(0x41, 0x45))) == "ABCD"


def test_envelope_from_a_get_url_request() -> None:
    [env] = run(raw())
    assert (env.account, env.reporter.contact, env.reporter.handle) == (CITY_E164, CITIZEN_E164, CITIZEN_E164)
    assert env.created_at == datetime(2026, 11, 24, 2, 55, tzinfo=UTC) and env.received_at == NOW
    assert env.id == run(raw())[0].id  # a redelivery by Kannel (same %I) is the same envelope


def test_the_configured_account_wins_and_ids_differ_per_account() -> None:
    [mine] = run(raw(), account="+628111272206")
    [other] = run(raw(to="99899"))
    assert mine.account == CITY_E164 and other.account == "99899" and mine.id != other.id


@pytest.mark.parametrize("sender", ["TELKOMSEL", "bla", "+US.1234", "1234"])
def test_a_sender_that_is_not_a_number_has_no_contact(sender: str) -> None:
    [env] = run(raw(**{"from": sender}))
    assert env.reporter.contact is None and env.reporter.handle == sender == env.reporter.user_id


@pytest.mark.parametrize("when", ["asdf", "99999999999", "5", ""])
def test_an_implausible_time_is_the_receive_time_and_flagged(when: str) -> None:
    [env] = run(raw(time=when))
    assert env.created_at == NOW
    assert ("sms_time_invalid" in env.flags) == bool(when)


def test_without_a_kannel_id_the_same_sms_still_gets_one_id() -> None:
    first, second, other = run(raw(id="")), run(raw(id="")), run(raw("lain", id=""))
    assert first[0].id == second[0].id != other[0].id and first[0].external_id.startswith("sms-")


def test_a_part_kannel_could_not_join_is_flagged() -> None:
    [env] = run(raw("First half, ", udh=bytes([5, 0, 3, 0x42, 2, 1]), coding="1", charset="8-BIT"))
    assert "sms_part" in env.flags


def test_missing_sender_is_a_bad_payload() -> None:
    with pytest.raises(BadPayload, match="sender"):
        run(raw(**{"from": ""}))


@pytest.mark.parametrize(("raw_number", "expected"), [
    ("081298765432", "+6281298765432"), ("+62 812-9876-5432", "+6281298765432"), ("6281298765432", "+6281298765432"),
    ("08111272206", "+628111272206"), ("+14155552671", "+14155552671"), ("bla", None), ("+US.1234", None),
    ("1234", None), ("TELKOMSEL", None), ("", None),
])
def test_phone_numbers(raw_number: str, expected: str | None) -> None:
    assert e164(raw_number) == expected


def test_coding_and_parts() -> None:
    assert coding_for("Jalan [rusak] @ €10") == GSM7 and coding_for("Jalan rusak 😢") == UCS2
    assert (parts("a" * 160), parts("a" * 161), parts("€" * 80), parts("€" * 81)) == (1, 2, 1, 2)
    assert (parts("é" * 160), parts("😢" * 35), parts("😢" * 36)) == (1, 1, 2)  # an emoji is two UTF-16 units


def test_plan_keeps_one_call_until_max_parts_then_cuts_at_words() -> None:
    [one] = plan("kata " * 100, 4)
    assert (one.coding, one.parts) == (GSM7, 4)
    chunks = plan("kata " * 300, 2)
    assert all(c.parts <= 2 for c in chunks) and " ".join(c.text for c in chunks) == ("kata " * 300).strip()
    assert all(not c.text.endswith(" ") and not c.text.startswith(" ") for c in chunks)
    unicode = plan("Banjir 😢 " * 60, 3)
    assert all(c.coding == UCS2 and c.parts <= 3 for c in unicode)
    assert " ".join(c.text for c in unicode) == ("Banjir 😢 " * 60).strip()

"""Phone normalisation: every way people write an Indonesian number gives phonenumbers' own E.164 of it."""

from __future__ import annotations

from collections.abc import Callable

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat

from connectors.twilio.sender import addresses
from kanal.phone import contact_key, e164, normalise_phone
from schemas import Reporter
from tests.factories import envelope
from tests.notifier.messages import ack

# National significant numbers: mobiles (8xx, 9-12 digits) and Jakarta landlines (21 + 7-8 digits).
_MOBILE = st.builds(lambda rest: "8" + rest, st.text("0123456789", min_size=8, max_size=11))
_JAKARTA = st.builds(lambda rest: "21" + rest, st.text("0123456789", min_size=7, max_size=8))


def _truth(nsn: str) -> str:
    """What phonenumbers itself says the number is, from its unambiguous international form."""
    return phonenumbers.format_number(phonenumbers.parse("+62" + nsn, None), PhoneNumberFormat.E164)


def _valid(nsn: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse("+62" + nsn, None))


@st.composite
def _spaced(draw: st.DrawFn, digits: str) -> str:
    """`digits` with spaces, dashes or dots between random groups, as people type them."""
    out = []
    for i, d in enumerate(digits):
        if i and draw(st.integers(0, 3)) == 0:
            out.append(draw(st.sampled_from([" ", "-", ".", " - "])))
        out.append(d)
    return "".join(out)


_WRITINGS = ("0{n}", "+62 (0){n}", "62 0{n}", "0062 {n}", "+62{n}", "62{n}", "whatsapp:+62{n}", "tel:+62-{n}")


@settings(max_examples=300, deadline=None)
@given(nsn=st.one_of(_MOBILE, _JAKARTA), data=st.data())
def test_every_writing_of_an_indonesian_number_is_its_e164(nsn: str, data: st.DataObject) -> None:
    assume(_valid(nsn))
    written = data.draw(st.sampled_from(_WRITINGS)).format(n=data.draw(_spaced(nsn)))
    assert normalise_phone(written) == _truth(nsn), written


@settings(max_examples=200, deadline=None)
@given(nsn=_MOBILE, data=st.data())
def test_a_mobile_without_trunk_zero_is_the_same_number(nsn: str, data: st.DataObject) -> None:
    assume(_valid(nsn))
    assert normalise_phone(data.draw(_spaced(nsn))) == _truth(nsn)


_REGIONS = sorted(r for r in phonenumbers.SUPPORTED_REGIONS if phonenumbers.example_number(r) is not None)


@settings(max_examples=200, deadline=None)
@given(region=st.sampled_from(_REGIONS), double_zero=st.booleans())
def test_international_numbers_keep_their_country(region: str, double_zero: bool) -> None:
    example = phonenumbers.example_number(region)
    assert example is not None
    e164 = phonenumbers.format_number(example, PhoneNumberFormat.E164)
    written = ("00" + e164[1:]) if double_zero else phonenumbers.format_number(
        example, PhoneNumberFormat.INTERNATIONAL)
    assert normalise_phone(written) == e164


def _possible(number: phonenumbers.PhoneNumber) -> bool:
    return phonenumbers.is_possible_number_with_reason(number) == phonenumbers.ValidationResult.IS_POSSIBLE


@pytest.mark.parametrize(("normalise", "passes"), [
    pytest.param(normalise_phone, _possible, id="normalise_phone_gives_possible_numbers"),
    pytest.param(e164, phonenumbers.is_valid_number, id="e164_gives_valid_numbers"),
])
@settings(max_examples=300, deadline=None)
@given(raw=st.text(max_size=40))
def test_anything_gives_none_or_a_number_that_passes_and_is_stable(
        normalise: Callable[[str], str | None], passes: Callable[[phonenumbers.PhoneNumber], bool], raw: str) -> None:
    got = normalise(raw)
    if got is not None:
        assert got.startswith("+") and got[1:].isdigit()
        assert passes(phonenumbers.parse(got, None))
        assert normalise(got) == got == normalise_phone(got)


@pytest.mark.parametrize("raw", ["", "   ", "12", "08123", "+", "nama@contoh.id", "KNL-7Q1Z-BE3A-0MTP", "abc"])
def test_not_a_phone_number(raw: str) -> None:
    assert normalise_phone(raw) is None


def test_the_issue_examples_are_one_number() -> None:
    written = ["0812-3456-7890", "+62 (0)812-3456-7890", "62 0812 3456 7890", "0062 812 3456 7890",
               "812 3456 7890", "+6281234567890", "whatsapp:+6281234567890"]
    assert {normalise_phone(w) for w in written} == {"+6281234567890"}


def test_contact_key() -> None:
    assert contact_key(" Budi@Contoh.ID ") == "budi@contoh.id"
    assert contact_key("0812 3456 7890") == contact_key("whatsapp:+6281234567890") == "+6281234567890"
    assert contact_key(" Some Handle ") == "some handle"


@pytest.mark.parametrize(("raw", "expected"), [
    ("081298765432", "+6281298765432"), ("+62 812-9876-5432", "+6281298765432"), ("6281298765432", "+6281298765432"),
    ("whatsapp:+6281298765432", "+6281298765432"), ("14155552671", "+14155552671"), ("+14155552671", "+14155552671"),
    ("US.1234", None), ("+US.1234", None), ("US.13491208655302741918", None), ("bla", None), ("+bla", None),
    ("1-800-FLOWERS", None), ("TELKOMSEL", None), ("1234", None), ("972987654321", None), ("", None),
])
def test_e164_calls_only_valid_numbers_phone_numbers(raw: str, expected: str | None) -> None:
    assert e164(raw) == expected



@settings(max_examples=150, deadline=None)
@given(nsn=_MOBILE, data=st.data())
def test_replies_go_to_the_number_the_reporter_is_known_by(nsn: str, data: st.DataObject) -> None:
    """However the reporter's number was written, the SMS gateway and Twilio send to phonenumbers' E.164 of it,
    the same key the router compares reporters by."""
    assume(_valid(nsn))
    written = data.draw(st.sampled_from(_WRITINGS)).format(n=data.draw(_spaced(nsn)))
    truth = _truth(nsn)
    assert e164(written) == truth == contact_key(written)
    ours = "+628111272206"
    sms = envelope("m-1", reporter=Reporter(contact=written))
    expected = ((f"whatsapp:{ours}", f"whatsapp:{truth}") if written.startswith("whatsapp:") else (ours, truth))
    assert addresses(ack(sms), ours) == expected
    chat = envelope("m-2", kind="direct_message", reporter=Reporter(contact=written))
    assert addresses(ack(chat), ours) == (f"whatsapp:{ours}", f"whatsapp:{truth}")

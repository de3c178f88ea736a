"""The envelope contract: round trips, stable ids, strict errors that name the field."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import (
    Envelope,
    SchemaError,
    UnsupportedVersion,
    decode_envelope,
    encode,
    envelope_id,
    report_ref,
)
from tests.factories import envelope, envelopes


@given(envelopes())
def test_every_valid_envelope_survives_encode_decode(env: Envelope) -> None:
    assert decode_envelope(encode(env)) == env


@given(envelopes())
def test_id_is_stable_and_depends_only_on_channel_account_external_id(env: Envelope) -> None:
    again = envelope_id(env.channel, env.account, env.external_id)
    assert again == env.id
    assert envelope_id(env.channel, env.account, env.external_id + "x") != env.id
    assert envelope_id(env.channel + "x", env.account, env.external_id) != env.id


def test_id_separates_fields_unambiguously() -> None:
    assert envelope_id("twilio", "ab", "c") != envelope_id("twilio", "a", "bc")


def test_report_ref_is_short_readable_and_stable() -> None:
    env = envelope()
    assert env.ref == report_ref(env.id)
    assert len(env.ref) == len("KNL-XXXX-XXXX-XXXX")
    assert env.ref.startswith("KNL-")
    assert not set(env.ref[4:].replace("-", "")) & set("ILOU")


def _broken(**changes: object) -> bytes:
    data = json.loads(encode(envelope()))
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        ({"location": {"lat": 95.0, "lon": 106.8, "source": "gps"}}, "$.location.lat", "<= 90"),
        ({"kind": "fax"}, "$.kind", "Invalid enum value 'fax'"),
        ({"id": "not-hex"}, "$.id", "matching regex"),
        ({"created_at": "2026-11-24T03:00:00"}, "$.created_at", "timezone"),
        ({"reporter__nik": "12345"}, "$.reporter.nik", "matching regex"),
        ({"instance": "two words"}, "$.instance", "matching regex"),
        ({"surprise": 1}, "$", "unknown field `surprise`"),
    ],
)
def test_invalid_envelope_names_field_and_reason(change: dict[str, object], path: str, reason: str) -> None:
    with pytest.raises(SchemaError) as caught:
        decode_envelope(_broken(**change))
    assert caught.value.path == path
    assert reason in caught.value.reason
    assert path in str(caught.value)


def test_missing_required_field_is_named() -> None:
    data = json.loads(encode(envelope()))
    del data["text"]
    with pytest.raises(SchemaError, match=r"missing required field `text`"):
        decode_envelope(json.dumps(data))


def test_unknown_version_is_its_own_error() -> None:
    with pytest.raises(UnsupportedVersion) as caught:
        decode_envelope(_broken(v=2, new_field="x"))
    assert caught.value.version == 2


def test_garbage_bytes_are_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="not valid JSON"):
        decode_envelope(b"\xff\x00{")


def test_envelope_is_frozen() -> None:
    env = envelope()
    with pytest.raises(AttributeError):
        env.text = "changed"  # type: ignore[misc]


def test_json_schema_lists_required_fields() -> None:
    schema = msgspec.json.schema(Envelope)
    required = set(schema["$defs"]["Envelope"]["required"])
    assert {"id", "channel", "instance", "account", "external_id", "kind", "text"} <= required


@settings(max_examples=300)
@given(st.binary(min_size=16, max_size=16))
def test_report_ref_is_crockford_base32_of_the_first_60_bits(raw: bytes) -> None:
    digits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    number = int(raw.hex()[:15], 16)
    chars = "".join(digits[(number >> shift) & 31] for shift in range(55, -5, -5))  # the definition, digit by digit
    assert report_ref(raw.hex()) == f"KNL-{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def test_product_is_part_of_the_id_and_absent_means_the_v1_formula() -> None:
    ids = {envelope_id("meta", "104729381029384", "m_1", product) for product in ("facebook", "instagram", "whatsapp")}
    assert len(ids) == 3
    assert envelope_id("meta", "1", "m_1", "whatsapp") != envelope_id("meta", "1", "m_1")
    assert envelope_id("meta", "1", "m_1", None) == envelope_id("meta", "1", "m_1")
    assert envelope_id("meta", "1", "m_1", "") != envelope_id("meta", "1", "m_1")

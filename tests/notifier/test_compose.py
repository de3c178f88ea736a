"""Pure composition rules: words, privacy, quiet hours, opt-out commands."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notifier import compose
from notifier.settings import OutboundSettings
from schemas import Decision, Envelope, Reporter, RoutedItem, StatusUpdate, encode
from schemas.outbound import decode_outbound, reply_address
from tests.factories import NOW, envelope

SETTINGS = OutboundSettings(channels=["twilio", "hook"], quiet_hours="21:00-06:00")


def _item(env: Envelope | None = None, **fields: object) -> RoutedItem:
    env = env or envelope(**fields)  # type: ignore[arg-type]
    return RoutedItem(kind="item", item_id=env.id, ref=env.ref, envelope=env, routed_at=NOW,
                      decision=Decision(rule_id="geo", rule_type="geo", queue="kelurahan.3171011001", reason="r"))


def test_ack_is_indonesian_with_reference_and_status_url() -> None:
    item = _item()
    message = compose.for_routed(item, SETTINGS, NOW)
    assert message.purpose == "ack"
    assert item.ref in message.text
    assert "Terima kasih" in message.text
    assert f"/laporan/{item.ref}" in message.text
    assert message.public_allowed is False  # an SMS is private


def test_public_reply_only_for_public_non_anonymous_reports() -> None:
    public = _item(visibility="public", kind="post")
    anonymous = _item(visibility="public", kind="post", reporter=Reporter(handle="@warga", anonymous=True))
    assert compose.for_routed(public, SETTINGS, NOW).public_allowed is True
    assert compose.for_routed(anonymous, SETTINGS, NOW).public_allowed is False


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"flags": ("auto_reply",)}, "automatic mail"),
        ({"channel": "lapor"}, "no outbound sender"),
        ({"kind": "article"}, "news articles"),
        ({"reporter": Reporter()}, "no address"),
    ],
)
def test_reporters_that_are_not_answered_say_why(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(compose.Skip, match=reason):
        compose.for_routed(_item(**fields), SETTINGS, NOW)


def test_final_stage_says_it_is_finished_and_carries_the_note() -> None:
    env = envelope()
    update = StatusUpdate(item_id=env.id, ref=env.ref, stage="selesai", queue="kelurahan.3171011001", by="lurah",
                          at=NOW, note="Jalan sudah ditambal.")
    message = compose.for_status(update, reply_address(env), SETTINGS, datetime(2026, 11, 24, 5, 0, tzinfo=UTC))
    assert message.purpose == "final"
    assert "Selesai" in message.text
    assert "Jalan sudah ditambal." in message.text


def test_quiet_hours_delay_status_updates_until_morning_in_jakarta() -> None:
    late = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)  # 22:30 WIB
    until = compose.quiet_until(SETTINGS, late)
    assert until == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 06:00 WIB next day
    assert compose.quiet_until(SETTINGS, datetime(2026, 11, 24, 3, 0, tzinfo=UTC)) is None  # 10:00 WIB
    early = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)  # 04:00 WIB
    assert compose.quiet_until(SETTINGS, early) == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)


def test_ids_are_stable_per_item_purpose_and_stage() -> None:
    item = _item()
    assert compose.for_routed(item, SETTINGS, NOW).id == compose.for_routed(item, SETTINGS, NOW).id


@pytest.mark.parametrize(("text", "command"), [("BERHENTI", "out"), (" stop! ", "out"), ("Mulai", "in"),
                                               ("stop banjirnya dong", None)])
def test_opt_commands(text: str, command: str | None) -> None:
    from kanal.control import ConversationSettings, classify, control_words

    words = control_words(ConversationSettings(), SETTINGS.opt_out_words, SETTINGS.opt_in_words)
    found = classify(envelope("o", text=text, kind="direct_message"), words)
    assert {"opt_out": "out", "opt_in": "in"}.get(found.kind if found else "") == command


def test_english_when_the_reporter_wrote_english() -> None:
    assert "Thank you" in compose.for_routed(_item(language="en"), SETTINGS, NOW).text


def test_the_reply_address_carries_how_to_answer_and_nothing_of_the_complaint() -> None:
    reporter = Reporter(contact="+6281234567890", user_id="+6281234567890", nik="3171012345678901")
    env = envelope(text="Jalan berlubang di depan rumah saya", reporter=reporter)
    message = compose.for_routed(_item(env), SETTINGS, NOW)
    wire = encode(message)
    assert b"Jalan berlubang" not in wire
    assert b"3171012345678901" not in wire
    assert message.reply_to.external_id == env.external_id
    assert message.reply_to.reporter.contact == env.reporter.contact
    assert decode_outbound(wire) == message


def test_a_message_written_with_the_whole_envelope_as_reply_to_still_decodes() -> None:
    """Messages queued on KANAL_OUT before the reply address (v1.1) held the whole envelope."""
    env = envelope()
    message = compose.for_routed(_item(env), SETTINGS, NOW)
    old = encode(message).replace(encode(message.reply_to), encode(env))
    assert encode(env) in old
    assert decode_outbound(old).reply_to == reply_address(env)

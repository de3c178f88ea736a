"""Any `from` WhatsApp could put in a message: a contact only when it is a valid phone number, and the
message is either published or dead-lettered with a reason, never dropped."""

from __future__ import annotations

from datetime import UTC, datetime

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.meta.normalise import normalise
from connectors.spec import NormaliseContext
from tests.connectors.meta import bodies as b

CTX = NormaliseContext(channel="meta", instance="meta-test", account="*",
                       received_at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
_SENDERS = st.one_of(
    st.text(max_size=24),
    st.text("0123456789", min_size=1, max_size=17),
    st.builds(lambda cc, rest: f"{cc}.{rest}", st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
              st.text("abcXYZ0123456789", min_size=1, max_size=30)),
)


@settings(max_examples=300, deadline=None)
@given(sender=_SENDERS, user_id=st.one_of(st.none(), st.just(b.BSUID), st.text(max_size=12)))
def test_any_sender_is_a_valid_contact_or_none_and_nothing_is_lost(sender: str, user_id: str | None) -> None:
    extra = {"from_user_id": user_id} if user_id is not None else {}
    outcome = normalise(b.whatsapp(b.wa(b.wamid(70), "text", {"body": "Jalan rusak"}, sender=sender, **extra),
                                   contacts=[{"profile": {"name": "Warga"}}]), CTX)
    assert len(outcome.envelopes) + len(outcome.rejected) == 1, outcome
    for envelope in outcome.envelopes:
        contact = envelope.reporter.contact
        assert contact is None or phonenumbers.is_valid_number(phonenumbers.parse(contact, None)), contact
        assert contact or envelope.reporter.user_id, "a published message has a sender to answer"
    for letter in outcome.rejected:
        assert letter.reason in ("invalid_sender", "missing_sender") and letter.detail
        if len(sender.strip()) >= 6:
            assert sender not in letter.detail, "the detail (logged) never echoes the sender id"

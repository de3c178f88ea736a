"""The reporter's latest inbound message (KV `kanal_reporters`, `seen.<reporter>`), on a real nats-server."""

from __future__ import annotations

from datetime import timedelta

import msgspec
from nats.aio.client import Client as NATS

from kanal import bus
from notifier import window
from schemas import subjects
from schemas.outbound import reply_address
from tests.factories import NOW, envelope
from tests.notifier.messages import final


async def test_the_newest_message_of_the_reporter_is_kept_whatever_the_order(provisioned: NATS) -> None:
    kv = await bus.ensure_kv(provisioned.jetstream(), subjects.KV_REPORTERS)
    report = envelope("wa-1", kind="direct_message", created_at=NOW - timedelta(days=4))
    later = envelope("wa-2", kind="direct_message", created_at=NOW - timedelta(hours=3))
    await window.note_inbound(kv, report)
    await window.note_inbound(kv, later)
    await window.note_inbound(kv, report)  # a late redelivery of the older message changes nothing
    message = await window.stamp(kv, final(report))
    assert message.last_inbound_at == later.created_at
    stored = (await kv.get(window.seen_key(report))).value or b""
    assert b"+62" not in stored and "+62" not in window.seen_key(report), "no phone number in KV"


async def test_without_a_newer_message_the_report_itself_counts(provisioned: NATS) -> None:
    kv = await bus.ensure_kv(provisioned.jetstream(), subjects.KV_REPORTERS)
    report = envelope("wa-3", kind="direct_message", created_at=NOW - timedelta(days=4))
    await window.note_inbound(kv, report)
    assert (await window.stamp(kv, final(report))).last_inbound_at is None


async def test_other_reporters_and_non_conversations_are_not_mixed_up(provisioned: NATS) -> None:
    kv = await bus.ensure_kv(provisioned.jetstream(), subjects.KV_REPORTERS)
    report = envelope("wa-4", kind="direct_message", created_at=NOW - timedelta(days=4))
    someone = envelope("wa-5", kind="direct_message", created_at=NOW,
                       reporter=msgspec.structs.replace(report.reporter, contact="+6281298765432",
                                                        user_id="+6281298765432"))
    sms = envelope("sms-1", kind="sms", created_at=NOW - timedelta(days=9))
    await window.note_inbound(kv, someone)
    await window.note_inbound(kv, sms)
    assert (await window.stamp(kv, final(report))).last_inbound_at is None
    assert window.seen_key(reply_address(someone)) == window.seen_key(someone)
    assert [k for k in await kv.keys() if k.startswith("seen.")] == [window.seen_key(someone)]

"""Messages that are not complaints: classified once (kanal/control.py), recorded on the conversation, no item."""

from __future__ import annotations

import msgspec
import pytest
from nats.aio.client import Client as NATS

from kanal.control import ConversationSettings, classify, control_words, find_ref, words
from router.conversations import ControlRecord, conversation_key
from router.service import Router
from schemas import Attachment, Location, Reporter, subjects
from tests.factories import envelope, later
from tests.router.helpers import drain, publish, routed

WORDS = control_words(ConversationSettings(), ["STOP", "BERHENTI"], ["START", "MULAI"])
REF = "KNL-7Q1Z-BE3A-0MTP"


@pytest.mark.parametrize(("text", "kind", "ref"), [
    ("STOP", "opt_out", None), ("berhenti!", "opt_out", None), ("Mulai", "opt_in", None),
    (REF, "status", REF), (f"status {REF.lower()}", "status", REF), (f"cek {REF}?", "status", REF),
    ("sudah sampai mana laporan saya KNL 7Q1Z BE3A 0MTP ?", "status", REF),
    ("Terima kasih 🙏", "no_complaint", None), ("halo", "no_complaint", None), ("👍👍", "no_complaint", None),
    ("Selamat pagi!!", "no_complaint", None), ("", "no_complaint", None),
    ("Pohon tumbang di Jalan Kemang Raya", None, None),
    (f"{REF} pohonnya belum juga dipotong, jalan masih tertutup", None, None),  # text with a ref: not a question
    ("stop truk sampah parkir di trotoar", None, None),
])
def test_classify(text: str, kind: str | None, ref: str | None) -> None:
    got = classify(envelope("c", text=text, kind="direct_message"), WORDS)
    assert (got.kind if got else None, got.ref if got else None) == (kind, ref)


@pytest.mark.parametrize(("text", "said"), [
    ("Terima kasih 🙏!!", "terima kasih"), ("STRASSE Straße", "strasse strasse"),  # casefold, not lower
    ("snake_case—dash…dots", "snake case dash dots"), ("٣ أيام ١٢", "٣ أيام ١٢"),  # any script's letters, digits
    ("½ ² Ⅻ", "½ ² ⅻ"), ("\u200b\t\n", ""), ("👍👍", ""),
])
def test_words_keep_letters_and_digits_of_any_script(text: str, said: str) -> None:
    assert words(text) == said


def test_content_is_never_control() -> None:
    photo = envelope("p", text="terima kasih", attachments=(Attachment(kind="image", sha256="a" * 64),))
    pin = envelope("l", text="", location=Location(lat=-6.2, lon=106.8, source="gps"))
    form = envelope("f", channel="app", instance="app", account="jaki", kind="report", text="halo")
    assert [classify(e, WORDS) for e in (photo, pin, form)] == [None, None, None]


def test_find_ref_ignores_what_is_not_crockford() -> None:
    assert find_ref("lihat knl-7q1z-be3a-0mtp ya") == REF
    assert find_ref("KNL-7Q1Z-BE3A-0MTU") is None


def test_conversation_key_is_the_reporter_across_contact_spellings() -> None:
    a = envelope("a", reporter=Reporter(contact="0812 3456 7890"))
    b = envelope("b", reporter=Reporter(contact="+62 812-3456-7890"))
    c = envelope("c", reporter=Reporter(contact="+62 812-3456-7891"))
    assert conversation_key(a) == conversation_key(b) != conversation_key(c)


async def test_control_messages_make_no_item_and_are_recorded(provisioned: NATS, router: Router) -> None:
    complaint = envelope("m1", kind="direct_message", text="Saluran air mampet di Jalan Alpha sudah seminggu")
    controls = [envelope(f"c{n}", kind="direct_message", text=text, received_at=later(n + 1))
                for n, text in enumerate(["STOP", f"status {complaint.ref}", "terima kasih 🙏", "👍"])]
    await publish(provisioned, complaint, *controls)
    await drain(router)
    items = await routed(provisioned)
    assert [i.item_id for i in items] == [complaint.id]
    kv = await provisioned.jetstream().key_value(subjects.KV_CONVERSATIONS)
    conv = conversation_key(complaint)
    records = {}
    for env in controls:
        entry = await kv.get(f"ctl.{conv}.{env.id}")
        records[env.id] = msgspec.json.decode(entry.value or b"", type=ControlRecord)
    assert [(records[e.id].kind, records[e.id].ref) for e in controls] == [
        ("opt_out", None), ("status", complaint.ref), ("no_complaint", None), ("no_complaint", None)]
    metrics = {k: router.metrics.control.labels(k)._value.get() for k in ("opt_out", "status", "no_complaint")}
    assert metrics == {"opt_out": 1, "status": 1, "no_complaint": 2}

"""Follow-ups on a real nats-server: by reference from the same reporter, by e-mail thread; never a new item."""

from __future__ import annotations

from datetime import UTC, datetime

from nats.aio.client import Client as NATS

from kanal.references import References
from notifier import compose
from notifier.settings import OutboundSettings
from router.service import Router
from schemas import Attachment, Location, Reporter, Thread
from schemas.routed import RoutedItem
from tests.factories import envelope, later
from tests.router.helpers import drain, publish, routed

PIN = Location(lat=-6.195, lon=106.805, source="gps")  # inside kelurahan Alpha (3199011001)
BUDI = Reporter(user_id="555", handle="budi_s")


def _tg(external_id: str, text: str, who: Reporter = BUDI, minutes: float = 0, **fields: object):  # type: ignore[no-untyped-def]
    fields.setdefault("thread", Thread(conversation=f"telegram:{who.user_id}"))
    return envelope(external_id, channel="telegram", instance="tg-1", account="kanalbot", kind="direct_message",
                    text=text, reporter=who, received_at=later(minutes), **fields)


def _mail(external_id: str, text: str, sender: str, minutes: float = 0, thread: Thread | None = None,
          subject: str = "Laporan"):  # type: ignore[no-untyped-def]
    return envelope(external_id, channel="email", instance="mail-1", account="aduan@jakarta.go.id", kind="email",
                    text=text, subject=subject, received_at=later(minutes), thread=thread,
                    reporter=Reporter(contact=sender, user_id=sender))


async def test_a_reference_from_its_reporter_attaches_and_from_someone_else_is_text(
        provisioned: NATS, router: Router) -> None:
    report = _tg("1", "Pohon tumbang menutup jalan, mohon segera dipotong", location=PIN)
    await publish(provisioned, report)
    await drain(router)
    photo = (Attachment(kind="image", sha256="b" * 64, media_type="image/jpeg"),)
    follow = _tg("2", f"{report.ref.lower()} kok belum ada petugas? ini fotonya", minutes=60 * 30,
                 attachments=photo)
    stranger = _tg("3", f"{report.ref} kok belum ada petugas? jalan masih tertutup pohon",
                   who=Reporter(user_id="777"), minutes=60 * 30 + 1)
    await publish(provisioned, follow, stranger, follow)  # the follow-up delivered twice
    await drain(router)
    items = {i.item_id: i for i in await routed(provisioned)}
    assert set(items) == {report.id, follow.id, stranger.id}
    first, added, other = items[report.id], items[follow.id], items[stranger.id]
    assert first.kind == "item" and first.decision.queue == "kelurahan.3199011001"
    assert (added.kind, added.follow_up_of, added.dedup.duplicate_of) == ("duplicate", report.id, report.id)
    assert added.decision.queue == first.decision.queue  # the report's queue, whatever the text says
    assert added.decision.reason.startswith(f"follow-up: the reference of {report.ref} from its reporter")
    assert added.envelope.attachments == photo
    assert other.follow_up_of is None and other.kind == "item", "someone else's reference is plain text"
    assert router.metrics.duplicates.labels("follow_up")._value.get() == 1

    # the reporter is told the addition was received, under the report's reference
    message = compose.for_routed(added, OutboundSettings(channels=["telegram"]), datetime.now(UTC))
    assert message.text.startswith(f"Tambahan untuk laporan {report.ref} diterima.")
    # the follow-up's own reference shows its report's stage
    status = await References().report_status(provisioned.jetstream(), follow.ref)
    assert status is not None and status.stage == "menunggu"


async def test_an_email_reply_in_the_reports_thread_attaches(provisioned: NATS, router: Router) -> None:
    report = _mail("abc123@mail.example#0011223344556677", "Got mampet di kel. Beta sudah seminggu, bau sekali",
                   "warga@contoh.id")
    await publish(provisioned, report)
    await drain(router)
    # Our acknowledgement is threaded under the report; the citizen answers it: References root = the report.
    ack_id = "kanal.0123456789abcdef@jakarta.go.id"
    reply = _mail("re1@mail.example#8899aabbccddeeff", "Sudah tiga minggu, sekarang meluap ke jalan",
                  "Warga@Contoh.id", minutes=90, subject="Re: Laporan",
                  thread=Thread(conversation="abc123@mail.example", reply_to=ack_id))
    other = _mail("re2@mail.example#8899aabbccddee00", "Saya tetangganya, got di depan rumah saya juga mampet",
                  "tetangga@contoh.id", minutes=91, subject="Re: Laporan",
                  thread=Thread(conversation="abc123@mail.example", reply_to=ack_id))
    await publish(provisioned, reply, other)
    await drain(router)
    items: dict[str, RoutedItem] = {i.item_id: i for i in await routed(provisioned)}
    assert items[reply.id].follow_up_of == report.id
    assert items[reply.id].decision.queue == items[report.id].decision.queue
    assert items[other.id].follow_up_of is None, "another address in the thread is not the reporter"


async def test_a_chat_reply_to_our_acknowledgement_attaches(provisioned: NATS, router: Router) -> None:
    from kanal import bus, sends
    from schemas import subjects

    report = _tg("10", "Lampu jalan mati sepanjang gang, gelap sekali kalau malam", location=PIN)
    await publish(provisioned, report)
    await drain(router)
    # The Telegram sender loop sent our acknowledgement as message 9001 in the chat and recorded it.
    outbound = await bus.ensure_kv(provisioned.jetstream(), subjects.KV_OUTBOUND, history=5)
    await sends.remember_reply(outbound, "telegram", "tg-1", "555:9001", report.ref)
    reply = _tg("11", "Sudah dua malam masih gelap", minutes=600,
                thread=Thread(conversation="telegram:555", reply_to="555:9001"))
    stranger = _tg("12", "Di gang saya juga gelap", who=Reporter(user_id="777"), minutes=601,
                   thread=Thread(conversation="telegram:777", reply_to="555:9001"))
    other_reply = _tg("13", "Ada pohon tumbang di Jalan Alpha", minutes=602,
                      thread=Thread(conversation="telegram:555", reply_to="555:42"))  # a reply to their own message
    await publish(provisioned, reply, stranger, other_reply)
    await drain(router)
    items = {i.item_id: i for i in await routed(provisioned)}
    assert items[reply.id].follow_up_of == report.id
    assert items[reply.id].decision.reason.startswith(f"follow-up: a reply to our message about {report.ref}")
    assert items[stranger.id].follow_up_of is None and items[other_reply.id].follow_up_of is None

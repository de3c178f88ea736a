"""Reports, not messages, end to end (issue #15): real webhooks into `kanal up`, answers at the fake providers.

- text, pin and photo within the quiet window -> one report with all three in the kelurahan queue;
- text only -> a location request reaches the reporter (Telegram's request_location button, WhatsApp's
  location_request_message, Twilio WhatsApp and Messenger in words), then a pin (or a place named in text)
  -> the one report ends in the kelurahan queue, and the answer is no item;
- a follow-up by reference, by reply and by e-mail thread (a real Dovecot, a local SMTP server) -> no new
  item, shown on the report;
- STOP, "status KNL-...", "terima kasih" -> no item (and the status question is answered).

One system for the module; each test uses its own reporters, so the tests do not see each other's items.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import pytest
from nats.js.errors import KeyNotFoundError

from connectors.telegram.normalise import chat_key
from kanal import sends
from notifier import compose
from schemas import subjects
from schemas.outbound import SendRecord
from schemas.routed import RoutedItem
from tests.connectors.meta.bodies import messenger, page, wa, wamid, whatsapp
from tests.e2e.system import NUMBER, System, running, until
from tests.fakes import dovecot as dovecot_fake
from tests.fakes.telegram import message, user
from tests.fakes.twilio import ACCOUNT_SID

pytestmark = pytest.mark.slow

ALPHA, BETA = "kelurahan.3199011001", "kelurahan.3199011002"
PIN = (-6.195, 106.805)  # inside kelurahan Alpha of the test boundaries (tests/router/fixtures.py)


@pytest.fixture(scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    async with running(tmp_path_factory.mktemp("e2e")) as found:
        yield found


def _tg(message_id: int, who: int, **content: Any) -> dict[str, Any]:
    """An Update with a private-chat message from user `who`, dated now."""
    body = message(message_id, sender=user(who, first=f"Warga{who}", username=None), **content)
    return {"update_id": 900000000 + message_id, "message": {**body, "date": int(time.time())}}


def _reports_of(items: list[tuple[str, RoutedItem]], *ids: str) -> list[tuple[str, RoutedItem]]:
    return [(q, it) for q, it in items if it.envelope.id in ids or it.item_id in ids]


async def _sent_to_chat(system: System, chat: int, count: int) -> list[dict[str, Any]]:
    async def found() -> list[dict[str, Any]]:
        mine = [p for _, _, p in system.telegram.sent if int(p.get("chat_id", 0)) == chat]
        return mine if len(mine) >= count else []
    return await until(found, f"{count} Telegram message(s) to chat {chat}", system)


async def _item_in(system: System, queue: str, text_part: str) -> RoutedItem:
    async def found() -> RoutedItem | None:
        return next((it for q, it in await system.items() if q == queue and text_part in it.envelope.text), None)
    return await until(found, f"an item with {text_part!r} in {queue}", system)


async def test_telegram_text_then_pin_ends_in_the_kelurahan_queue(system: System) -> None:
    who = 5512000001
    await system.telegram_update(_tg(101, who, text="Pohon tumbang menutup jalan, mohon segera dipotong"))
    [asked] = await _sent_to_chat(system, who, 1)
    assert "Di mana lokasinya?" in asked["text"]
    button = asked["reply_markup"]["keyboard"][0][0]
    assert button == {"text": "📍 Kirim lokasi", "request_location": True}
    report = await _item_in(system, "triage", "Pohon tumbang menutup jalan")
    assert report.missing == ("location",)
    await system.inputs_done()  # its location request is recorded before its input is acked

    await system.telegram_update(_tg(102, who, location={"latitude": PIN[0], "longitude": PIN[1]}))
    moved = await _item_in(system, ALPHA, "Pohon tumbang menutup jalan")
    assert moved.item_id == report.item_id and moved.ref == report.ref
    assert moved.envelope.location is not None and (moved.envelope.location.lat, moved.envelope.location.lon) == PIN
    assert moved.reroutes[-1].by == "router" and moved.reroutes[-1].from_queue == "triage"
    await system.inputs_done()
    mine = [(q, it) for q, it in await system.items() if it.envelope.reporter.user_id == str(who)]
    assert [(q, it.item_id) for q, it in mine] == [("triage", report.item_id), (ALPHA, report.item_id)], \
        "the pin made no item of its own"
    assert [e.stored.item.item_id for e in await system.entries("triage")
            if e.stored.item.item_id == report.item_id] == [], "no longer open in triage"
    told = await _sent_to_chat(system, who, 2)
    assert f"lokasi laporan {report.ref} sudah kami terima" in told[1]["text"]


async def test_whatsapp_cloud_text_then_pin(system: System) -> None:
    sender = "6281311110001"
    now = str(int(time.time()))
    await system.meta_event(whatsapp(wa(wamid(201), "text", {"body": "Lampu jalan mati di gang kami"},
                                        sender=sender, timestamp=now),
                                     contacts=[{"profile": {"name": "Siti"}, "wa_id": sender}]))

    async def asked() -> list[dict[str, Any]]:
        return [p.body for p in system.graph.sent if p.body.get("to") == sender]
    [request] = await until(asked, "the WhatsApp location request", system)
    assert request["type"] == "interactive"
    assert request["interactive"]["type"] == "location_request_message"
    assert request["interactive"]["action"] == {"name": "send_location"}
    assert "Di mana lokasinya?" in request["interactive"]["body"]["text"]
    await system.inputs_done()
    pin = {"latitude": PIN[0], "longitude": PIN[1], "name": "Gang Kenari", "address": "Jl. Alpha Raya"}
    await system.meta_event(whatsapp(wa(wamid(202), "location", pin, sender=sender, timestamp=now),
                                     contacts=[{"profile": {"name": "Siti"}, "wa_id": sender}]))
    moved = await _item_in(system, ALPHA, "Lampu jalan mati di gang kami")
    assert moved.reroutes[-1].by == "router"
    await system.inputs_done()
    assert len([1 for q, it in await system.items() if it.envelope.reporter.contact == f"+{sender}"]) == 2


async def test_twilio_whatsapp_pin_and_messenger_place_in_words(system: System) -> None:
    citizen = "+6281322220002"
    sid = "SM" + "e2e0" * 8
    base = [("AccountSid", ACCOUNT_SID), ("From", f"whatsapp:{citizen}"), ("To", f"whatsapp:{NUMBER}"),
            ("WaId", citizen.lstrip("+")), ("ProfileName", "Budi"), ("ApiVersion", "2010-04-01"),
            ("NumMedia", "0"), ("SmsStatus", "received")]
    await system.twilio_message([*base, ("MessageSid", sid), ("SmsMessageSid", sid), ("MessageType", "text"),
                                 ("Body", "Got mampet, air meluap ke jalan")])

    async def asked() -> list[dict[str, str]]:
        return [m.fields for m in system.twilio.sent if m.fields.get("To") == f"whatsapp:{citizen}"]
    [request] = await until(asked, "the Twilio WhatsApp location request", system)
    assert "Di mana lokasinya?" in request["Body"]
    await system.inputs_done()
    pin_sid = "SM" + "e2e1" * 8
    await system.twilio_message([*base, ("MessageSid", pin_sid), ("SmsMessageSid", pin_sid),
                                 ("MessageType", "location"), ("Body", ""), ("Latitude", str(PIN[0])),
                                 ("Longitude", str(PIN[1]))])
    await _item_in(system, ALPHA, "Got mampet, air meluap ke jalan")

    psid = "6253972964600003"
    now_ms = int(time.time() * 1000)
    event = {**messenger("m_e2e-301", "Sampah menumpuk tidak diangkut seminggu", sender=psid), "timestamp": now_ms}
    await system.meta_event(page(event))

    async def told() -> list[dict[str, Any]]:
        return [p.body for p in system.graph.sent if p.body.get("recipient", {}).get("id") == psid]
    [request_m] = await until(told, "the Messenger location request", system)
    assert "Di mana lokasinya?" in request_m["message"]["text"]
    await system.inputs_done()
    answer = {**messenger("m_e2e-302", "di kelurahan Beta", sender=psid), "timestamp": now_ms + 1000}
    await system.meta_event(page(answer))
    moved = await _item_in(system, BETA, "Sampah menumpuk tidak diangkut seminggu")
    assert moved.envelope.text.endswith("di kelurahan Beta") and moved.reroutes[-1].by == "router"


async def test_follow_ups_by_reference_and_by_reply_make_no_new_item(system: System) -> None:
    who = 5512000004
    await system.telegram_update(_tg(401, who, text="Trotoar rusak parah di depan pasar",
                                     location={"latitude": PIN[0], "longitude": PIN[1]}))
    report = await _item_in(system, ALPHA, "Trotoar rusak parah di depan pasar")
    [ack] = await _sent_to_chat(system, who, 1)
    assert report.ref in ack["text"] and "reply_markup" not in ack  # located: nothing to ask
    await system.inputs_done()  # its reference is recorded before its input is acked
    await system.telegram_update(_tg(402, who, text=f"{report.ref} kok belum ada petugas?"))
    # the reply to our acknowledgement: the fake numbered it 9000 + its count of sends
    ours = 9000 + next(n for n, (_, _, p) in enumerate(system.telegram.sent, 1) if p is ack)
    outbound = await system.nc.jetstream().key_value(subjects.KV_OUTBOUND)
    key = sends.reply_key("telegram", "tg", f"{chat_key(who)}:{ours}")

    async def remembered() -> bool:  # the sender loop notes which report our message was about, after sending
        try:
            return bool((await outbound.get(key)).value)
        except KeyNotFoundError:
            return False
    await until(remembered, "the sender's note of our acknowledgement", system)
    reply_to = {**message(ours, sender={"id": 7012345678, "is_bot": True, "first_name": "Kanal"}), "text": ack["text"]}
    reply_to["chat"] = {"id": who, "type": "private", "first_name": f"Warga{who}"}
    await system.telegram_update(_tg(403, who, text="Sudah makin parah, ada yang jatuh", reply_to_message=reply_to))

    async def shown() -> list[str]:
        entry = next((e for e in await system.entries(ALPHA) if e.stored.item.item_id == report.item_id), None)
        texts = [f.item.envelope.text for f in entry.follow_ups] if entry else []
        return texts if len(texts) == 2 else []
    assert await until(shown, "both follow-ups on the report", system) == [
        f"{report.ref} kok belum ada petugas?", "Sudah makin parah, ada yang jatuh"]
    await system.inputs_done()
    mine = [it for _, it in await system.items() if it.envelope.reporter.user_id == str(who)]
    assert [it.kind for it in mine] == ["item", "duplicate", "duplicate"]
    assert {it.follow_up_of for it in mine[1:]} == {report.item_id}
    told = await _sent_to_chat(system, who, 3)
    assert all(f"Tambahan untuk laporan {report.ref} diterima" in m["text"] for m in told[1:])


async def test_stop_status_and_thanks_make_no_item(system: System) -> None:
    who = 5512000005
    await system.telegram_update(_tg(501, who, text="Jalan berlubang besar",
                                     location={"latitude": PIN[0], "longitude": PIN[1]}))
    report = await _item_in(system, ALPHA, "Jalan berlubang besar")
    await _sent_to_chat(system, who, 1)
    await system.inputs_done()
    await system.telegram_update(_tg(502, who, text=f"status {report.ref}"))
    answers = await _sent_to_chat(system, who, 2)
    assert answers[1]["text"].startswith(f"Laporan {report.ref}: status kini Menunggu")
    await system.telegram_update(_tg(503, who, text="terima kasih 🙏"))
    await system.telegram_update(_tg(504, who, text="STOP"))
    await system.inputs_done()
    mine = [it for _, it in await system.items() if it.envelope.reporter.user_id == str(who)]
    assert [it.item_id for it in mine] == [report.item_id], "no item for a status question, thanks or STOP"
    # STOP is recorded: a later report of this reporter is routed but not answered
    reporters = await system.nc.jetstream().key_value(subjects.KV_REPORTERS)

    async def opted_out() -> bool:
        try:
            return bool((await reporters.get(f"optout.{compose.reporter_key(report.envelope)}")).value)
        except KeyNotFoundError:
            return False
    await until(opted_out, "the notifier to record the opt-out", system)
    await system.telegram_update(_tg(505, who, text="Ada kabel listrik putus menjuntai",
                                     location={"latitude": PIN[0], "longitude": PIN[1]}))
    later = await _item_in(system, ALPHA, "Ada kabel listrik putus")
    outbound = await system.nc.jetstream().key_value(subjects.KV_OUTBOUND)

    async def skipped() -> list[SendRecord]:
        return [r for r in await sends.for_item(outbound, later.item_id) if r.state == "skipped"]
    [record] = await until(skipped, "the notifier's record of the unanswered report", system)
    assert record.reason == "the reporter opted out"
    assert len([p for _, _, p in system.telegram.sent if int(p.get("chat_id", 0)) == who]) == 2


async def test_an_email_reply_in_the_reports_thread_makes_no_new_item(system: System) -> None:
    if system.mail is None or system.smtp is None:
        pytest.skip(dovecot_fake.available() or "no mail server")
    citizen = "warga.e2e@contoh.id"
    first = EmailMessage()
    first["From"], first["To"] = f"Warga <{citizen}>", system.mail.user
    first["Subject"], first["Message-ID"], first["Date"] = "Got mampet", "<report-e2e-1@contoh.id>", formatdate()
    first.set_content("Got mampet di kelurahan Alpha sudah seminggu, bau sekali")
    await asyncio.to_thread(system.mail.append, bytes(first))

    async def routed_anywhere() -> tuple[str, RoutedItem] | None:
        return next(((q, it) for q, it in await system.items() if "Got mampet di kelurahan" in it.envelope.text),
                    None)
    queue, report = await until(routed_anywhere, "the e-mail report routed", system)
    await system.inputs_done()

    async def acknowledged() -> list[EmailMessage]:
        assert system.smtp is not None
        return [r.message for r in system.smtp.received if citizen in r.rcpt_tos]
    [ack] = await until(acknowledged, "the acknowledgement by e-mail", system)
    assert report.ref in str(ack.get_content()) and ack["In-Reply-To"] == "<report-e2e-1@contoh.id>"

    reply = EmailMessage()  # the citizen answers our acknowledgement, in its thread
    reply["From"], reply["To"] = f"Warga <{citizen}>", system.mail.user
    reply["Subject"], reply["Message-ID"], reply["Date"] = "Re: Got mampet", "<reply-e2e-2@contoh.id>", formatdate()
    reply["In-Reply-To"], reply["References"] = ack["Message-ID"], f"<report-e2e-1@contoh.id> {ack['Message-ID']}"
    reply.set_content("Sudah tiga minggu, sekarang meluap ke jalan")
    await asyncio.to_thread(system.mail.append, bytes(reply))

    async def shown() -> list[str]:
        entry = next((e for e in await system.entries(queue) if e.stored.item.item_id == report.item_id), None)
        return [f.item.envelope.text.strip() for f in entry.follow_ups] if entry else []
    assert await until(shown, "the reply on the report", system) == ["Sudah tiga minggu, sekarang meluap ke jalan"]
    await system.inputs_done()
    mine = [it for _, it in await system.items() if it.envelope.reporter.contact == citizen]
    assert [(it.kind, it.follow_up_of) for it in mine] == [("item", None), ("duplicate", report.item_id)]


async def test_text_pin_and_photo_make_one_report_in_the_kelurahan_queue(system: System) -> None:
    who = 5512000006
    photo = b"\xff\xd8\xff\xe0 pohon tumbang 1280x960"
    system.telegram.add_file("AgACAgUAAxkBAAIBe2e2ePhoto", photo, "photos/file_e2e.jpg")
    sizes = [{"file_id": "AgACAgUAAxkBAAIBe2e2ePhoto", "file_unique_id": "AQADe2e", "width": 1280, "height": 960,
              "file_size": len(photo)}]
    await system.telegram_update(_tg(601, who, text="Pohon besar tumbang, jalan tertutup total"))
    await system.telegram_update(_tg(602, who, location={"latitude": PIN[0], "longitude": PIN[1]}))
    await system.telegram_update(_tg(603, who, photo=sizes))
    report = await _item_in(system, ALPHA, "Pohon besar tumbang, jalan tertutup total")
    assert report.envelope.location is not None and len(report.envelope.attachments) == 1
    assert len(report.fragments) == 3 and report.missing == ()
    await system.inputs_done()
    mine = [it for _, it in await system.items() if it.envelope.reporter.user_id == str(who)]
    assert [it.item_id for it in mine] == [report.item_id], "one report, not three"
    [ack] = await _sent_to_chat(system, who, 1)
    assert report.ref in ack["text"] and "reply_markup" not in ack  # one acknowledgement, nothing to ask

"""The console's one-sentence routing reason: built from the decision's fields, shown in the admin's language."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import msgspec
import pytest
from nats.aio.client import Client as NATS

from admin import i18n
from admin.inbox import rerouted
from admin.reason import Reason
from admin.why import routing_reason
from kanal import bus, sends
from schemas import Decision, Reporter, encode, subjects
from schemas.outbound import SendRecord, outbound_id
from schemas.routed import Dedup
from tests.admin.conftest import csrf_of, open_item
from tests.admin.helpers import item, publish


def _place(queue: str) -> str:
    return {"kelurahan.3171011001": "Kelurahan Gambir", "channel.x": "Kanal X", "triage": "Pemilahan"}[queue]


CASES = [
    ("geo", "kelurahan.3171011001", "3171011001", None,
     "Titik lokasi laporan berada di Kelurahan Gambir."),
    ("gazetteer", "kelurahan.3171011001", "stasiun gambir", None,
     "Teks laporan menyebut “stasiun gambir”: Kelurahan Gambir."),
    ("channel", "channel.x", "dkijakarta", None,
     "Tidak ada lokasi yang ditemukan: laporan masuk ke admin kanal asalnya (Kanal X)."),
    ("channel", "channel.x", "jalan_rusak", "jalan_rusak", "Pokok laporannya menentukan antrean: Kanal X."),
    ("flags", "triage", "auto_reply", None, "Pesan otomatis (auto_reply), bukan pengaduan."),
    ("fallback", "triage", None, None,
     "Tidak ada aturan yang cocok: laporan menunggu di Pemilahan untuk dipilah secara manual."),
]


def _indonesian(why: Reason) -> str:
    return i18n.translations("id").gettext(why.template) % why.values


@pytest.mark.parametrize(("rule_type", "queue", "matched", "category", "indonesian"), CASES,
                         ids=[f"{c[0]}-{c[3] or 'plain'}" for c in CASES])
def test_each_rule_type_reads_as_one_sentence(rule_type: str, queue: str, matched: str | None,
                                              category: str | None, indonesian: str) -> None:
    decision = Decision(rule_id="r", rule_type=rule_type, queue=queue, reason="technical trail",  # type: ignore[arg-type]
                        matched=matched, category=category)
    why = routing_reason(msgspec.structs.replace(item("why-0"), decision=decision), _place)
    assert "technical trail" not in why  # the summary never repeats the router's English trail
    assert _indonesian(why) == indonesian


def test_moves_follow_ups_and_repeats_say_what_they_are() -> None:
    routed = item("why-m")
    moved = rerouted(routed, "triage", "kelurahan.3171011001", "jawaban lokasi", "router")
    assert _indonesian(routing_reason(moved, _place)) == (
        "Dipindahkan ke sini oleh router: jawaban pelapor atas permintaan lokasi kami menyebut Kelurahan Gambir.")
    by_hand = rerouted(routed, "triage", "kelurahan.3171011001", "wilayah kami", "lurah-gambir")
    assert _indonesian(routing_reason(by_hand, _place)) == (
        "Dipindahkan ke sini oleh lurah-gambir: lihat pengalihan di bawah.")
    added = msgspec.structs.replace(item("why-f", kind="duplicate"), follow_up_of=routed.item_id)
    assert _indonesian(routing_reason(added, _place)) == (
        "Pelapor menambahkan ini ke laporan sebelumnya: tampil di halaman laporan itu.")
    again = item("why-d", kind="duplicate", dedup=Dedup(duplicate_of=routed.item_id, duplicate_reason="same_reporter"))
    assert _indonesian(routing_reason(again, _place)) == "Pelapor yang sama mengirim laporan ini lagi."
    same = item("why-s", kind="duplicate", dedup=Dedup(duplicate_of=routed.item_id, duplicate_reason="same_text"))
    assert _indonesian(routing_reason(same, _place)) == (
        "Laporan lain berisi hal yang sama: dikaitkan dengan laporan pertama.")


async def test_item_page_leads_with_the_reason_in_the_admins_language(
        provisioned: NATS, client_factory: Callable[[], httpx.AsyncClient]) -> None:
    client = client_factory()
    seq, page = await open_item(provisioned, client, "lurah-gambir", item("why-1"))
    assert 'id="routing-why">Titik lokasi laporan berada di Kelurahan Gambir.</dd>' in page
    assert "point in 3171011001 (Gambir)" in page.split('id="routing-trail"', 1)[1]  # the trail, folded away
    await client.post("/lang", data={"csrf": csrf_of(page), "lang": "en", "back": "/"})
    english = (await client.get(f"/item/{seq}")).text
    assert "The report&#39;s map pin lies in Kelurahan Gambir." in english
    [anonymous] = await publish(provisioned, item("why-anon", reporter=Reporter(anonymous=True)))
    assert "from anonymous" in (await client.get(f"/item/{anonymous}")).text  # not the Indonesian "anonim"


@pytest.mark.parametrize(("state", "says"), [
    (None, "Pelapor sedang diminta mengirim lokasinya"),
    ("sent", "Pelapor sudah diminta mengirim lokasinya"),
    ("failed", "Pelapor belum bisa diminta lokasinya"),
])
async def test_the_location_card_says_whether_the_reporter_was_really_asked(
        provisioned: NATS, client_factory: Callable[[], httpx.AsyncClient], state: str | None, says: str) -> None:
    """The request for a location travels in the acknowledgement: when that failed, nobody was asked."""
    asking = msgspec.structs.replace(item(f"ask-{state}", queue="triage", rule="fallback"), missing=("location",))
    if state is not None:
        kv = await bus.ensure_kv(provisioned.jetstream(), subjects.KV_OUTBOUND, history=5)
        message_id = outbound_id(asking.item_id, "ack")
        await kv.put(sends.record_key(asking.item_id, message_id), encode(SendRecord(
            message_id=message_id, item_id=asking.item_id, purpose="ack", state=state,  # type: ignore[arg-type]
            at=datetime.now(UTC), channel="meta", instance="meta-pemprov-dki",
            reason="no Graph token for account" if state == "failed" else None)))
    _seq, page = await open_item(provisioned, client_factory(), "pusat", asking)
    assert says in page.split('id="location-asked">', 1)[1].split("</p>", 1)[0]

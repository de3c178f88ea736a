"""Dedup thresholds at their edges (pure, on a dict view) and the KV index on a real server."""

from __future__ import annotations

import math
from datetime import timedelta

from nats.aio.client import Client as NATS

from router.dedup import Deduper
from router.settings import DedupSettings
from router.similarity import norm_text
from router.store import KvIndex
from schemas import Attachment, Location, Reporter
from schemas.envelope import Envelope
from tests.factories import envelope, later

FLOOD = "Banjir setinggi lutut di Jalan Kemang Raya depan Kem Chicks sejak pagi, motor mogok semua"
FLOOD_2 = "Jalan Kemang Raya banjir setinggi lutut lagi depan Kem Chicks, motor banyak yang mogok"
LAMP = "Lampu penerangan jalan mati di Taman Suropati sudah seminggu, gelap sekali kalau malam"
LAT, LON = -6.26, 106.81
M_LAT = 1 / 110_574  # one metre north, in degrees


def run(*envs: Envelope, **settings: object) -> list[object]:
    """Decide each envelope in turn against one shared view (as consecutive batches would)."""
    deduper = Deduper(DedupSettings(**settings))  # type: ignore[arg-type]
    view: dict[str, bytes] = {}
    out = []
    for env in envs:
        verdict = deduper.decide(deduper.probe(env), "kelurahan.3174031001", view)
        out.append(verdict)
    return out


def rep(n: int) -> Reporter:
    return Reporter(contact=f"+6281300000{n:03d}")


def at(minutes: float, lat: float = LAT, **kw: object) -> dict[str, object]:
    return {"received_at": later(minutes), "location": Location(lat=lat, lon=LON, source="gps"), **kw}


def test_same_reporter_within_window_edge() -> None:
    a = envelope("a", text=FLOOD, reporter=rep(1), received_at=later(0))
    b = envelope("b", channel="email", instance="email-1", account="p@jakarta.go.id", text=FLOOD_2 + "!",
                 reporter=Reporter(contact="0813-0000-0001"), received_at=later(48 * 60))
    c = envelope("c", text=FLOOD, reporter=rep(1), received_at=later(48 * 60 + 1 / 60))
    va, vb, vc = run(a, b, c)
    assert va.kind == "item"  # type: ignore[attr-defined]
    assert vb.kind == "duplicate" and vb.dedup.duplicate_of == a.id  # type: ignore[attr-defined]
    assert vb.dedup.duplicate_reason == "same_reporter"  # type: ignore[attr-defined]
    assert vc.kind == "item"  # one second past 48 h  # type: ignore[attr-defined]


def test_same_reporter_different_complaint_is_a_new_item() -> None:
    va, vb = run(envelope("a", text=FLOOD, reporter=rep(1)), envelope("b", text=LAMP, reporter=rep(1)))
    assert (va.kind, vb.kind) == ("item", "item")  # type: ignore[attr-defined]


def test_same_text_other_reporter_is_duplicate_but_not_with_other_photos() -> None:
    photo = lambda h: (Attachment(kind="image", sha256=h * 64),)  # noqa: E731
    a = envelope("a", text=FLOOD, reporter=rep(1), attachments=photo("a"))
    b = envelope("b", text=FLOOD, reporter=rep(2), attachments=photo("a"))
    c = envelope("c", text=FLOOD, reporter=rep(3), attachments=photo("c"))
    _, vb, vc = run(a, b, c)
    assert vb.kind == "duplicate" and vb.dedup.duplicate_reason == "same_text"  # type: ignore[attr-defined]
    assert vc.kind == "item"  # same caption, different photo: LESSONS courier PR #621  # type: ignore[attr-defined]


def test_same_text_about_two_places_far_apart_is_two_items() -> None:
    a = envelope("a", text=FLOOD, reporter=rep(1), **at(0))
    near = envelope("b", text=FLOOD, reporter=rep(2), **at(1, lat=LAT + 50 * M_LAT))
    far = envelope("c", text=FLOOD, reporter=rep(3), **at(2, lat=LAT + 5_000 * M_LAT))
    _, vb, vc = run(a, near, far)
    assert vb.kind == "duplicate"  # type: ignore[attr-defined]
    assert vc.kind == "item", "5 km away: its own kelurahan must see it"  # type: ignore[attr-defined]


def test_short_text_is_not_a_same_text_duplicate() -> None:
    _, vb = run(envelope("a", text="Tolong!", reporter=rep(1)), envelope("b", text="tolong", reporter=rep(2)))
    assert vb.kind == "item"  # type: ignore[attr-defined]


def test_incident_radius_edge() -> None:
    a = envelope("a", text=FLOOD, reporter=rep(1), **at(0))
    near = envelope("b", text=FLOOD_2, reporter=rep(2), **at(10, LAT + 99 * M_LAT))
    far = envelope("c", text=FLOOD_2 + " tolong", reporter=rep(3), **at(10, LAT - 101 * M_LAT))
    _, vb, vc = run(a, near, far)
    assert vb.kind == "item" and vb.dedup.incident_id == a.id and vb.dedup.incident_size == 2  # type: ignore[attr-defined]
    assert vc.dedup.incident_id is None  # type: ignore[attr-defined]


def test_incident_grows_and_window_edge() -> None:
    envs = [envelope(f"r{i}", text=f"{FLOOD if i % 2 else FLOOD_2} rt {i}", reporter=rep(i), **at(i, LAT + i * M_LAT))
            for i in range(5)]
    late = envelope("late", text=FLOOD, reporter=rep(9), **at(3.5 + 24 * 60))
    verdicts = run(*envs, late)
    assert [v.dedup.incident_size for v in verdicts[:5]] == [None, 2, 3, 4, 5]  # type: ignore[attr-defined]
    assert {v.dedup.incident_id for v in verdicts[1:5]} == {envs[0].id}  # type: ignore[attr-defined]
    # 24 h after the first four but within 24 h of the fifth (r4 at minute 4): joins through r4 only.
    assert verdicts[5].dedup.incident_id == envs[0].id  # type: ignore[attr-defined]
    very_late = envelope("vl", text=FLOOD, reporter=rep(10), **at(4 + 24 * 60 + 1 / 60))
    assert run(*envs, very_late)[5].dedup.incident_id is None  # type: ignore[attr-defined]


def test_incident_needs_similar_text_and_other_reporters() -> None:
    a = envelope("a", text=FLOOD, reporter=rep(1), **at(0))
    lamp = envelope("b", text=LAMP, reporter=rep(2), **at(1))
    same_person = envelope("c", text=FLOOD_2 + " lagi lagi", reporter=Reporter(handle="@x"), channel="x",
                           instance="x-1", account="@DKIJakarta", **at(2))
    verdicts = run(a, lamp, same_person)
    assert verdicts[1].dedup.incident_id is None  # type: ignore[attr-defined]
    assert verdicts[2].dedup.incident_id == a.id  # other identity (X handle): counted as another reporter  # type: ignore[attr-defined]


def test_cells_cover_the_radius_in_every_direction() -> None:
    for angle in range(0, 360, 15):
        dlat = 99 * M_LAT * math.sin(math.radians(angle))
        dlon = 99 / 110_700 * math.cos(math.radians(angle))
        a = envelope("a", text=FLOOD, reporter=rep(1), **at(0))
        b = envelope("b", text=FLOOD_2, reporter=rep(2), received_at=later(1),
                     location=Location(lat=LAT + dlat, lon=LON + dlon, source="gps"))
        assert run(a, b)[1].dedup.incident_id == a.id, angle  # type: ignore[attr-defined]


async def test_kv_index_batched_get_and_expiry(nc: NATS) -> None:
    js = nc.jetstream()
    index = await KvIndex.open(nc, js, "kanal_dedup_test", timedelta(days=30).total_seconds())
    assert await index.get_many(["id.none"]) == {}
    assert await index.put_many([(f"id.k{i}", f"v{i}".encode()) for i in range(1500)]) == [None] * 1500
    await index.hint({"rep.x": b"hint"})
    assert await index.put_many([("id.sync", b"")]) == [None]  # acked after the hint before it on this connection
    got = await index.get_many([f"id.k{i}" for i in range(0, 1500, 3)] + ["id.missing", "rep.x"])
    assert len(got) == 501 and got["id.k3"] == b"v3" and got["rep.x"] == b"hint"
    # Entries expire with the bucket's max age, which follows the setting when it changes.
    await KvIndex.open(nc, js, "kanal_dedup_test", timedelta(hours=48).total_seconds())
    assert (await js.stream_info("KV_kanal_dedup_test")).config.max_age == timedelta(hours=48).total_seconds()


def test_one_reporter_on_sms_and_whatsapp_written_two_ways_is_one_reporter() -> None:
    sms = envelope("a", text=FLOOD, reporter=Reporter(contact="0812-3456-7890"))
    wa = envelope("b", channel="whatsapp", instance="wa-1", account="1234", kind="direct_message", text=FLOOD_2,
                  reporter=Reporter(contact="+62 (0)812 3456 7890", user_id="6281234567890"), received_at=later(5))
    _, vb = run(sms, wa)
    assert vb.kind == "duplicate" and vb.dedup.duplicate_reason == "same_reporter"  # type: ignore[attr-defined]


def test_an_email_subject_does_not_stop_its_body_matching_a_post() -> None:
    post = envelope("a", channel="x", instance="x-1", account="dki", kind="post", text=FLOOD, visibility="public",
                    reporter=Reporter(handle="@warga1"))
    mail = envelope("b", channel="email", instance="email-1", account="p@jakarta.go.id", kind="email", text=FLOOD,
                    subject="Laporan warga: mohon ditindaklanjuti", reporter=Reporter(contact="warga2@contoh.id"),
                    received_at=later(3))
    _, vb = run(post, mail)
    assert vb.kind == "duplicate" and vb.dedup.duplicate_reason == "same_text"  # type: ignore[attr-defined]
    short = envelope("c", channel="email", instance="email-1", account="p@jakarta.go.id", kind="email",
                     text="lihat foto", subject=FLOOD, reporter=Reporter(contact="warga3@contoh.id"),
                     attachments=(Attachment(kind="image", sha256="d" * 64),), received_at=later(4))
    assert norm_text(short).startswith("banjir setinggi lutut")  # a short body keeps its subject

"""Assembling chat fragments into reports, the pure part: which fragments make a report, and what it holds."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from router.assembly import (
    Held,
    Window,
    add,
    assemble,
    claim,
    closable,
    decode_held,
    due,
    encode_held,
    failed,
    holding_key,
    ids,
    open_groups,
    release,
)
from schemas import Attachment, Envelope, Location, Reporter, Thread
from tests.factories import NOW, envelope, later

W = Window(window=timedelta(minutes=2), max_hold=timedelta(minutes=15))
CLAIM = timedelta(seconds=30)
BUDI = Reporter(user_id="555", handle="budi_s")
PIN = Location(lat=-6.195, lon=106.805, source="gps")
PHOTO = Attachment(kind="image", sha256="a" * 64, media_type="image/jpeg")


def _tg(external_id: str, text: str = "", minutes: float = 0, who: Reporter = BUDI, **fields: object) -> Envelope:
    fields.setdefault("thread", Thread(conversation=f"telegram:{who.user_id}"))
    at = later(minutes)
    return envelope(external_id, channel="telegram", instance="tg-1", account="kanalbot", kind="direct_message",
                    text=text, reporter=who, created_at=at, received_at=at, **fields)


def _held(*envs: Envelope, now_minutes: float = 0) -> Held:
    held = Held()
    for env in envs:
        held = add(held, env, later(now_minutes))
    return held


def test_text_pin_and_photo_make_one_report_with_all_three() -> None:
    text = _tg("1", "Pohon tumbang, jalan ketutup")
    pin = _tg("2", minutes=0.5, location=PIN)
    photo = _tg("3", "ini fotonya", minutes=1, attachments=(PHOTO,))
    [group] = open_groups(_held(photo, text, pin).pieces, W)
    report, fragments = assemble(p.envelope() for p in group)
    assert fragments == (text.id, pin.id, photo.id)
    assert (report.id, report.ref, report.external_id) == (text.id, text.ref, text.external_id)
    assert report.text == "Pohon tumbang, jalan ketutup\nini fotonya"
    assert report.attachments == (PHOTO,) and report.location == PIN


def test_a_quiet_gap_longer_than_the_window_starts_a_new_report() -> None:
    first, second = _tg("1", "Got mampet"), _tg("2", "di gang 3", minutes=1.5)
    late = _tg("3", "Lampu jalan mati", minutes=4)  # 2.5 minutes after the last one
    groups = open_groups(_held(first, second, late).pieces, W)
    assert [ids(g) for g in groups] == [(first.id, second.id), (late.id,)]
    # the first is due two minutes after its last fragment, though the second is still open
    assert due(groups[0], W) == later(1.5) + W.window


def test_max_hold_counts_from_the_first_fragment() -> None:
    w = Window(window=timedelta(minutes=2), max_hold=timedelta(minutes=5))
    chatty = [_tg(str(i), f"bagian {i}", minutes=i * 1.5) for i in range(6)]  # every 1.5 min: never quiet
    groups = open_groups(_held(*chatty).pieces, w)
    assert [ids(g) for g in groups] == [tuple(e.id for e in chatty[:4]), tuple(e.id for e in chatty[4:])]
    assert due(groups[0], w) == later(0) + w.max_hold  # before its window would end (4.5 + 2 min)


def test_a_full_report_closes_at_once() -> None:
    w = Window(window=timedelta(minutes=2), max_hold=timedelta(minutes=15), max_fragments=3)
    held = _held(*(_tg(str(i), f"bagian {i}", minutes=i * 0.1) for i in range(4)), now_minutes=1)
    full, rest = open_groups(held.pieces, w)
    assert len(full) == 3 and len(rest) == 1 and due(full, w) == later(1)


def test_a_pin_beats_a_photos_exif_and_a_place_in_text_whatever_comes_first() -> None:
    exif = Location(lat=-6.1, lon=106.9, source="exif")
    text = Location(lat=-6.3, lon=106.7, source="text")
    report, _ = assemble([_tg("1", "foto", attachments=(PHOTO,), location=exif), _tg("2", "di Gambir", 0.2,
                          location=text), _tg("3", minutes=0.4, location=PIN), _tg("4", minutes=0.5,
                          location=Location(lat=-6.0, lon=106.0, source="gps"))])
    assert report.location == PIN  # the first pin: a live location's later points do not move it


def test_a_report_is_private_and_anonymous_if_any_fragment_is() -> None:
    a = _tg("1", "jalan rusak", visibility="public")
    b = _tg("2", "tolong rahasiakan", 0.5, visibility="private",
            who=Reporter(user_id="555", handle="budi_s", anonymous=True))
    report, _ = assemble([a, b])
    assert report.visibility == "private" and report.reporter.anonymous


def test_two_reporters_in_one_group_chat_are_held_apart() -> None:
    group = Thread(conversation="group:120363")
    budi = _tg("1", "banjir", thread=group)
    sari = _tg("2", "banjir juga", thread=group, who=Reporter(user_id="777"))
    assert holding_key(budi) != holding_key(sari)
    assert holding_key(budi) == holding_key(_tg("3", "di RT 5", 0.5, thread=group))


def test_a_redelivered_fragment_changes_nothing() -> None:
    env = _tg("1", "pohon tumbang")
    held = _held(env)
    assert add(held, env, later(1)) is held
    assert decode_held(encode_held(held)) == held


def test_a_claimed_report_is_fixed_and_the_next_fragment_starts_another() -> None:
    first, second = _tg("1", "pohon tumbang"), _tg("2", minutes=0.5, location=PIN)
    held = _held(first, second)
    now = later(3)
    [group_ids] = closable(held, now, W, CLAIM)
    held, group = claim(held, group_ids, "router-a", now, W)
    assert group is not None and held.pieces == ()
    # another router sees it claimed, and a late fragment is a new report, not part of the one being routed
    assert closable(held, now + timedelta(seconds=1), W, CLAIM) == []
    late = _tg("3", "fotonya", minutes=0.7, attachments=(PHOTO,))
    held = add(held, late, now)
    assert [ids(g) for g in open_groups(held.pieces, W)] == [(late.id,)]
    # a claim older than the timeout may be taken over; the report is the same fragments
    assert group_ids in closable(held, now + CLAIM, W, CLAIM)
    retry_at = now + timedelta(seconds=5)
    held = failed(held, group_ids, retry_at)
    assert held.fixed[0].attempts == 1
    assert group_ids not in closable(held, retry_at - timedelta(seconds=1), W, CLAIM)
    assert group_ids in closable(held, retry_at, W, CLAIM)
    held = release(held, group_ids)
    assert held.fixed == () and len(held.pieces) == 1


_FRAGMENT = st.tuples(st.floats(0, 30), st.sampled_from(["", "jalan", "banjir di RT 5"]), st.booleans(),
                      st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.lists(_FRAGMENT, min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_any_delivery_order_gives_the_same_reports(fragments: list[tuple[float, str, bool, bool]],
                                                   rnd: object) -> None:
    envs = [_tg(f"m{i}", text, minutes, attachments=(PHOTO,) if photo else (), location=PIN if pin else None)
            for i, (minutes, text, photo, pin) in enumerate(fragments)]
    shuffled = list(envs)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    w = Window(window=timedelta(minutes=2), max_hold=timedelta(minutes=10), max_fragments=5)
    one = [assemble(p.envelope() for p in g) for g in open_groups(_held(*envs).pieces, w)]
    other = [assemble(p.envelope() for p in g) for g in open_groups(_held(*shuffled).pieces, w)]
    assert one == other
    assert sorted(f for _, frags in one for f in frags) == sorted(e.id for e in envs)  # each in exactly one


def test_the_assembled_text_keeps_provider_order_not_arrival_order() -> None:
    late_sent = envelope("b", text="kedua", created_at=NOW + timedelta(seconds=5), received_at=NOW)
    early_sent = envelope("a", text="pertama", created_at=NOW, received_at=NOW + timedelta(seconds=9))
    report, fragments = assemble([late_sent, early_sent])
    assert report.text == "pertama\nkedua" and fragments == (early_sent.id, late_sent.id)

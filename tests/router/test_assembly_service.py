"""Assembling chat fragments on a real nats-server: held in KV, routed once with everything, by one replica."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from kanal import bus, sends
from kanal.references import References
from kanal.testing import make_config
from notifier import compose
from notifier.settings import OutboundSettings
from router import assembler
from router.assembler import held_keys
from router.service import Router
from schemas import Attachment, Location, Reporter, Thread, subjects
from schemas.envelope import Envelope
from schemas.routed import RoutedItem
from tests.factories import envelope, later
from tests.router.fixtures import write_rules
from tests.router.helpers import drain, make_router, publish, routed

PIN = Location(lat=-6.195, lon=106.805, source="gps")  # inside kelurahan Alpha (3199011001)
PHOTO = Attachment(kind="image", sha256="c" * 64, media_type="image/jpeg")
BUDI = Reporter(user_id="555", handle="budi_s")
SARI = Reporter(user_id="777", handle="sari")


def _tg(external_id: str, text: str = "", seconds: float = 0, who: Reporter = BUDI, **fields: object) -> Envelope:
    fields.setdefault("thread", Thread(conversation=f"telegram:{who.user_id}"))
    at = later(seconds / 60)
    return envelope(external_id, channel="telegram", instance="tg-1", account="kanalbot", kind="direct_message",
                    text=text, reporter=who, created_at=at, received_at=at, **fields)


async def _router(nc: NATS, nats_url: str, tmp_path: Path, window: str) -> Router:
    config = make_config(nats_url, tmp_path, conversations={"window": window})
    return await make_router(nc, config, write_rules(tmp_path))


async def held(nc: NATS) -> list[str]:
    """The conversations that still hold fragments (`asm.` keys in kanal_conversations)."""
    return await held_keys(nc.jetstream())


async def until_closed(nc: NATS, *routers: Router, items: int, within: float = 90) -> list[RoutedItem]:
    """Run the routers' closing loops until `items` are routed and nothing is held any more."""
    tasks = [asyncio.create_task(r.close_reports()) for r in routers]
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            got = await routed(nc)
            if len(got) >= items and not await held(nc):
                return got
            await asyncio.sleep(0.1)
        raise AssertionError(f"{len(await routed(nc))} items, held {await held(nc)} after {within}s")
    finally:
        for r in routers:
            r.stopping.set()
        await asyncio.gather(*tasks)


async def test_text_pin_and_photo_from_one_reporter_are_one_item_in_the_pins_kelurahan(
    provisioned: NATS, nats_url: str, tmp_path: Path
) -> None:
    router = await _router(provisioned, nats_url, tmp_path, "3s")
    text = _tg("1", "Pohon tumbang, jalan ketutup total")
    pin = _tg("2", seconds=1, location=PIN)
    photo = _tg("3", "ini fotonya", seconds=2, attachments=(PHOTO,))
    await publish(provisioned, text, pin, photo, pin)  # the pin delivered twice
    await drain(router)
    assert await routed(provisioned) == [] and len(await held(provisioned)) == 1  # held, inputs acked
    [item] = await until_closed(provisioned, router, items=1)
    assert (item.kind, item.item_id, item.ref) == ("item", text.id, text.ref)
    assert item.decision.queue == "kelurahan.3199011001" and item.decision.rule_id == "geo"
    env = item.envelope
    assert env.text == "Pohon tumbang, jalan ketutup total\nini fotonya"
    assert env.location == PIN and env.attachments == (PHOTO,)
    assert item.fragments == (text.id, pin.id, photo.id)
    assert router.metrics.assembled._value.get() == 1 and router.metrics.fragments._value.get() == 3
    # one routed item: the notifier's one acknowledgement, with the first message's reference
    message = compose.for_routed(item, OutboundSettings(channels=["telegram"]), datetime.now(UTC))
    assert text.ref in message.text and pin.ref not in message.text
    # every reference the reporter may hold leads to the report
    refs = References()
    for fragment in (text, pin, photo):
        status = await refs.report_status(provisioned.jetstream(), fragment.ref)
        assert status is not None and status.stage == "menunggu", fragment.ref
    # a fragment delivered again after the report was routed is an exact repeat, not a new report
    await publish(provisioned, photo)
    await drain(router)
    assert len(await routed(provisioned)) == 1 and await held(provisioned) == []


async def test_window_zero_routes_each_message_at_once(provisioned: NATS, nats_url: str, tmp_path: Path) -> None:
    router = await _router(provisioned, nats_url, tmp_path, "0s")
    text, pin = _tg("1", "Pohon tumbang, jalan ketutup total"), _tg("2", seconds=1, location=PIN)
    photo = _tg("3", "ini fotonya", seconds=2, attachments=(PHOTO,))
    stop = _tg("4", "STOP", seconds=2.5)
    await publish(provisioned, text, pin, photo, stop)
    await drain(router)
    items = {i.item_id: i for i in await routed(provisioned)}
    assert set(items) == {text.id, pin.id, photo.id}  # STOP is still a control message, no item
    assert items[pin.id].decision.queue == "kelurahan.3199011001" and items[text.id].decision.queue == "triage"
    assert all(i.fragments == () for i in items.values()) and await held(provisioned) == []


async def test_two_reporters_interleaved_stay_apart(provisioned: NATS, nats_url: str, tmp_path: Path) -> None:
    router = await _router(provisioned, nats_url, tmp_path, "3s")
    budi = [_tg("b1", "Got mampet di depan rumah"), _tg("b2", seconds=1, location=PIN)]
    sari = [_tg("s1", "Lampu jalan mati sejak kemarin", 0.5, who=SARI),
            _tg("s2", "fotonya", 1.5, who=SARI, attachments=(PHOTO,))]
    await publish(provisioned, budi[0], sari[0], budi[1], sari[1])
    await drain(router)
    items = {i.item_id: i for i in await until_closed(provisioned, router, items=2)}
    assert set(items) == {budi[0].id, sari[0].id}
    assert items[budi[0].id].fragments == (budi[0].id, budi[1].id)
    assert items[budi[0].id].decision.queue == "kelurahan.3199011001"
    assert items[sari[0].id].fragments == (sari[0].id, sari[1].id)
    assert items[sari[0].id].envelope.location is None and items[sari[0].id].envelope.attachments == (PHOTO,)


async def test_max_hold_routes_a_report_that_never_falls_quiet(provisioned: NATS, nats_url: str,
                                                                tmp_path: Path) -> None:
    config = make_config(nats_url, tmp_path, conversations={"window": "2m", "max_hold": "5m"})
    router = await make_router(provisioned, config, write_rules(tmp_path))
    chatty = [_tg(str(i), f"bagian {i} dari cerita panjang", seconds=i * 90) for i in range(6)]
    await publish(provisioned, *chatty)
    await drain(router)
    items = {i.item_id: i for i in await until_closed(provisioned, router, items=2)}
    assert items[chatty[0].id].fragments == tuple(e.id for e in chatty[:4])  # 0 to 4.5 minutes
    assert items[chatty[4].id].fragments == tuple(e.id for e in chatty[4:])


async def test_a_follow_up_or_control_message_is_never_a_fragment(provisioned: NATS, nats_url: str,
                                                                  tmp_path: Path) -> None:
    router = await _router(provisioned, nats_url, tmp_path, "3s")
    report = [_tg("1", "Pohon tumbang menutup jalan"), _tg("2", seconds=1, location=PIN)]
    await publish(provisioned, *report)
    await drain(router)
    [first] = await until_closed(provisioned, router, items=1)
    router.stopping.clear()
    thanks = _tg("3", "terima kasih 🙏", seconds=60)
    follow = _tg("4", f"{first.ref} kok belum ada petugas?", seconds=3600)
    other = _tg("5", f"{report[1].ref} pohonnya masih di sana", seconds=3660)  # the pin's own reference
    await publish(provisioned, thanks, follow, other)
    await drain(router)  # routed at once: no closing loop runs here
    items = {i.item_id: i for i in await routed(provisioned)}
    assert set(items) == {first.item_id, follow.id, other.id} and await held(provisioned) == []
    assert items[follow.id].follow_up_of == first.item_id
    assert items[other.id].follow_up_of == first.item_id  # any fragment's reference leads to the report
    assert items[follow.id].decision.queue == "kelurahan.3199011001"


async def test_two_replicas_route_each_report_once(provisioned: NATS, nats_url: str, tmp_path: Path) -> None:
    one = await _router(provisioned, nats_url, tmp_path, "3s")
    two = await _router(provisioned, nats_url, tmp_path, "3s")
    reporters = [Reporter(user_id=str(900 + n)) for n in range(30)]
    envs = [_tg(f"{n}-{k}", f"laporan {n} bagian {k}", seconds=k, who=who)
            for n, who in enumerate(reporters) for k in range(3)]
    await publish(provisioned, *envs)
    await asyncio.gather(drain(one), drain(two))
    items = await until_closed(provisioned, one, two, items=30)
    assert len(items) == 30 and len({i.item_id for i in items}) == 30
    assert sorted(f for i in items for f in i.fragments) == sorted(e.id for e in envs)


async def test_a_reply_to_our_message_is_a_follow_up_and_a_reply_to_their_own_is_a_fragment(
    provisioned: NATS, nats_url: str, tmp_path: Path
) -> None:
    router = await _router(provisioned, nats_url, tmp_path, "3s")
    report = _tg("1", "Lampu jalan mati di depan masjid", location=PIN)
    await publish(provisioned, report)
    await drain(router)
    [first] = await until_closed(provisioned, router, items=1)
    router.stopping.clear()
    # the Telegram sender loop sent our acknowledgement as message 9001 and recorded which report it was about
    outbound = await bus.ensure_kv(provisioned.jetstream(), subjects.KV_OUTBOUND, history=5)
    await sends.remember_reply(outbound, "telegram", "tg-1", "555:9001", first.ref)
    ours = _tg("2", "Sudah dua malam masih gelap", 3600, thread=Thread(conversation="telegram:555",
                                                                       reply_to="555:9001"))
    own = [_tg("3", "Ada pohon tumbang di Jalan Alpha", 3700),
           _tg("4", "ini fotonya", 3701, attachments=(PHOTO,),
               thread=Thread(conversation="telegram:555", reply_to="555:42"))]  # a reply to their own message
    await publish(provisioned, ours, *own)
    await drain(router)
    assert {i.item_id for i in await routed(provisioned)} == {first.item_id, ours.id}  # the rest is held
    items = {i.item_id: i for i in await until_closed(provisioned, router, items=3)}
    assert items[ours.id].follow_up_of == first.item_id
    assert items[own[0].id].fragments == (own[0].id, own[1].id) and items[own[0].id].follow_up_of is None


async def test_two_replicas_holding_one_reporters_fragments_at_once_keep_all_of_them(
    provisioned: NATS, nats_url: str, tmp_path: Path
) -> None:
    one = await _router(provisioned, nats_url, tmp_path, "3s")
    two = await _router(provisioned, nats_url, tmp_path, "3s")
    parts = [_tg(f"p{i}", f"bagian {i}", seconds=i * 0.5) for i in range(8)]
    await publish(provisioned, *parts)
    msgs: list[Msg] = []
    while len(msgs) < len(parts):
        msgs += await one.sub.fetch(len(parts) - len(msgs), timeout=5)
    # two replicas record fragments of the same conversation at the same moment: compare-and-set keeps both
    for first, second in zip(msgs[0::2], msgs[1::2], strict=True):
        await asyncio.gather(one.handle([first]), two.handle([second]))
    [item] = await until_closed(provisioned, one, two, items=1)
    assert item.fragments == tuple(p.id for p in parts)
    assert item.envelope.text == "\n".join(f"bagian {i}" for i in range(8))


async def test_a_conversation_that_holds_too_much_routes_the_next_message_at_once(
    provisioned: NATS, nats_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assembler, "MAX_HELD_BYTES", 4000)
    router = await _router(provisioned, nats_url, tmp_path, "3s")
    flood = [_tg(str(i), f"pesan panjang nomor {i}: " + "jalan rusak " * 80, seconds=i * 0.1) for i in range(6)]
    await publish(provisioned, *flood)
    await drain(router)
    at_once = {i.item_id for i in await routed(provisioned)}
    assert at_once and len(at_once) < len(flood), "some held, the rest routed at once"
    items = await until_closed(provisioned, router, items=len(at_once) + 1)
    ids = [f for i in items for f in (i.fragments or (i.item_id,))]
    assert sorted(ids) == sorted(e.id for e in flood)  # each message in exactly one item

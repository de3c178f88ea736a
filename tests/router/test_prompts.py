"""Asking for a missing location on a real nats-server: the reporter's answer re-routes the report out of triage,
never one an admin has acted on, and makes no item of its own."""

from __future__ import annotations

from datetime import UTC, datetime

from nats.aio.client import Client as NATS

from admin.inbox import Entry
from admin.render import entry_json, entry_text
from admin.store import Handling, ItemState, ItemStore, StoredItem
from connectors.meta.sender import plan
from connectors.telegram.sender import location_keyboard
from notifier import compose
from notifier.settings import OutboundSettings
from router.service import Router
from schemas import Location, Reporter, Thread, subjects
from schemas.envelope import Envelope, encode
from schemas.routed import RoutedItem
from tests.factories import envelope, later
from tests.router.helpers import drain, publish, routed

PIN = Location(lat=-6.195, lon=106.805, source="gps")  # inside kelurahan Alpha (3199011001)
ALPHA, BETA = "kelurahan.3199011001", "kelurahan.3199011002"
BUDI = Reporter(user_id="555", handle="budi_s")


def _tg(external_id: str, text: str, who: Reporter = BUDI, minutes: float = 0, **fields: object) -> Envelope:
    return envelope(external_id, channel="telegram", instance="tg-1", account="kanalbot", kind="direct_message",
                    text=text, reporter=who, received_at=later(minutes),
                    thread=Thread(conversation="telegram:chat-555"), **fields)  # type: ignore[arg-type]


def _by_queue(items: list[RoutedItem]) -> dict[str, list[RoutedItem]]:
    out: dict[str, list[RoutedItem]] = {}
    for it in items:
        out.setdefault(it.decision.queue, []).append(it)
    return out


async def test_a_pin_in_answer_moves_the_report_out_of_triage(provisioned: NATS, router: Router) -> None:
    report = _tg("1", "Pohon tumbang menutup jalan, mohon segera dipotong")
    await publish(provisioned, report)
    await drain(router)
    [first] = await routed(provisioned)
    assert (first.decision.queue, first.missing) == ("triage", ("location",))
    shown = Entry(stored=StoredItem(seq=1, queue="triage", item=first), handling=None, status=None)
    assert "location: asked the reporter" in entry_text(shown)
    assert entry_json(shown, ItemState(item_id=first.item_id))["missing"] == ["location"]
    assert router.metrics.location_asked._value.get() == 1

    stranger = _tg("2", "", who=Reporter(user_id="777"), minutes=1, location=PIN)  # same chat, someone else
    pin = _tg("3", "", minutes=2, location=PIN)
    await publish(provisioned, stranger, pin)
    await drain(router)
    queues = _by_queue(await routed(provisioned))
    [moved] = [i for i in queues[ALPHA] if i.item_id == report.id]
    assert [i.item_id for i in queues[ALPHA] if i.item_id != report.id] == [stranger.id]  # an ordinary report
    assert pin.id not in {i.item_id for q in queues.values() for i in q}, "the answer makes no item"
    assert moved.kind == "item" and moved.envelope.location == PIN
    assert moved.envelope.text == report.text
    [move] = moved.reroutes
    assert (move.from_queue, move.to_queue, move.by) == ("triage", ALPHA, "router")
    assert "answer to our location request (gps location -6.19500, 106.80500)" in move.reason
    store = await ItemStore.open(provisioned)
    state, _ = await store.state(report.id)
    [handled] = state.handled
    assert (handled.action, handled.queue, handled.to_queue, handled.by) == ("reroute", "triage", ALPHA, "router")
    assert router.metrics.location_answers.labels("rerouted")._value.get() == 1

    # the reporter is told where it went; a second pin later is an ordinary message
    told = compose.for_routed(moved, OutboundSettings(channels=["telegram"]), datetime.now(UTC))
    assert told.text.startswith(f"Terima kasih, lokasi laporan {report.ref} sudah kami terima")
    again = _tg("4", "", minutes=3, location=PIN)
    await publish(provisioned, again)
    await drain(router)
    assert again.id in {i.item_id for i in await routed(provisioned)}


async def test_a_place_named_in_answer_moves_it_and_an_acted_report_gets_a_follow_up(
        provisioned: NATS, router: Router) -> None:
    named = _tg("10", "Lampu jalan mati sudah tiga hari")
    other = _tg("11", "Got mampet, air meluap", who=Reporter(user_id="888"), minutes=0.5)
    other = Envelope(**{**{f: getattr(other, f) for f in other.__struct_fields__},
                        "thread": Thread(conversation="telegram:chat-888")})
    await publish(provisioned, named, other)
    await drain(router)
    assert {i.decision.queue for i in await routed(provisioned)} == {"triage"}
    store = await ItemStore.open(provisioned)
    [seq_other] = [s.seq for s in await store.queue("triage") if s.item.item_id == other.id]
    await store.record(other.id, Handling(seq=seq_other, queue="triage", action="ack", by="lurah",
                                          at=datetime.now(UTC)))
    answer = _tg("12", "di kelurahan Beta", minutes=5)
    late_pin = Envelope(**{**{f: getattr(_tg("13", "", who=Reporter(user_id="888"), minutes=5, location=PIN), f)
                              for f in named.__struct_fields__}, "thread": Thread(conversation="telegram:chat-888")})
    await publish(provisioned, answer, late_pin)
    await drain(router)
    items = await routed(provisioned)
    [moved] = [i for i in items if i.decision.queue == BETA]
    assert moved.item_id == named.id and moved.envelope.text == f"{named.text}\ndi kelurahan Beta"
    assert moved.reroutes[-1].by == "router"
    [attached] = [i for i in items if i.item_id == late_pin.id]  # an admin acted: not moved, attached
    assert (attached.kind, attached.follow_up_of, attached.decision.queue) == ("duplicate", other.id, "triage")
    assert not [i for i in items if i.item_id == other.id and i.decision.queue != "triage"]
    assert router.metrics.location_answers.labels("attached")._value.get() == 1


def test_the_request_reaches_the_reporter_with_each_channels_button() -> None:
    item = RoutedItem(kind="item", item_id="a" * 32, ref="KNL-0000-0000-0000",
                      envelope=_tg("20", "Pohon tumbang"), decision=_triage(), routed_at=datetime.now(UTC),
                      missing=("location",))
    message = compose.for_routed(item, OutboundSettings(channels=["telegram", "meta"]), datetime.now(UTC))
    assert "Di mana lokasinya?" in message.text and message.text.startswith("Terima kasih, laporan Anda")
    keyboard = location_keyboard(message)
    assert keyboard is not None and keyboard.keyboard[0][0].request_location
    assert keyboard.keyboard[0][0].text == "📍 Kirim lokasi"
    english = compose.for_routed(RoutedItem(**{**{f: getattr(item, f) for f in item.__struct_fields__},
                                               "envelope": _tg("21", "Tree down", language="en")}),
                                 OutboundSettings(channels=["telegram"]), datetime.now(UTC))
    assert "Where is it?" in english.text and english.ask_location == "📍 Send location"
    wa_env = envelope("wamid.X", channel="meta", instance="wa-1", account="1234", kind="direct_message",
                      text="Pohon tumbang", reporter=Reporter(contact="+6281234567890"), flags=("whatsapp",))
    wa = compose.for_routed(RoutedItem(**{**{f: getattr(item, f) for f in item.__struct_fields__},
                                          "envelope": wa_env}),
                            OutboundSettings(channels=["meta"]), datetime.now(UTC))
    _path, body, _label = plan(wa, wa_env.created_at)
    assert body["type"] == "interactive"
    assert body["interactive"] == {"type": "location_request_message", "body": {"text": wa.text},
                                   "action": {"name": "send_location"}}
    sms_env = envelope("sms-1", channel="kannel", instance="sms-1", account="1708", kind="sms", text="Banjir",
                       reporter=Reporter(contact="+6281234567890"))
    sms = compose.for_routed(RoutedItem(**{**{f: getattr(item, f) for f in item.__struct_fields__},
                                           "envelope": sms_env}),
                             OutboundSettings(channels=["kannel"]), datetime.now(UTC))
    assert "Balas dengan nama jalan dan kelurahannya" in sms.text and "Bagikan lokasi" not in sms.text


def _triage():  # type: ignore[no-untyped-def]
    from schemas.routed import Decision

    return Decision(rule_id="fallback", rule_type="fallback", queue="triage", reason="no rule matched")


async def test_a_move_claimed_before_a_kill_is_finished_by_the_redelivered_answer(
        provisioned: NATS, router: Router) -> None:
    """The router records its move in `kanal_items` before publishing it: killed in between, the answer is
    delivered again and the move is published then (its own claim is no admin's action); a redelivery after
    the move is acked with nothing new."""
    report = _tg("30", "Pohon tumbang menimpa kabel")
    await publish(provisioned, report)
    await drain(router)
    store = await ItemStore.open(provisioned)
    [stored] = [s for s in await store.queue("triage") if s.item.item_id == report.id]
    await store.record(report.id, Handling(seq=stored.seq, queue="triage", action="reroute", by="router",
                                           at=datetime.now(UTC), to_queue=ALPHA, reason="claimed, then killed"))
    pin = _tg("31", "", minutes=1, location=PIN)
    await publish(provisioned, pin)
    await drain(router)
    [moved] = [i for i in await routed(provisioned) if i.decision.queue == ALPHA]
    assert moved.item_id == report.id and moved.reroutes[-1].reason == "claimed, then killed"
    before = len(await routed(provisioned))
    # the same answer again (as a redelivery after a lost ack: past the stream's duplicate check): nothing new
    await provisioned.jetstream().publish(subjects.inbound(pin.channel, pin.instance), encode(pin),
                                          headers={"Nats-Msg-Id": f"{pin.id}-again"})
    await drain(router)
    assert len(await routed(provisioned)) == before
    assert router.metrics.location_answers.labels("rerouted")._value.get() == 1

"""The inbox on real NATS: listing, ack and reroute that survive restarts, access control, follow."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from admin.auth import AccessDenied
from admin.inbox import Inbox, InboxError
from admin.render import entry_text
from admin.store import ItemNotFound, ItemStore
from kanal.config import Config
from schemas import Location, subjects
from schemas.routed import Dedup, decode_routed
from tests.admin.helpers import GAMBIR, KEBON_KELAPA, PASSWORD, item, publish, settings

KEC = "kecamatan.317101"


async def _inbox(nats_url: str, queue: str, admin: str) -> tuple[NATS, Inbox]:
    """A fresh connection, store and consumer object, as a new process would have."""
    from kanal import bus
    from kanal.config import NatsSettings

    nc = await bus.connect(NatsSettings(url=nats_url))
    store = await ItemStore.open(nc)
    user = settings().users[admin]
    return nc, await Inbox(store, queue, admin, user).open()


async def test_listing_shows_what_an_admin_needs(provisioned: NATS, nats_url: str) -> None:
    located = item("m-1", location=Location(lat=-6.1754, lon=106.8272, source="gps", accuracy_m=8))
    dup = item("m-2", kind="duplicate", text="Jalan berlubang depan SDN 01 Gambir, tolong",
               dedup=Dedup(duplicate_of=located.item_id, duplicate_reason="same_reporter"))
    incident = item("m-3", dedup=Dedup(incident_id="inc-42", incident_size=12))
    await publish(provisioned, located, dup, incident, item("other", KEBON_KELAPA))
    nc, box = await _inbox(nats_url, GAMBIR, "lurah-gambir")
    try:
        entries = await box.items()
        assert [e.stored.item.item_id for e in entries] == [located.item_id, dup.item_id, incident.item_id]
        text = "\n".join(entry_text(e) for e in entries)
        assert "-6.17540, 106.82720 (gps, ±8 m)" in text
        assert "routed by rule geo-kelurahan (geo): point in 3171011001" in text
        assert f"DUPLICATE of {located.item_id} (same reporter)" in text
        assert "incident inc-42: 12 reports of this" in text
        assert "[Menunggu]" in text and "twilio/" in text and "Jalan berlubang" in text
    finally:
        await nc.close()


async def test_ack_persists_across_a_new_process(provisioned: NATS, nats_url: str) -> None:
    first, second = item("a-1"), item("a-2")
    await publish(provisioned, first, second)
    nc, box = await _inbox(nats_url, GAMBIR, "lurah-gambir")
    done = await box.ack(first.ref)
    assert done.by == "lurah-gambir" and done.action == "ack"
    with pytest.raises(ItemNotFound):
        await box.ack(first.ref)  # no longer open
    await nc.close()

    nc, box = await _inbox(nats_url, GAMBIR, "lurah-gambir")  # "restart"
    try:
        assert [e.stored.item.item_id for e in await box.items()] == [second.item_id]
        everything = await box.items(include_handled=True)
        assert [(e.stored.item.item_id, e.handling.action if e.handling else None) for e in everything] == [
            (first.item_id, "ack"), (second.item_id, None)]
        info = await box.sub.consumer_info()  # type: ignore[union-attr]
        # the durable consumer itself recorded the ack
        assert info.ack_floor is not None and info.ack_floor.stream_seq >= 1
    finally:
        await nc.close()


async def test_reroute_is_published_recorded_and_not_doubled(provisioned: NATS, nats_url: str) -> None:
    original = item("r-1")
    [seq] = await publish(provisioned, original)
    nc, box = await _inbox(nats_url, GAMBIR, "lurah-gambir")
    with pytest.raises(InboxError, match="needs a reason"):
        await box.reroute(original.item_id, KEC, "  ")
    with pytest.raises(InboxError, match="not a queue name"):
        await box.reroute(original.item_id, "Kecamatan 317101", "x")
    entry = await box.find(original.item_id)
    moved = await box.reroute(original.item_id, KEC, "saluran air: wewenang Sudin SDA kecamatan")
    # a retried reroute (same item, same move) lands once
    from admin.inbox import reroute

    again = await reroute(box.store, entry.stored, KEC, "saluran air: wewenang Sudin SDA kecamatan",
                          by="lurah-gambir", user=box.user)
    assert again.seq == moved.seq
    await nc.close()

    js = provisioned.jetstream()
    info = await js.stream_info(subjects.STREAM_ADMIN, subjects_filter=subjects.admin(KEC))
    assert info.state.subjects == {subjects.admin(KEC): 1}
    landed = decode_routed((await js.get_msg(subjects.STREAM_ADMIN, moved.seq)).data or b"")
    assert landed.item_id == original.item_id
    assert landed.decision.rule_type == "reroute" and landed.decision.queue == KEC
    [move] = landed.reroutes
    assert (move.from_queue, move.to_queue, move.by) == (GAMBIR, KEC, "lurah-gambir")
    assert move.reason == "saluran air: wewenang Sudin SDA kecamatan"

    nc, box = await _inbox(nats_url, GAMBIR, "lurah-gambir")  # restart: not open in the old queue any more
    try:
        assert await box.items() == []
        [old] = await box.items(include_handled=True)
        assert old.stored.seq == seq and old.handling is not None
        assert (old.handling.action, old.handling.to_queue) == ("reroute", KEC)
    finally:
        await nc.close()
    nc, kec = await _inbox(nats_url, KEC, "pusat")
    try:
        [new] = await kec.items()
        assert new.stored.item.reroutes[0].to_queue == KEC
        assert "rerouted kelurahan.3171011001 → kecamatan.317101 by lurah-gambir" in entry_text(new)
    finally:
        await nc.close()


async def test_an_admin_cannot_open_or_act_on_another_queue(provisioned: NATS, nats_url: str) -> None:
    theirs = item("k-1", KEBON_KELAPA)
    await publish(provisioned, theirs)
    store = await ItemStore.open(provisioned)
    with pytest.raises(AccessDenied, match=r"not allowed on queue 'kelurahan\.3171011002'"):
        Inbox(store, KEBON_KELAPA, "lurah-gambir", settings().users["lurah-gambir"])
    from admin.inbox import reroute

    stored = (await store.queue(KEBON_KELAPA))[0]
    with pytest.raises(AccessDenied):
        await reroute(store, stored, GAMBIR, "mine now", by="lurah-gambir", user=settings().users["lurah-gambir"])
    state, _ = await store.state(theirs.item_id)
    assert state.handled == ()
    info = await provisioned.jetstream().stream_info(subjects.STREAM_ADMIN, subjects_filter=subjects.admin(GAMBIR))
    assert not info.state.subjects


async def test_follow_yields_new_items(provisioned: NATS, nats_url: str) -> None:
    [seq] = await publish(provisioned, item("f-0"))
    nc, box = await _inbox(nats_url, GAMBIR, "lurah-gambir")
    stop = asyncio.Event()
    got: list[str] = []

    async def reader() -> None:
        async for entry in box.follow(stop, after_seq=seq, poll=0.05):
            got.append(entry.stored.item.item_id)
            stop.set()

    task = asyncio.create_task(reader())
    fresh = item("f-1")
    await publish(provisioned, fresh, item("f-other", KEBON_KELAPA))
    await asyncio.wait_for(task, 10)
    await nc.close()
    assert got == [fresh.item_id]


def _write_config(tmp_path: Path, nats_url: str) -> Path:
    from kanal.passwords import hash_password

    digest = hash_password(PASSWORD)
    path = tmp_path / "kanal.toml"
    path.write_text(
        f'[nats]\nurl = "{nats_url}"\n[log]\nformat = "json"\nlevel = "warning"\n'
        f'[admin.users.lurah-gambir]\npassword_hash = "{digest}"\nqueues = ["{GAMBIR}"]\n'
        f'[admin.users.pusat]\npassword_hash = "{digest}"\nsuperadmin = true\n')
    return path


def _kanal(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kanal", *args], capture_output=True, text=True, timeout=60,
                          check=False)


async def test_cli_lists_acks_and_refuses_as_a_user_would(provisioned: NATS, nats_url: str, tmp_path: Path,
                                                          config: Config) -> None:
    first, second = item("c-1"), item("c-2")
    await publish(provisioned, first, second)
    toml = str(_write_config(tmp_path, nats_url))
    run = await asyncio.to_thread(_kanal, "inbox", GAMBIR, "--as", "lurah-gambir", "-c", toml)
    assert run.returncode == 0, run.stderr
    assert first.ref in run.stdout and second.ref in run.stdout

    run = await asyncio.to_thread(_kanal, "inbox", GAMBIR, "ack", first.ref, "--as", "lurah-gambir", "-c", toml)
    assert run.returncode == 0, run.stderr
    assert "acknowledged" in run.stdout

    run = await asyncio.to_thread(_kanal, "inbox", GAMBIR, "--as", "lurah-gambir", "-c", toml)
    assert first.ref not in run.stdout and second.ref in run.stdout

    run = await asyncio.to_thread(_kanal, "inbox", GAMBIR, "stage", second.ref, "proses", "--as", "lurah-gambir",
                                  "-c", toml)
    assert run.returncode == 3
    assert "skips Koordinasi, Disposisi" in run.stderr

    run = await asyncio.to_thread(_kanal, "inbox", KEBON_KELAPA, "--as", "lurah-gambir", "-c", toml)
    assert run.returncode == 3
    assert "not allowed on queue 'kelurahan.3171011002'" in run.stderr


async def test_follow_ups_show_on_their_report_and_json_lists_them(provisioned: NATS, nats_url: str,
                                                                   tmp_path: Path) -> None:
    import json
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    import msgspec

    from schemas import Attachment
    from tests.factories import NOW

    report = item("f-1", location=Location(lat=-6.1754, lon=106.8272, source="gps"))
    added_env = msgspec.structs.replace(report.envelope, id="f" * 32, external_id="f-2",
                                        received_at=NOW + timedelta(days=2), location=None,
                                        text=f"{report.ref} kok belum ada petugas?",
                                        attachments=(Attachment(kind="image", sha256="c" * 64),))
    added = msgspec.structs.replace(item("f-2", env=added_env, kind="duplicate", dedup=Dedup(
        duplicate_of=report.item_id, duplicate_reason="same_reporter")), follow_up_of=report.item_id)
    await publish(provisioned, report, added)
    toml = str(_write_config(tmp_path, nats_url))
    run = await asyncio.to_thread(_kanal, "inbox", GAMBIR, "--json", "--as", "lurah-gambir", "-c", toml)
    assert run.returncode == 0, run.stderr
    [line] = run.stdout.splitlines()  # the follow-up is not an item of its own
    shown = json.loads(line)
    assert {k: shown[k] for k in ("id", "ref", "queue", "stage", "channel", "location", "attachments",
                                  "incident", "duplicate_of")} == {
        "id": report.item_id, "ref": report.ref, "queue": GAMBIR, "stage": "menunggu", "channel": "twilio",
        "location": {"lat": -6.1754, "lon": 106.8272}, "attachments": 0, "incident": None, "duplicate_of": None}
    assert shown["follow_ups"] == [{"text": f"{report.ref} kok belum ada petugas?",
                                    "received_at": (NOW + timedelta(days=2)).astimezone(
                                        ZoneInfo("Asia/Jakarta")).isoformat(),
                                    "attachments": 1, "location": None}]
    assert shown["follow_ups"][0]["received_at"].endswith("+07:00")

    text = await asyncio.to_thread(_kanal, "inbox", GAMBIR, "--as", "lurah-gambir", "-c", toml)
    assert "+ follow-up " in text.stdout and "(+1 attachment(s))" in text.stdout
    run = await asyncio.to_thread(_kanal, "inbox", GAMBIR, "ack", report.ref, "--as", "lurah-gambir", "-c", toml)
    assert run.returncode == 0, run.stderr
    run = await asyncio.to_thread(_kanal, "inbox", GAMBIR, "--json", "--as", "lurah-gambir", "-c", toml)
    assert run.stdout.strip() == "", "acknowledging the report acknowledges what was added to it"


def test_an_assembled_report_says_how_many_messages_it_joins() -> None:
    import msgspec

    from admin.inbox import Entry
    from admin.render import entry_json
    from admin.store import ItemState, StoredItem
    from tests.admin.helpers import item

    joined = msgspec.structs.replace(item("asm-1"), fragments=("a" * 32, "b" * 32, "c" * 32))
    entry = Entry(stored=StoredItem(seq=7, queue=joined.decision.queue, item=joined), handling=None, status=None)
    assert "    assembled from 3 messages" in entry_text(entry).splitlines()
    assert entry_json(entry, ItemState(item_id=joined.item_id))["fragments"] == 3
    alone = Entry(stored=StoredItem(seq=8, queue=joined.decision.queue, item=item("asm-2")), handling=None,
                  status=None)
    assert "assembled" not in entry_text(alone)
    assert entry_json(alone, ItemState(item_id="x"))["fragments"] == 1

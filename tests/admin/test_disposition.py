"""Categories as admins act on them, on real NATS: the disposition map, correcting a category (recorded and
counted), disposing to the suku dinas (reroute, stage Disposisi, the kelurahan's read-only list), and the
same through `kanal inbox` as a user would run it."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest
from nats.aio.client import Client as NATS

from admin.auth import AccessDenied
from admin.dispose import correct_category, correction_counts, dispose, disposed
from admin.dispositionmap import DispositionError, DispositionFile, DispositionMap
from admin.inbox import InboxError
from admin.store import ItemStore
from router.categories import Classifier
from schemas import subjects
from schemas.routed import RoutedItem
from tests.admin.helpers import GAMBIR, PASSWORD, item, publish, settings

ROOT = Path(__file__).resolve().parents[2]
MAP = ROOT / "deploy/rules/disposition.toml"


@pytest.fixture(scope="module")
def dmap() -> DispositionMap:
    return DispositionMap.load(MAP)


def about(external_id: str, category: str | None, text: str, queue: str = GAMBIR) -> RoutedItem:
    it = item(external_id, queue, text=text)
    return msgspec.structs.replace(it, decision=msgspec.structs.replace(
        it.decision, category=category, category_confidence=0.9 if category else None,
        category_cues=("lubang",) if category == "jalan" else ()))


@pytest.mark.parametrize(("queue", "category", "expected"), [
    (GAMBIR, "jalan", ("sudin.bina_marga-3171", "Suku Dinas Bina Marga Jakarta Pusat")),
    ("kelurahan.3174011001", "pohon",
     ("sudin.pertamanan-3174", "Suku Dinas Pertamanan dan Hutan Kota Jakarta Selatan")),
    ("kecamatan.317502", "saluran_air", ("sudin.sda-3175", "Suku Dinas Sumber Daya Air Jakarta Timur")),
    ("kelurahan.3101011001", "pohon", ("sudin.bina_marga-3101", "Suku Dinas Bina Marga Kepulauan Seribu")),
    (GAMBIR, "air_bersih", ("dinas.pam_jaya", "Dinas PAM Jaya")),
])
def test_the_map_names_the_suku_dinas(dmap: DispositionMap, queue: str, category: str,
                                      expected: tuple[str, str]) -> None:
    target = dmap.target(queue, category)
    assert target is not None and (target.queue, target.label) == expected
    assert dmap.label(target.queue) == expected[1]
    assert subjects.admin(target.queue)  # a valid queue name in today's pattern


@pytest.mark.parametrize(("queue", "category"), [(GAMBIR, "lainnya"), (GAMBIR, None), ("triage", "jalan"),
                                                 ("dinas.sosial", "jalan")])
def test_nobody_is_named_for(dmap: DispositionMap, queue: str, category: str | None) -> None:
    assert dmap.target(queue, category) is None


def test_every_category_but_lainnya_has_an_owner(dmap: DispositionMap) -> None:
    assert {c for c in dmap.classifier.ids if dmap.target(GAMBIR, c) is None} == {"lainnya"}


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["default"].update(jalanan="bina_marga"), "unknown category 'jalanan'"),
    (lambda d: d["default"].update(jalan="binamarga"), "'binamarga' is not a unit"),
    (lambda d: d["kota"]["3101"]["override"].update(kebun="sda"), r"\[kota.3101.override\]: unknown category"),
    (lambda d: d["kota"].update({"31": {"name": "x"}}), "kota"),
])
def test_the_map_is_validated(dmap: DispositionMap, change: Any, message: str) -> None:
    data = tomllib.loads(MAP.read_text(encoding="utf-8"))
    change(data)
    with pytest.raises((DispositionError, msgspec.ValidationError), match=message):
        DispositionMap.from_spec(msgspec.convert(data, DispositionFile, strict=True), dmap.classifier, "map")


async def test_a_correction_is_recorded_and_counted(provisioned: NATS, dmap: DispositionMap) -> None:
    report = about("k-1", "jalan", "got mampet depan rumah, air meluap ke jalan")
    [seq] = await publish(provisioned, report)
    store = await ItemStore.open(provisioned)
    stored = await store.get(seq)
    users = settings().users
    with pytest.raises(AccessDenied):
        await correct_category(store, stored, "saluran_air", by="lurah-kebon", user=users["lurah-kebon"],
                               classifier=dmap.classifier)
    with pytest.raises(InboxError, match="unknown category 'got'"):
        await correct_category(store, stored, "got", by="lurah-gambir", user=users["lurah-gambir"],
                               classifier=dmap.classifier)
    change = await correct_category(store, stored, "saluran_air", by="lurah-gambir", user=users["lurah-gambir"],
                                    classifier=dmap.classifier)
    assert (change.from_category, change.to_category, change.by, change.queue) == (
        "jalan", "saluran_air", "lurah-gambir", GAMBIR)
    with pytest.raises(InboxError, match="already saluran_air"):
        await correct_category(store, stored, "saluran_air", by="pusat", user=users["pusat"],
                               classifier=dmap.classifier)
    state, _ = await store.state(report.item_id)
    assert [(c.from_category, c.to_category) for c in state.categories] == [("jalan", "saluran_air")]
    assert (await correction_counts(store))[("jalan", "saluran_air")] == 1
    await correct_category(store, stored, "banjir", by="pusat", user=users["pusat"], classifier=dmap.classifier)
    await correct_category(store, stored, "saluran_air", by="pusat", user=users["pusat"], classifier=dmap.classifier)
    assert await correction_counts(store) == {("jalan", "saluran_air"): 1, ("saluran_air", "banjir"): 1,
                                              ("banjir", "saluran_air"): 1}
    # the proposal follows the corrected category
    target = dmap.target(stored.queue, state.categories[-1].to_category)
    assert target is not None and target.queue == "sudin.sda-3171"


async def test_disposing_reroutes_sets_disposisi_and_is_listed(provisioned: NATS, dmap: DispositionMap) -> None:
    report = about("d-1", "jalan", "jalan berlubang depan SD")
    unknown = about("d-2", "lainnya", "terima kasih pak lurah")
    seq, other = await publish(provisioned, report, unknown)
    store = await ItemStore.open(provisioned)
    users = settings().users
    stored = await store.get(seq)
    moved, target = await dispose(store, stored, dmap, by="lurah-gambir", user=users["lurah-gambir"],
                                  note="lubang 1 meter")
    assert moved.queue == "sudin.bina_marga-3171" == target.queue
    again = await store.get(moved.seq)
    assert again.item.reroutes[-1].reason == "Disposisi ke Suku Dinas Bina Marga Jakarta Pusat " \
                                             "(Jalan dan trotoar rusak): lubang 1 meter"
    assert again.item.decision.category == "jalan"  # the category travels with the item
    status, _ = await store.latest_status(report.item_id)
    assert status is not None and (status.stage, status.queue, status.by) == (
        "disposisi", "sudin.bina_marga-3171", "lurah-gambir")
    # repeating (e.g. after a failure half way) changes nothing
    repeat, _ = await dispose(store, stored, dmap, by="lurah-gambir", user=users["lurah-gambir"],
                              note="lubang 1 meter")
    assert repeat.seq == moved.seq
    assert len(await store.queue("sudin.bina_marga-3171")) == 1
    rows = await disposed(store, GAMBIR)
    assert [(r.stored.item.item_id, r.disposition.to_queue, r.stage) for r in rows] == [
        (report.item_id, "sudin.bina_marga-3171", "disposisi")]
    with pytest.raises(InboxError, match=r"moved to sudin\.bina_marga-3171; its category is corrected there"):
        await correct_category(store, stored, "pohon", by="lurah-gambir", user=users["lurah-gambir"],
                               classifier=dmap.classifier)
    at_sudin = await store.get(moved.seq)  # the suku dinas's admin (here the superadmin) can correct it there
    await correct_category(store, at_sudin, "banjir", by="pusat", user=users["pusat"], classifier=dmap.classifier)
    with pytest.raises(InboxError, match="no suku dinas handles this category"):
        await dispose(store, await store.get(other), dmap, by="lurah-gambir", user=users["lurah-gambir"])
    with pytest.raises(AccessDenied):
        await dispose(store, await store.get(other), dmap, by="lurah-kebon", user=users["lurah-kebon"])


def _config(tmp_path: Path, nats_url: str) -> str:
    from admin.auth import hash_password

    shutil.copy(ROOT / "deploy/rules/categories.toml", tmp_path / "categories.toml")
    shutil.copy(MAP, tmp_path / "disposition.toml")
    path = tmp_path / "kanal.toml"
    path.write_text(
        f'[nats]\nurl = "{nats_url}"\n[log]\nformat = "json"\nlevel = "warning"\n'
        f'[admin]\ndisposition = "disposition.toml"\n'
        f'[admin.users.lurah-gambir]\npassword_hash = "{hash_password(PASSWORD)}"\nqueues = ["{GAMBIR}"]\n')
    return str(path)


def _kanal(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kanal", *args], capture_output=True, text=True, timeout=60,
                          check=False, cwd=ROOT)


async def test_a_duplicate_notice_is_not_disposed(provisioned: NATS, dmap: DispositionMap) -> None:
    first = about("dup-1", "jalan", "jalan berlubang depan SD")
    notice = msgspec.structs.replace(about("dup-2", "jalan", "lubang depan SD belum ditambal"), kind="duplicate",
                                     dedup=msgspec.structs.replace(first.dedup, duplicate_of=first.item_id))
    _, seq = await publish(provisioned, first, notice)
    store = await ItemStore.open(provisioned)
    with pytest.raises(InboxError, match=f"duplicate notice of {first.item_id}"):
        await dispose(store, await store.get(seq), dmap, by="pusat", user=settings().users["pusat"])


async def test_the_inbox_commands(provisioned: NATS, nats_url: str, tmp_path: Path) -> None:
    report = about("cli-1", "jalan", "got mampet, air luber ke jalan")
    await publish(provisioned, report)
    toml = _config(tmp_path, nats_url)
    run = await asyncio.to_thread(_kanal, "inbox", GAMBIR, "--json", "-c", toml)
    assert run.returncode == 0, run.stderr
    [listed] = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]  # one object per line
    assert (listed["ref"], listed["category"], listed["decision"]["category_cues"]) == (report.ref, "jalan",
                                                                                       ["lubang"])
    run = await asyncio.to_thread(_kanal, "inbox", GAMBIR, "category", report.ref, "saluran_air", "-c", toml)
    assert run.returncode == 0, run.stderr
    assert "category jalan -> saluran_air (Saluran air dan kali), by lurah-gambir" in run.stdout
    run = await asyncio.to_thread(_kanal, "inbox", GAMBIR, "category", report.ref, "kali", "-c", toml)
    assert run.returncode == 1 and "unknown category 'kali'" in run.stderr
    run = await asyncio.to_thread(_kanal, "inbox", GAMBIR, "dispose", report.ref, "-c", toml)
    assert run.returncode == 0, run.stderr
    assert "Disposisi ke Suku Dinas Sumber Daya Air Jakarta Pusat (sudin.sda-3171" in run.stdout
    run = await asyncio.to_thread(_kanal, "inbox", GAMBIR, "disposed", "-c", toml)
    assert run.returncode == 0, run.stderr
    assert report.ref in run.stdout and "[Disposisi]" in run.stdout and "-> sudin.sda-3171" in run.stdout
    run = await asyncio.to_thread(_kanal, "inbox", GAMBIR, "corrections", "-c", toml)
    assert run.returncode == 0 and "1  jalan -> saluran_air" in run.stdout


def test_a_classifier_and_the_map_agree_on_ids(dmap: DispositionMap) -> None:
    assert dmap.classifier.ids == Classifier.load(ROOT / "deploy/rules/categories.toml").ids

"""Finding items (queue filters, `kanal inbox` filters) and deadlines: pure rules, then the CLI as a user runs it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client as NATS

from admin import finder
from admin.inbox import rerouted
from schemas.status import StatusUpdate
from tests.admin.helpers import GAMBIR, item, publish
from tests.admin.test_inbox import _kanal, _write_config

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # 10:00 WIB
DAY = finder.Deadlines({"menunggu": 24 * 3600.0, "proses": 72 * 3600.0})


def facts(hours_ago: float, text: str = "Jalan berlubang", channel: str = "twilio",
          status: StatusUpdate | None = None) -> finder.ItemFacts:
    it = msgspec.structs.replace(item(f"f-{hours_ago}-{text}", text=text), routed_at=NOW - timedelta(hours=hours_ago))
    return finder.facts_of(msgspec.structs.replace(it, envelope=msgspec.structs.replace(it.envelope, channel=channel)),
                           status)


def test_text_search_needs_every_word_in_any_case() -> None:
    f = finder.parse({"q": "JALAN lubang"})
    assert finder.matches(facts(1, "Jalan berlubang besar"), f, DAY, NOW.timestamp())
    assert not finder.matches(facts(1, "Lampu jalan mati"), f, DAY, NOW.timestamp())


def test_dates_are_whole_days_in_wib_both_ends_included() -> None:
    f = finder.parse({"from": "2026-12-05", "to": "2026-12-05"})
    # 00:30 WIB on the 5th is 17:30 UTC on the 4th: inside; 23:59 WIB on the 4th: outside
    inside = facts((NOW - datetime(2026, 12, 4, 17, 30, tzinfo=UTC)).total_seconds() / 3600)
    outside = facts((NOW - datetime(2026, 12, 4, 16, 59, tzinfo=UTC)).total_seconds() / 3600)
    assert finder.matches(inside, f, DAY, NOW.timestamp())
    assert not finder.matches(outside, f, DAY, NOW.timestamp())
    with pytest.raises(finder.FilterError, match="YYYY-MM-DD"):
        finder.parse({"from": "5/12/2026"})
    with pytest.raises(finder.FilterError, match="stage="):
        finder.parse({"stage": "done"})


def test_stage_and_channel_filters() -> None:
    moved = StatusUpdate(item_id="0" * 32, ref="KNL-X", stage="proses", queue=GAMBIR, by="lurah", at=NOW)
    assert finder.matches(facts(1, status=moved), finder.parse({"stage": "proses"}), DAY, NOW.timestamp())
    assert not finder.matches(facts(1), finder.parse({"stage": "proses"}), DAY, NOW.timestamp())
    assert finder.matches(facts(1, channel="email"), finder.parse({"channel": "email"}), DAY, NOW.timestamp())
    assert not finder.matches(facts(1), finder.parse({"channel": "email"}), DAY, NOW.timestamp())


def test_menunggu_is_late_after_24_hours_from_the_first_routing_even_after_a_reroute() -> None:
    assert DAY.overdue(facts(30), NOW.timestamp())
    assert not DAY.overdue(facts(20), NOW.timestamp())
    old = msgspec.structs.replace(item("r-1"), routed_at=NOW - timedelta(hours=30))
    moved = rerouted(old, GAMBIR, "kecamatan.317101", "jalan protokol", "lurah")
    assert DAY.overdue(finder.facts_of(moved, None), NOW.timestamp())  # the reroute kept the clock


def test_a_later_stage_counts_from_entering_it() -> None:
    entered = StatusUpdate(item_id="0" * 32, ref="KNL-X", stage="proses", queue=GAMBIR, by="lurah",
                           at=NOW - timedelta(hours=10))
    assert not DAY.overdue(facts(300, status=entered), NOW.timestamp())  # old report, fresh stage
    late = msgspec.structs.replace(entered, at=NOW - timedelta(hours=73))
    assert DAY.overdue(facts(300, status=late), NOW.timestamp())
    done = msgspec.structs.replace(entered, stage="selesai")
    assert not DAY.overdue(facts(300, status=done), NOW.timestamp())  # no deadline for Selesai


def test_select_sorts_by_age_oldest_first() -> None:
    found = finder.select([facts(1), facts(30), facts(5)], finder.Filters(), DAY, NOW.timestamp())
    assert [round((NOW.timestamp() - f.routed) / 3600) for f in found] == [30, 5, 1]


async def test_kanal_inbox_takes_the_same_filters(provisioned: NATS, nats_url: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    late = msgspec.structs.replace(item("cli-late", text="Banjir di Jl. Kebon Sirih"),
                                   routed_at=now - timedelta(hours=30))
    fresh = item("cli-fresh", text="Lampu jalan mati di Jl. Majapahit")
    await publish(provisioned, late, fresh)
    toml = str(_write_config(tmp_path, nats_url))

    async def inbox(*extra: str) -> str:
        run = await asyncio.to_thread(_kanal, "inbox", GAMBIR, "--as", "lurah-gambir", "-c", toml, *extra)
        assert run.returncode == 0, run.stderr
        return run.stdout

    out = await inbox("--overdue")
    assert late.ref in out and fresh.ref not in out
    out = await inbox("-q", "lampu MATI")
    assert fresh.ref in out and late.ref not in out
    yesterday = (now - timedelta(days=3)).astimezone(finder.WIB).date().isoformat()
    out = await inbox("--until", yesterday)
    assert late.ref not in out and fresh.ref not in out
    run = await asyncio.to_thread(_kanal, "inbox", GAMBIR, "--as", "lurah-gambir", "-c", toml, "--since", "kemarin")
    assert run.returncode == 2 and "--since 'kemarin': write the date as YYYY-MM-DD" in run.stderr

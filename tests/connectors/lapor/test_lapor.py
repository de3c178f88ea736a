"""The `lapor` channel: the documented field mapping, the (updated, id) cursor, updates, kill and restart."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from nats.aio.client import Client as NATS

from connectors.checkpoint import Checkpoints
from connectors.lapor import spec
from connectors.lapor.connector import LaporCursor
from connectors.poller import PollingConnector
from connectors.spec import Outcome
from connectors.testkit import harness
from connectors.testkit.harness import Harness, stored_messages
from connectors.testkit.suite import Case, PollerContract
from schemas import decode_envelope, subjects
from tests.connectors.news.runner import spawn, write_config
from tests.fakes.lapor import JPEG, LaporProvider, lapor_provider

FULL = {
    "tracking_id": 1916449, "judul": "Jalan rusak parah di Cilandak",
    "isi": "Lubang besar di Jl. TB Simatupang depan halte, sudah ada pengendara motor jatuh.",
    "kategori": {"id": "12", "nama": "Pekerjaan Umum dan Penataan Ruang"},
    "lokasi": {"alamat": "Jl. TB Simatupang", "kelurahan": "Cilandak Barat", "kecamatan": "Cilandak",
               "kota": "Jakarta Selatan", "lat": "-6.2921", "lng": "106.8001"},
    "lampiran": [{"nama": "lubang.jpg", "url": "https://storage.lapor.go.id/lampiran/1916449/lubang.jpg",
                  "tipe": "image/jpeg"},
                 {"nama": "surat.pdf", "url": "https://storage.lapor.go.id/lampiran/1916449/surat.pdf"}],
    "tanggal_dibuat": "2026-11-20 08:15:00", "tanggal_diperbarui": "2026-11-21T09:00:00+07:00",
    "status": "Diteruskan ke instansi", "anonim": False, "rahasia": False, "sumber": "sms",
    "pelapor": {"nama": "Budi Santoso", "email": "budi.santoso@example.id", "telepon": "+6281298765432",
                "nik": "3174051203850007"},
}
ANONYMOUS = {**FULL, "tracking_id": "1916450", "anonim": True, "rahasia": True,
             "lokasi": {"alamat": "Pasar Minggu", "lat": None, "lng": None}}


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


def _check_full(outcome: Outcome) -> None:
    env = outcome.envelopes[0]
    assert env.kind == "report" and env.external_id == "1916449" and env.visibility == "public"
    assert env.category == "Pekerjaan Umum dan Penataan Ruang" and env.subject == "Jalan rusak parah di Cilandak"
    assert env.created_at == datetime(2026, 11, 20, 1, 15, tzinfo=UTC), "a time without offset is WIB"
    assert env.location is not None and (env.location.lat, env.location.lon) == (-6.2921, 106.8001)
    assert env.location.address == "Jl. TB Simatupang, Cilandak Barat, Cilandak, Jakarta Selatan"
    assert env.reporter.display_name == "Budi Santoso" and env.reporter.contact == "budi.santoso@example.id"
    assert env.reporter.nik == "3174051203850007"
    assert [a.kind for a in env.attachments] == ["image", "document"]


def _check_anonymous(outcome: Outcome) -> None:
    env = outcome.envelopes[0]
    assert env.reporter.anonymous and env.reporter.display_name is None and env.reporter.contact is None
    assert env.visibility == "private" and env.location is None and "Lokasi: Pasar Minggu" in env.text


class TestLaporContract(PollerContract):
    spec = spec
    settings: ClassVar[dict[str, Any]] = {"account": "pemprov-dki", "base_url": "http://127.0.0.1:9/api",
                                          "token": "lapor-contract-token-42"}
    secrets: ClassVar[list[str]] = ["lapor-contract-token-42"]
    cases: ClassVar[list[Case]] = [
        Case("full_report_with_reporter", _json({**FULL, "lampiran": []}), "pemprov-dki", count=1),
        Case("anonymous_confidential_address_only", _json({**ANONYMOUS, "lampiran": []}), "pemprov-dki",
             count=1, check=_check_anonymous),
        Case("no_tracking_id", _json({"judul": "x", "tanggal_dibuat": "2026-11-20 08:15:00"}), "pemprov-dki",
             expect="bad_payload"),
        Case("bad_time", _json({**FULL, "tanggal_dibuat": "kemarin"}), "pemprov-dki", expect="bad_payload"),
    ]

    @pytest.fixture
    async def provider(self) -> AsyncIterator[LaporProvider]:
        async with lapor_provider(reports=7) as p:
            yield p


def test_mapping_reads_every_field() -> None:
    from connectors.lapor.normalise import normalise
    from connectors.spec import NormaliseContext

    ctx = NormaliseContext(channel="lapor", instance="t", account="pemprov-dki",
                           received_at=datetime(2026, 11, 24, tzinfo=UTC))
    _check_full(normalise(_json(FULL), ctx))


async def _pass(h: Harness) -> int:
    connector = h.instance.connector
    assert isinstance(connector, PollingConnector)
    return await connector.run_pass(await Checkpoints.open(h.nc.jetstream(), h.instance.name), asyncio.Event())


async def test_same_second_reports_across_pages_neither_skipped_nor_repeated(provisioned: NATS,
                                                                            nats_url: str) -> None:
    async with lapor_provider(reports=11) as provider, harness(spec, provider.settings, nats_url) as h:
        assert await _pass(h) == 11
        assert [e.external_id for e in await h.published()] == provider.expected_ids()
        cursor = await (await Checkpoints.open(h.nc.jetstream(), h.instance.name)).load(LaporCursor)
        assert cursor is not None and cursor.tracking_id == provider.expected_ids()[-1]
        # pages of 4 over seconds holding 3 reports each: page two starts inside a second
        assert [r.get("id_setelah") for r in provider.requests] == [None, "1916404", "1916408"]
        provider.add(2)
        assert await _pass(h) == 2
        assert [e.external_id for e in await h.published()] == provider.expected_ids()


async def test_an_updated_report_is_not_a_second_complaint(provisioned: NATS, nats_url: str) -> None:
    async with lapor_provider(reports=3) as provider, harness(spec, provider.settings, nats_url) as h:
        assert await _pass(h) == 3
        provider.update("1916402", "Selesai")
        assert await _pass(h) == 1, "the update is read (status changes must reach Kanal later)"
        ids = [e.external_id for e in await h.published()]
        assert sorted(ids) == ["1916401", "1916402", "1916403"], "same tracking id -> same envelope, deduplicated"


async def test_attachments_are_downloaded_with_the_token(provisioned: NATS, nats_url: str) -> None:
    async with lapor_provider(reports=4) as provider, harness(spec, provider.settings, nats_url) as h:
        assert await _pass(h) == 4
        [with_photo] = [e for e in await h.published() if e.attachments]
        assert with_photo.attachments[0].object_key and with_photo.attachments[0].size == len(JPEG)
        assert provider.attachment_auth == [f"Bearer {provider.token}"]


@pytest.mark.slow
async def test_killed_mid_batch_resumes_without_gap_or_repeat(provisioned: NATS, nats_url: str,
                                                              tmp_path: Path) -> None:
    async with lapor_provider(reports=40) as provider:
        provider.delay = 0.3
        config = write_config(tmp_path, nats_url, "lapor-kill", "lapor", provider.settings)
        subject = subjects.inbound("lapor", "lapor-kill")
        proc = await spawn(config, "lapor-kill")
        while len(provider.requests) < 4:
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        before = [decode_envelope(m).external_id for m in await stored_messages(provisioned, subject)]
        assert 0 < len(before) < 40, "the kill must land mid-way"
        checkpoint = await (await Checkpoints.open(provisioned.jetstream(), "lapor-kill")).load(LaporCursor)
        requests_before = len(provider.requests)
        provider.delay = 0
        proc = await spawn(config, "lapor-kill", "--once")
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        after = [decode_envelope(m).external_id for m in await stored_messages(provisioned, subject)]
        assert after == provider.expected_ids(), "nothing skipped, nothing repeated, in order"
        assert checkpoint is not None
        assert provider.requests[requests_before].get("id_setelah") == checkpoint.tracking_id

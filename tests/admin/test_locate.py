"""`kanal admin find <ref>`: where a report is now, from the reference index and the admins' actions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from admin.locate import describe, locate
from admin.store import Handling, ItemStore
from kanal import bus, wilayah
from kanal.cli import app
from kanal.testing import connected, make_config
from tests.factories import envelope, record_reference

NAMES = wilayah.Names(places={"3171011001": wilayah.Place(code="3171011001", level="kelurahan", name="Gambir",
                                                           parent=None),
                              "317101": wilayah.Place(code="317101", level="kecamatan", name="Gambir", parent=None)})


async def test_find_follows_a_reroute_and_prints_no_reporter_data(nats_url: str, tmp_path: Path) -> None:
    config = make_config(nats_url, tmp_path)
    env = envelope("m-find", text="Banjir di depan rumah, hubungi 0812-3456-7890")
    async with connected(nats_url) as nc:
        js = nc.jetstream()
        await bus.provision(js, config)
        await record_reference(js, env, "kelurahan.3171011001")
        before = await locate(config, env.ref.lower(), "kanal_items")  # as typed: lower case
        store = await ItemStore.open(nc, "kanal_items")
        await store.record(env.id, Handling(seq=1, queue="kelurahan.3171011001", action="reroute", by="lurah",
                                            at=datetime.now(UTC), to_queue="kecamatan.317101", reason="lintas RW"))
    after = await locate(config, env.ref, "kanal_items")
    assert before is not None and before.queue_now == "kelurahan.3171011001"
    assert after is not None and after.queue_now == "kecamatan.317101"
    lines = describe(after, NAMES)
    assert lines[0].startswith(f"{env.ref}: laporan lewat twilio, diteruskan ") and lines[0].endswith("WIB")
    assert lines[1] == "antrean awal: kelurahan.3171011001 (Kelurahan Gambir)"
    assert "antrean kini: kecamatan.317101" in lines[2] and "dialihkan admin" in lines[2]
    assert lines[-1] == f"buka: kanal inbox kecamatan.317101 --all --q {env.ref}"
    shown = "\n".join(lines)
    assert "0812" not in shown and "Banjir" not in shown and (env.reporter.contact or "-") not in shown


def test_an_unknown_reference_says_so_and_exits_1(nats_url: str, tmp_path: Path) -> None:
    (tmp_path / "kanal.toml").write_text(f'[nats]\nurl = "{nats_url}"\n[kanal]\ndata_dir = "{tmp_path}"\n')
    result = CliRunner().invoke(app, ["admin", "find", "KNL-0000-0000-0000", "--config",
                                      str(tmp_path / "kanal.toml")])
    assert result.exit_code == 1
    assert "no routed report has this reference" in result.output

"""`kanal route explain` and `kanal geo check`, run as a user would (a subprocess of the real CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from schemas import Location, encode
from tests.conftest import shared_path
from tests.factories import envelope
from tests.router.fixtures import feature, write_boundaries, write_rules

ROOT = Path(__file__).resolve().parents[2]


def kanal(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kanal", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})


def test_route_explain_prints_queue_rule_and_trail(tmp_path: Path) -> None:
    write_rules(tmp_path)
    (tmp_path / "kanal.toml").write_text('[router]\nrules = "rules.toml"\n')
    env = tmp_path / "env.json"
    env.write_bytes(encode(envelope(text="Got mampet di kel. Beta sudah seminggu")))
    done = kanal("route", "explain", str(env), "--config", str(tmp_path / "kanal.toml"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "queue:   kanal.admin.kelurahan.3199011002" in done.stdout
    assert "rule:    gazetteer (gazetteer)" in done.stdout
    assert "pass  geo: no location" in done.stdout and "MATCH gazetteer" in done.stdout
    as_json = kanal("route", "explain", str(env), "--json", "--config", str(tmp_path / "kanal.toml"), cwd=tmp_path)
    assert json.loads(as_json.stdout)["queue"] == "kelurahan.3199011002"


def test_route_explain_tries_a_sentence_without_an_envelope_file(tmp_path: Path) -> None:
    write_rules(tmp_path)
    (tmp_path / "kanal.toml").write_text('[router]\nrules = "rules.toml"\n')
    done = kanal("route", "explain", "--text", "Got mampet di kel. Beta sudah seminggu", "--config",
                 str(tmp_path / "kanal.toml"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "queue:   kanal.admin.kelurahan.3199011002" in done.stdout and "from twilio/" in done.stdout
    neither = kanal("route", "explain", "--config", str(tmp_path / "kanal.toml"), cwd=tmp_path)
    assert neither.returncode == 2 and "--text" in neither.stderr


def test_route_explain_with_the_jakarta_rules(tmp_path: Path) -> None:
    shared_path("data", "jakarta", "kelurahan.geojson")
    env = tmp_path / "monas.json"
    env.write_bytes(encode(envelope(location=Location(lat=-6.1754, lon=106.8272, source="gps"))))
    done = kanal("route", "explain", str(env), "--rules", str(ROOT / "deploy/rules/jakarta.toml"),
                 "--config", str(ROOT / "kanal.example.toml"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "kanal.admin.kelurahan.3171011001" in done.stdout and "Gambir" in done.stdout


def test_route_explain_refuses_a_bad_envelope(tmp_path: Path) -> None:
    write_rules(tmp_path)
    (tmp_path / "kanal.toml").write_text('[router]\nrules = "rules.toml"\n')
    (tmp_path / "bad.json").write_text('{"v": 1, "id": "nope"}')
    done = kanal("route", "explain", str(tmp_path / "bad.json"), "-c", str(tmp_path / "kanal.toml"), cwd=tmp_path)
    assert done.returncode == 2 and "invalid envelope" in done.stderr


def test_geo_check_ok_and_failing(tmp_path: Path) -> None:
    good = kanal("geo", "check", str(write_boundaries(tmp_path / "ok.geojson")), cwd=tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "3 features" in good.stdout and "overlaps: 1 pairs" in good.stdout and "OK" in good.stdout
    bowtie = [[106.0, -6.0], [106.1, -6.1], [106.1, -6.0], [106.0, -6.1], [106.0, -6.0]]
    bad = write_boundaries(tmp_path / "bad.geojson", [feature("31.99", "Bow", "K", "K", bowtie)])
    failed = kanal("geo", "check", str(bad), cwd=tmp_path)
    assert failed.returncode == 1
    assert "invalid polygon" in failed.stdout and "code does not match" in failed.stdout
    missing = kanal("geo", "check", str(tmp_path / "nope.geojson"), cwd=tmp_path)
    assert missing.returncode == 2 and missing.stdout == ""  # no "0 features" report for a file that is not there
    assert "nope.geojson is not a file" in missing.stderr

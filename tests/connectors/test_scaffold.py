"""`kanal connector new` as a plugin author runs it: the package installs into a fresh venv and passes its tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_rejects_a_bad_channel_id(tmp_path: Path) -> None:
    result = _run(sys.executable, "-m", "kanal", "connector", "new", "Bad-Name", "--dir", tmp_path / "x")
    assert result.returncode == 2
    assert "lowercase" in result.stderr


def test_scaffolded_channel_passes_its_tests_and_dead_letters_a_malformed_post(tmp_path: Path) -> None:
    """The generated package's own tests, run here: among them a malformed POST that must land in KANAL_DLQ.

    Run from its directory on PYTHONPATH (no install), so this runs on every test run; the slow test below
    proves the install into a fresh venv.
    """
    plugin = tmp_path / "kanal-qlue"
    made = _run(sys.executable, "-m", "kanal", "connector", "new", "qlue", "--dir", plugin)
    assert made.returncode == 0, made.stderr
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", "tests"], cwd=plugin,
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(plugin)},
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    for case in ("good", "malformed"):  # the shipped request cases, each its own test id
        assert f"PASSED tests/test_contract.py::TestContract::test_request_as_declared[{case}]" in tests.stdout
    assert "PASSED tests/test_contract.py::TestContract::test_request_logs_keep_secrets_and_contacts_out[good]" \
        in tests.stdout
    assert "SKIPPED" not in tests.stdout and "FAILED" not in tests.stdout


@pytest.mark.slow
def test_scaffolded_plugin_installs_in_a_fresh_venv_and_passes(tmp_path: Path) -> None:
    plugin = tmp_path / "kanal-qlue"
    made = _run(sys.executable, "-m", "kanal", "connector", "new", "qlue", "--dir", plugin)
    assert made.returncode == 0, made.stderr
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = _run(python, "-m", "pip", "install", "--quiet", str(ROOT), "-e", f"{plugin}[test]")
    assert install.returncode == 0, install.stderr[-3000:]

    listed = _run(env_dir / "bin" / "kanal", "connector", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    channels = {row["channel"]: row for row in json.loads(listed.stdout)["channels"]}
    assert channels["qlue"]["available"] is True
    assert channels["qlue"]["mode"] == "webhook"
    assert any(s["name"] == "secret" and s["secret"] for s in channels["qlue"]["settings"])

    tests = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=plugin)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout
    assert "failed" not in tests.stdout

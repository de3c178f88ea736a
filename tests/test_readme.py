"""The README's quick start, run as written: `kanal up` with kanal.example.toml, then the report and inbox commands.

The shell block after "A geotagged photo report near Monas" is taken from README.md itself and run by bash, so
the README cannot drift from what the system does (found by hand: its inbox line once lacked `--as`).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import shared_path

ROOT = Path(__file__).resolve().parents[1]
# every port kanal.example.toml listens on: NATS, health, router metrics, console, app, desk, four webhooks
EXAMPLE_PORTS = (4222, 8470, 8471, 8480, 8081, 8082, 8083, 8084, 8085, 8086)


def readme_block(after: str) -> str:
    """The first ```sh block of README.md after the line containing `after`."""
    text = (ROOT / "README.md").read_text()
    start = text.index(after)
    match = re.search(r"```sh\n(.*?)```", text[start:], re.S)
    assert match, f"no ```sh block after {after!r} in README.md"
    return match.group(1)


def busy(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_port(port: int, proc: subprocess.Popen[str], within: float) -> None:
    deadline = time.monotonic() + within
    while not busy(port):
        assert proc.poll() is None, f"kanal up exited: {proc.communicate()[0][-3000:]}"
        assert time.monotonic() < deadline, f"nothing listens on {port} after {within:.0f}s"
        time.sleep(0.2)


@pytest.mark.slow
def test_the_quick_start_report_lands_in_the_kelurahan_queue(tmp_path: Path) -> None:
    shared_path("data", "jakarta", "kelurahan.geojson")  # the example's geo rule reads Jakarta's boundaries
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed; the README's example uses it")
    taken = [port for port in EXAMPLE_PORTS if busy(port)]
    if taken:
        pytest.skip(f"ports {taken} are in use (a `make up` running?); the example config needs them")
    venv_kanal = ROOT / ".venv" / "bin" / "kanal"
    if not venv_kanal.exists():
        pytest.skip(f"{venv_kanal} missing: the README's commands assume `make up`'s venv")
    env = {**os.environ, "KANAL_LOG__FORMAT": "json",
           # fresh state, not the developer's var/ (the config's own paths otherwise)
           "KANAL_KANAL__DATA_DIR": str(tmp_path / "var"), "KANAL_NATS__EMBEDDED_STORE": str(tmp_path / "var/nats")}
    up = subprocess.Popen([sys.executable, "-m", "kanal", "up", "--config", str(ROOT / "kanal.example.toml")],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_port(8081, up, 60)  # the citizen app API
        wait_port(8471, up, 60)  # the router's metrics: it is consuming
        script = readme_block("A geotagged photo report near Monas")
        script = script.replace(".venv/bin/", f"{venv_kanal.parent}/").replace(
            "--config kanal.example.toml", f"--config {ROOT / 'kanal.example.toml'}")
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        refs = re.findall(r'"ref":"(KNL-[A-Z0-9-]+)"', done.stdout)
        assert refs, done.stdout
        ref = refs[0]
        inbox = next(line for line in script.splitlines() if " inbox " in line)
        for _attempt in range(20):  # routing takes a moment: list again until the item is there
            if f"{ref}  [" in done.stdout:
                break
            time.sleep(0.5)
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", inbox], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stdout + done.stderr
        listing = done.stdout
        assert f"{ref}  [Menunggu]" in listing, listing
        assert "inside 3171011001 Gambir" in listing and "Trotoar rusak di dekat Monas" in listing, listing
    finally:
        up.send_signal(signal.SIGINT)
        try:
            output, _ = up.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
            output, _ = up.communicate()
    assert up.returncode == 0, output[-3000:]

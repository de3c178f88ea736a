"""`kanal up` as a user runs it: starts embedded NATS, answers /healthz, exits 0 on a signal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kanal.bus import free_port


def _wait_health(url: str, proc: subprocess.Popen[str], timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        try:
            response = httpx.get(url, timeout=1)
            if response.status_code == 200:
                body: dict[str, object] = response.json()
                return body
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("kanal up never answered /healthz")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_up_runs_embedded_nats_and_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    nats_port, health_port = free_port(), free_port()
    config = tmp_path / "kanal.toml"
    config.write_text(
        f'[kanal]\ndata_dir = "var"\nhealth_port = {health_port}\n'
        f'[nats]\nembedded_port = {nats_port}\nembedded_store = "var/nats"\n'
        '[router]\nenabled = false\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "kanal", "up", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        env={**os.environ, "KANAL_LOG__FORMAT": "json"},
    )
    try:
        body = _wait_health(f"http://127.0.0.1:{health_port}/healthz", proc)
        assert body["status"] == "ok"
        assert body["nats"] == f"nats://127.0.0.1:{nats_port}"
        assert (tmp_path / "var" / "nats" / "jetstream").is_dir()
        proc.send_signal(sig)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "embedded nats-server stopped" in output
    leftover = subprocess.run(["pgrep", "-f", f"-p {nats_port}"], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "embedded nats-server still running"


def _config(tmp_path: Path, nats_port: int, health_port: int) -> Path:
    config = tmp_path / "kanal.toml"
    config.write_text(
        f'[kanal]\ndata_dir = "var"\nhealth_port = {health_port}\n'
        f'[nats]\nembedded_port = {nats_port}\nembedded_store = "var/nats"\n'
        '[router]\nenabled = false\n'
    )
    return config


@pytest.mark.parametrize("busy", ["nats", "health"])
def test_a_busy_port_stops_up_with_a_clear_error_and_no_leftovers(tmp_path: Path, busy: str) -> None:
    """A second `kanal up`, or anything else on its ports, must not be mistaken for ours (found by hand)."""
    nats_port, health_port = free_port(), free_port()
    squatter = socket.create_server(("127.0.0.1", nats_port if busy == "nats" else health_port))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "kanal", "up", "--config", str(_config(tmp_path, nats_port, health_port))],
            capture_output=True, text=True, cwd=tmp_path, timeout=60,
            env={**os.environ, "KANAL_LOG__FORMAT": "json"},
        )
    finally:
        squatter.close()
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert ("nats_start_failed" if busy == "nats" else "health_port_busy") in output
    assert "Traceback" not in output
    leftover = subprocess.run(["pgrep", "-f", f"-p {nats_port}"], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "embedded nats-server still running"
    children = subprocess.run(["pgrep", "-f", f"--config {tmp_path}"], capture_output=True, text=True)
    assert children.stdout.strip() == "", f"programs left running: {children.stdout}"


async def test_http_start_on_a_busy_port_raises_instead_of_exiting() -> None:
    from starlette.applications import Starlette

    from kanal import http

    squatter = socket.create_server(("127.0.0.1", 0))
    port = squatter.getsockname()[1]
    try:
        with pytest.raises(OSError, match=f"127.0.0.1:{port}"):
            await http.start(Starlette(), "127.0.0.1", port)
    finally:
        squatter.close()

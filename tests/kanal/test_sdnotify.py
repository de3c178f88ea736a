"""sd_notify: a connector tells systemd it is ready once it listens, and that it is stopping."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kanal import sdnotify

ROOT = Path(__file__).resolve().parents[2]


def test_notify_is_a_no_op_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.notify() is False


def test_connector_sends_ready_then_stopping(tmp_path: Path, nats_url: str) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(path))
        listener.settimeout(30)
        config = tmp_path / "kanal.toml"
        config.write_text(f'[nats]\nurl = "{nats_url}"\n[kanal]\ndata_dir = "{tmp_path}"\n'
                          '[connectors.hook-1]\nchannel = "hook"\naccount = "+628111272206"\n'
                          'secret = "hook-secret-123456"\n')
        env = {**os.environ, "NOTIFY_SOCKET": str(path), "PYTHONPATH": str(ROOT),
               "KANAL_EXTRA_CHANNELS": "tests.connectors.sample_channels:hook"}
        proc = subprocess.Popen([sys.executable, "-m", "kanal", "connector", "run", "hook-1", "--config", str(config)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert listener.recv(64) == b"READY=1"
            proc.send_signal(signal.SIGTERM)
            assert listener.recv(64) == b"STOPPING=1"
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()

"""`kanal notifier run` stops on SIGTERM even while NATS has never been reachable (it used to retry forever)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from kanal import bus


def test_sigterm_before_nats_is_reachable_stops_the_notifier(tmp_path: Path) -> None:
    config = tmp_path / "kanal.toml"
    config.write_text(f'[nats]\nurl = "nats://127.0.0.1:{bus.free_port()}"\n[kanal]\ndata_dir = "{tmp_path / "var"}"\n')
    proc = subprocess.Popen([sys.executable, "-m", "kanal", "notifier", "run", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        for line in proc.stdout:  # it is trying to connect: the first refused attempt is logged
            if '"nats_error"' in line or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

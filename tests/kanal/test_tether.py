"""kanal.tether: a child started through it gets SIGTERM when its parent is killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are Linux's")


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_a_tethered_child_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    trap = tmp_path / "got-sigterm"
    child = (f"import signal, sys, time, pathlib\n"
             f"signal.signal(signal.SIGTERM, lambda *_: (pathlib.Path({str(trap)!r}).touch(), sys.exit(0)))\n"
             f"print('ready', flush=True)\ntime.sleep(60)\n")
    parent = textwrap.dedent(f"""
        import subprocess, sys, time
        from kanal import tether
        proc = subprocess.Popen(tether.command([sys.executable, "-c", {child!r}]), stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline() == "ready\\n"
        print(proc.pid, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        child_pid = int(proc.stdout.readline())
        assert alive(child_pid)
        # exec'd, not wrapped: the pid that was started is the program itself
        assert "kanal.tether" not in Path(f"/proc/{child_pid}/cmdline").read_text()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert wait_gone(child_pid, 10), "the child outlived its killed parent"
        assert trap.exists(), "the child did not get SIGTERM (it could not clean up)"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_nothing_runs_when_the_parent_has_already_gone() -> None:
    if os.getpid() == 1:  # pragma: no cover - pytest as a container's init
        pytest.skip("this process is pid 1, the parent the test pretends has gone")
    done = subprocess.run([sys.executable, "-m", "kanal.tether", "--parent", "1", "--", "true"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "parent 1 has gone; not starting true" in done.stderr


def test_a_missing_program_is_a_clear_error() -> None:
    done = subprocess.run([sys.executable, "-m", "kanal.tether", "--parent", str(os.getpid()), "--",
                           "/nonexistent/kanal-program"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 127
    assert "cannot run /nonexistent/kanal-program: No such file or directory" in done.stderr


def test_a_program_is_required() -> None:
    done = subprocess.run([sys.executable, "-m", "kanal.tether", "--parent", str(os.getpid())],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "no program given" in done.stderr


def test_the_program_starts_with_default_signal_dispositions() -> None:
    """Found in review: Python ignores SIGPIPE and SIGXFSZ and an exec keeps that; subprocess would reset them."""
    done = subprocess.run([sys.executable, "-m", "kanal.tether", "--parent", str(os.getpid()), "--",
                           "cat", "/proc/self/status"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    ignored = int(next(line for line in done.stdout.splitlines() if line.startswith("SigIgn:")).split()[1], 16)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        assert not ignored & (1 << (sig - 1)), f"{sig.name} is ignored in the program"

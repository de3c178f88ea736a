"""`kanal up` as a user runs it: starts embedded NATS, answers /healthz, exits 0 on a signal."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
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
    leftover = subprocess.run(["pgrep", "-f", "--", f"-p {nats_port}"], capture_output=True, text=True)
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
    leftover = subprocess.run(["pgrep", "-f", "--", f"-p {nats_port}"], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "embedded nats-server still running"
    children = subprocess.run(["pgrep", "-f", "--", f"--config {tmp_path}"], capture_output=True, text=True)
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


def test_ctrl_c_in_a_terminal_stops_the_programs_before_nats(tmp_path: Path) -> None:
    """Ctrl-C signals the terminal's whole process group: the programs must not see NATS go first (found by hand:
    the router logged "409 Server Shutdown" and every client refused reconnects on each Ctrl-C)."""
    nats_port, health_port = free_port(), free_port()
    (tmp_path / "rules.toml").write_text('version = 1\n[[rule]]\nid = "triage"\ntype = "fallback"\n')
    config = tmp_path / "kanal.toml"
    config.write_text(
        f'[kanal]\ndata_dir = "var"\nhealth_port = {health_port}\n'
        f'[nats]\nembedded_port = {nats_port}\nembedded_store = "var/nats"\n'
        f'[router]\nrules = "{tmp_path / "rules.toml"}"\nmetrics_port = {free_port()}\n'
    )
    proc = subprocess.Popen(  # a session of its own, like a shell's job: the test can signal its whole group
        [sys.executable, "-m", "kanal", "up", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path, start_new_session=True,
        env={**os.environ, "KANAL_LOG__FORMAT": "json"},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not ("router: ready\n" in lines and any('"notifier_started"' in line for line in lines)):
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
            time.sleep(0.1)
        time.sleep(2.5)  # a couple of idle pull fetches of the router and the notifier
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        proc.wait(timeout=60)
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for pattern in (f"--config {tmp_path}", f"-p {nats_port}"):  # the children run in sessions of their own
            subprocess.run(["pkill", "-KILL", "-f", "--", pattern], check=False)
    output = "".join(lines)
    assert proc.returncode == 0, output
    assert '"event": "router_stopped"' in output and '"event": "notifier_stopped"' in output, output
    for noise in ("Server Shutdown", "fetch_failed", "nats_error", "Traceback", "program_exited"):
        assert noise not in output, f"{noise!r} on Ctrl-C:\n{output}"
    assert output.index("notifier_stopped") < output.index("embedded nats-server stopped")
    assert output.index("router_stopped") < output.index("embedded nats-server stopped")
    leftover = subprocess.run(["pgrep", "-f", "--", f"-p {nats_port}"], capture_output=True, text=True)
    assert leftover.returncode == 1 and leftover.stdout.strip() == "", "embedded nats-server still running"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are Linux's")
def test_killing_up_outright_leaves_no_orphans(tmp_path: Path) -> None:
    """SIGKILL or the OOM killer gives `kanal up` no chance to stop its children; they must not live on holding
    the ports, or the next `kanal up` refuses to start."""
    from tests.kanal.test_tether import wait_gone

    nats_port, health_port = free_port(), free_port()
    config = _config(tmp_path, nats_port, health_port)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kanal", "up", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path, start_new_session=True,
        env={**os.environ, "KANAL_LOG__FORMAT": "json"},
    )
    pids: list[int] = []
    try:
        body = _wait_health(f"http://127.0.0.1:{health_port}/healthz", proc)
        programs = body["programs"]
        assert isinstance(programs, list) and programs
        pids += [int(p["pid"]) for p in programs if p["pid"] is not None]
        assert len(pids) == len(programs), programs
        found = subprocess.run(["pgrep", "-f", "--", f"-p {nats_port}"], capture_output=True, text=True)
        nats_pids = [int(pid) for pid in found.stdout.split()]
        assert len(nats_pids) == 1, found.stdout
        proc.kill()
        proc.wait(timeout=10)
        for pid in [*pids, *nats_pids]:
            assert wait_gone(pid, 20), f"pid {pid} outlived the killed `kanal up`"
    finally:
        if proc.poll() is None:
            proc.kill()
        subprocess.run(["pkill", "-KILL", "-f", "--", f"-p {nats_port}"], check=False)
        for pid in pids:  # only left after a failure: kill what the test started, nothing else
            with contextlib.suppress(OSError):
                if "kanal" in Path(f"/proc/{pid}/cmdline").read_text():
                    os.kill(pid, signal.SIGKILL)
    again = subprocess.Popen(  # the ports are free again
        [sys.executable, "-m", "kanal", "up", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        env={**os.environ, "KANAL_LOG__FORMAT": "json"},
    )
    try:
        assert _wait_health(f"http://127.0.0.1:{health_port}/healthz", again)["status"] == "ok"
        again.send_signal(signal.SIGTERM)
        again.communicate(timeout=30)
    finally:
        if again.poll() is None:
            again.kill()
    assert again.returncode == 0


def _hook_post(port: int, n: int) -> httpx.Response:
    import json

    from tests.connectors.sample_channels import message, sign

    body = json.dumps({"messages": [message(n)]}).encode()
    return httpx.post(f"http://127.0.0.1:{port}/inbound", content=body, timeout=10,
                      headers={"X-Hook-Signature": sign("s3cret-value", body)})


def test_a_killed_embedded_nats_server_is_restarted_and_messages_still_flow(tmp_path: Path) -> None:
    """Issue #19: after kill -9 of the embedded nats-server, /healthz said "degraded" forever."""
    import asyncio

    from kanal.testing import connected
    from schemas import subjects

    nats_port, health_port, hook_port = free_port(), free_port(), free_port()
    config = tmp_path / "kanal.toml"
    config.write_text(
        f'[kanal]\ndata_dir = "var"\nhealth_port = {health_port}\n'
        f'[nats]\nembedded_port = {nats_port}\nembedded_store = "var/nats"\n'
        '[router]\nenabled = false\n[outbound]\nenabled = false\n'
        f'[connectors.hook-1]\nchannel = "hook"\naccount = "a"\nsecret = "s3cret-value"\nport = {hook_port}\n'
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "kanal", "up", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        env={**os.environ, "KANAL_LOG__FORMAT": "json", "PYTHONPATH": str(root),
             "KANAL_EXTRA_CHANNELS": "tests.connectors.sample_channels:hook"},
    )
    health = f"http://127.0.0.1:{health_port}/healthz"
    try:
        first = _wait_health(health, proc)
        deadline = time.monotonic() + 60
        while True:  # the connector answers once it has started
            with contextlib.suppress(httpx.HTTPError):
                if _hook_post(hook_port, 1).status_code == 200:
                    break
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.2)
        server = first["nats_server"]
        assert isinstance(server, dict) and server["restarts"] == 0
        os.kill(int(server["pid"]), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:  # degraded, then ok again with a new server
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.get(health, timeout=2)
                body = response.json()
                if response.status_code == 200 and body["nats_server"]["restarts"] == 1:
                    break
            assert time.monotonic() < deadline and proc.poll() is None, "never restarted"
            time.sleep(0.2)
        assert _hook_post(hook_port, 2).status_code == 200  # taken (acked, or spooled until it reconnects)

        async def stored() -> list[str]:
            from connectors.testkit.harness import stored_messages
            from schemas import decode_envelope

            async with connected(f"nats://127.0.0.1:{nats_port}") as nc:
                messages = await stored_messages(nc, subjects.inbound("hook", "hook-1"))
            return sorted(decode_envelope(m).external_id for m in messages)

        deadline = time.monotonic() + 60
        while (found := asyncio.run(stored())) != ["m1", "m2"]:  # the connector reconnected and delivered
            assert time.monotonic() < deadline, found
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        subprocess.run(["pkill", "-KILL", "-f", "--", f"-p {nats_port}"], check=False)
    assert proc.returncode == 0, output
    assert '"event": "nats_server_exited"' in output and '"event": "nats_server_restarted"' in output
    assert '"program_exited"' not in output  # the connector rode it out, it did not crash

"""`kanal up`'s process supervisor: every component in its own child process, restarted with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Literal

from kanal import log, tether

State = Literal["starting", "running", "backoff", "stopping", "stopped", "failed"]
# A child that exits with this code hit a permanent error (credentials, config): restarting cannot help.
EXIT_PERMANENT = 78
# Exit 2 is a usage or config error (every `kanal` command, and click's own usage errors): permanent too.
EXIT_CONFIG = 2
_log = log.get("supervisor")


@dataclass
class Program:
    """One child: a name for logs and health, and the argv that runs it."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    state: State = "stopped"
    pid: int | None = None
    restarts: int = 0
    last_exit: int | None = None
    started_at: float = 0.0
    proc: asyncio.subprocess.Process | None = None


class Supervisor:
    """Starts programs, restarts a crashed one after 1 s, 2 s, 4 s ... up to `max_backoff`."""

    def __init__(self, programs: list[Program], max_backoff: float = 60.0, stop_timeout: float = 20.0,
                 tethered: bool = False) -> None:
        self.programs = programs
        self.tethered = tethered  # children get SIGTERM if this process dies without stopping them (kanal.tether)
        self.max_backoff = max_backoff
        self.stop_timeout = stop_timeout
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Launch a watcher task per program."""
        self._tasks = [asyncio.create_task(self._watch(p), name=f"watch-{p.name}") for p in self.programs]

    async def _watch(self, program: Program) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            program.state = "starting"
            # A session of its own: Ctrl-C in a terminal signals the whole foreground process group, and the
            # programs must stop before the NATS server they write to, in the order `stop` gives them.
            # Spawned from the event loop's thread, which lives as long as the children: a parent-death
            # signal follows the thread that forked.
            argv = tether.command(program.argv) if self.tethered else program.argv
            program.proc = await asyncio.create_subprocess_exec(
                *argv, env={**os.environ, **program.env}, stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
            program.pid = program.proc.pid
            if self._stopping.is_set():  # `stop` began while this child was being spawned: it was not signalled
                with contextlib.suppress(ProcessLookupError):
                    program.proc.send_signal(signal.SIGTERM)
            program.started_at = time.monotonic()
            program.state = "running"
            _log.info("program_started", program=program.name, pid=program.pid)
            code = await program.proc.wait()
            program.last_exit = code
            program.pid = None
            if self._stopping.is_set():
                break
            if code in (EXIT_PERMANENT, EXIT_CONFIG):
                program.state = "failed"
                _log.error("program_failed_permanently", program=program.name, code=code,
                           hint="fix its credentials or config (see its log), then restart kanal")
                return
            if time.monotonic() - program.started_at > 60:
                backoff = 1.0
            program.restarts += 1
            program.state = "backoff"
            _log.warning("program_exited", program=program.name, code=code, restart_in_s=backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), backoff)
            backoff = min(backoff * 2, self.max_backoff)
        program.state = "stopped"

    async def stop(self) -> None:
        """SIGTERM every child, wait up to `stop_timeout`, then SIGKILL what is left."""
        self._stopping.set()
        running = [p for p in self.programs if p.proc is not None and p.proc.returncode is None]
        for program in running:
            program.state = "stopping"
            with contextlib.suppress(ProcessLookupError):
                assert program.proc is not None
                program.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for program in running:
            assert program.proc is not None
            try:
                await asyncio.wait_for(program.proc.wait(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                _log.error("program_killed", program=program.name, reason="did not stop after SIGTERM")
                with contextlib.suppress(ProcessLookupError):
                    program.proc.kill()
                await program.proc.wait()
            program.state = "stopped"
        if self._tasks:  # watchers end once their child has; a child spawned meanwhile got SIGTERM from its watcher
            _, late = await asyncio.wait(self._tasks, timeout=self.stop_timeout)
            for program in self.programs:
                if late and program.proc is not None and program.proc.returncode is None:
                    _log.error("program_killed", program=program.name, reason="did not stop after SIGTERM")
                    with contextlib.suppress(ProcessLookupError):
                        program.proc.kill()
            if late:
                await asyncio.gather(*late, return_exceptions=True)

    def states(self) -> list[dict[str, object]]:
        """A row per program for `/healthz` and the status line."""
        return [
            {"name": p.name, "state": p.state, "pid": p.pid, "restarts": p.restarts, "last_exit": p.last_exit}
            for p in self.programs
        ]

"""The supervisor behind `kanal up`: crashes restart with backoff, permanent failures stay down."""

from __future__ import annotations

import asyncio
import sys

import pytest

from kanal.supervisor import Program, Supervisor


def _program(name: str, code: str) -> Program:
    return Program(name, [sys.executable, "-c", code])


async def test_crash_restarts_and_does_not_touch_the_others() -> None:
    crasher = _program("crasher", "import sys; sys.exit(3)")
    steady = _program("steady", "import time; time.sleep(60)")
    supervisor = Supervisor([crasher, steady], max_backoff=0.2)
    supervisor.start()
    try:
        async with asyncio.timeout(20):
            while crasher.restarts < 3:
                await asyncio.sleep(0.05)
        assert crasher.last_exit == 3
        assert steady.state == "running"
        assert steady.restarts == 0
    finally:
        await supervisor.stop()
    assert {p.state for p in supervisor.programs} == {"stopped"}


@pytest.mark.parametrize("code", [78, 2])  # credentials refused; a config or usage error
async def test_permanent_exits_are_not_restarted(code: int) -> None:
    failed = _program("bad-credentials", f"import sys; sys.exit({code})")
    supervisor = Supervisor([failed], max_backoff=0.1)
    supervisor.start()
    try:
        async with asyncio.timeout(20):
            while failed.state != "failed":
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        assert failed.restarts == 0
        assert failed.state == "failed"
    finally:
        await supervisor.stop()


async def test_stop_terminates_children_within_the_bound() -> None:
    ignore_term = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    stubborn = _program("stubborn", ignore_term)
    supervisor = Supervisor([stubborn], stop_timeout=0.5)
    supervisor.start()
    async with asyncio.timeout(10):
        while stubborn.state != "running":
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        await supervisor.stop()
    assert stubborn.proc is not None
    assert stubborn.proc.returncode is not None


async def test_stop_right_after_start_does_not_wait_on_a_child_nobody_signalled() -> None:
    """A stop while a watcher is still spawning its child (a signal during start-up, found by review)."""
    sleeper = _program("sleeper", "import time; time.sleep(60)")
    supervisor = Supervisor([sleeper], stop_timeout=5)
    supervisor.start()
    await asyncio.sleep(0)  # the watcher is inside create_subprocess_exec
    async with asyncio.timeout(10):
        await supervisor.stop()
    assert sleeper.proc is not None and sleeper.proc.returncode is not None


class _States:
    def __init__(self, *states: str) -> None:
        self.rows = [{"name": f"program-{n}", "state": state, "pid": None, "restarts": 0, "last_exit": None}
                     for n, state in enumerate(states)]

    def states(self) -> list[dict[str, object]]:
        return self.rows


@pytest.mark.parametrize(("states", "status", "down"), [
    (("running", "running"), 200, None),
    (("running", "starting"), 200, None),
    (("running", "backoff"), 503, ["program-1"]),
    (("failed", "running"), 503, ["program-0"]),
])
async def test_healthz_is_degraded_while_a_program_is_down(states: tuple[str, ...], status: int,
                                                            down: list[str] | None) -> None:
    import httpx

    from kanal.up import _health_app

    app = _health_app(_States(*states), "nats://127.0.0.1:4222", None)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://up") as client:
        answer = await client.get("/healthz")
    assert answer.status_code == status
    assert answer.json()["status"] == ("ok" if status == 200 else "degraded")
    assert answer.json().get("down") == down

"""Login throttling without lock-out: per (user name, address) growing delays capped at a minute, unknown names
like known ones, state in NATS KV (a restart and a second console replica see it), and the failed-login log
names a user only when it is a configured one."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from nats.aio.client import Client as NATS

from admin.console import Console, build
from admin.settings import AdminSettings
from kanal import log
from kanal.config import Config
from kanal.throttle import Failures, LoginThrottle
from tests.admin.conftest import login

NOW = 1_000_000.0


@asynccontextmanager
async def client(console: Console, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=console.app(), client=(address, 50_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def test_delays_grow_and_are_capped_at_one_minute() -> None:
    throttle = LoginThrottle(clock=lambda: NOW)
    waits = [throttle.wait_for(Failures(count=n, last=NOW)) for n in range(12)]
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert throttle.wait_for(Failures(count=50, last=NOW - 59.5)) == 0.5
    assert throttle.wait_for(Failures(count=50, last=NOW - 61)) == 0  # never a fixed lock-out period


async def test_someone_elses_attempts_never_lock_an_admin_out(provisioned: NATS, console: Console) -> None:
    console.throttle.clock = lambda: NOW
    async with client(console, "203.0.113.66") as attacker, client(console, "10.20.0.5") as lurah:
        for _ in range(10):
            assert (await login(attacker, "pusat", "tebakan")).status_code in (401, 429)
        refused = await login(attacker, "pusat")  # the right password from the attacker's address waits too
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) <= 60
        assert (await login(lurah, "pusat")).status_code == 303  # the admin's own address gets straight in


async def test_unknown_names_are_throttled_like_known_ones(provisioned: NATS, console: Console) -> None:
    console.throttle.clock = lambda: NOW
    async with client(console, "203.0.113.7") as guesser:
        answers = [(await login(guesser, "tidak-ada", "x")).status_code for _ in range(4)]
        known = [(await login(guesser, "lurah-kebon", "x")).status_code for _ in range(4)]
    assert answers == known == [401, 401, 401, 429]


async def test_state_survives_a_restart_and_is_shared_by_replicas(provisioned: NATS, config: Config,
                                                                  admin_settings: AdminSettings) -> None:
    first = await build(config, admin_settings, provisioned)
    first.throttle.clock = lambda: NOW
    async with client(first, "198.51.100.4") as c:
        for _ in range(3):
            assert (await login(c, "lurah-gambir", "salah")).status_code == 401
    replica = await build(config, admin_settings, provisioned)  # a new process, or a second replica
    replica.throttle.clock = lambda: NOW
    async with client(replica, "198.51.100.4") as c, client(replica, "198.51.100.5") as elsewhere:
        assert (await login(c, "lurah-gambir")).status_code == 429
        assert (await login(elsewhere, "lurah-gambir")).status_code == 303
    replica.throttle.clock = lambda: NOW + 1.5  # the one-second delay has passed
    async with client(replica, "198.51.100.4") as c:
        assert (await login(c, "lurah-gambir")).status_code == 303
        assert await replica.throttle.delay("lurah-gambir", "198.51.100.4") == 0  # a success forgets


async def test_failed_login_logs_only_configured_user_names(provisioned: NATS, console: Console) -> None:
    console.throttle.clock = lambda: NOW
    out = io.StringIO()
    log.configure("debug", "json", stream=out)
    try:
        async with client(console, "192.0.2.1") as c:
            assert (await login(c, "Rahasia-Pusat-2026!", "x")).status_code == 401  # password in the name box
            assert (await login(c, "lurah-gambir", "salah")).status_code == 401
    finally:
        log.configure("debug", "json")
    text = out.getvalue()
    assert text.count("admin_login_failed") == 2
    assert "Rahasia-Pusat-2026!" not in text and '"user": "lurah-gambir"' in text

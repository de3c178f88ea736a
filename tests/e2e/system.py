"""The whole system as `kanal up` runs it, for end-to-end tests: embedded NATS, router, notifier and the
Telegram, Meta (WhatsApp Cloud API and Messenger) and Twilio connectors as processes, each provider's API
faked on loopback (tests/fakes/), webhooks signed as each provider signs them.

Waiting is by polling with generous deadlines (a loaded 2-core machine runs these), never by sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from nats.aio.client import Client as NATS

from admin.inbox import Entry, Inbox
from admin.store import ItemStore
from kanal import bus
from kanal.bus import free_port
from kanal.config import NatsSettings
from schemas import subjects
from schemas.routed import RoutedItem, decode_routed
from tests.admin.helpers import settings as admin_settings
from tests.fakes import dovecot as dovecot_fake
from tests.fakes import smtp as smtp_fake
from tests.fakes.meta import FakeGraph
from tests.fakes.serve import serving
from tests.fakes.telegram import TOKEN, FakeBotApi
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioMedia
from tests.fakes.twilio import sign as twilio_sign
from tests.router.fixtures import write_rules

DEADLINE = 120.0  # seconds any one step may take on a loaded machine (a pass takes a few)
TG_SECRET = "kanal-e2e-webhook-secret_0123456789"
APP_SECRET = "meta-e2e-app-secret-0123456789"
NUMBER = "+628111272206"
WINDOW = "3s"  # chat fragments quiet this long make one report (router/assembly.py); short, as tests wait for it
T = TypeVar("T")


@dataclass
class System:
    """The running system and handles on it."""

    root: Path
    proc: asyncio.subprocess.Process
    nc: NATS
    telegram: FakeBotApi
    graph: FakeGraph
    twilio: TwilioMedia
    ports: dict[str, int]
    http: httpx.AsyncClient
    mail: dovecot_fake.Dovecot | None = None  # a real Dovecot (None where it cannot run: e-mail tests skip)
    smtp: smtp_fake.SmtpServer | None = None

    def log(self) -> str:
        return (self.root / "up.log").read_text(errors="replace")[-6000:]

    async def telegram_update(self, update: dict[str, Any]) -> None:
        """POST one Update to the webhook with the secret token, as Telegram does."""
        response = await self.http.post(f"http://127.0.0.1:{self.ports['tg']}/telegram/webhook", json=update,
                                        headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
        assert response.status_code == 200, response.text

    async def meta_event(self, body: bytes) -> None:
        """POST a webhook body signed with the app secret (X-Hub-Signature-256), as Meta does."""
        signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        response = await self.http.post(f"http://127.0.0.1:{self.ports['meta']}/webhook", content=body,
                                        headers={"content-type": "application/json",
                                                 "X-Hub-Signature-256": signature})
        assert response.status_code == 200, response.text

    async def twilio_message(self, pairs: list[tuple[str, str]]) -> None:
        """POST a form signed with the Auth Token over the URL called (X-Twilio-Signature), as Twilio does."""
        url = f"http://127.0.0.1:{self.ports['twilio']}/twilio/inbound"
        response = await self.http.post(url, content=urlencode(pairs).encode(), headers={
            "content-type": "application/x-www-form-urlencoded", "X-Twilio-Signature": twilio_sign(url, pairs)})
        assert response.status_code == 200, response.text

    async def items(self) -> list[tuple[str, RoutedItem]]:
        """Every message on KANAL_ADMIN as (queue, item), oldest first."""
        js = self.nc.jetstream()
        state = (await js.stream_info(subjects.STREAM_ADMIN)).state
        out = []
        for seq in range(state.first_seq, state.last_seq + 1):
            msg = await js.get_msg(subjects.STREAM_ADMIN, seq)
            out.append((subjects.queue_of(msg.subject or ""), decode_routed(msg.data or b"")))
        return out

    async def entries(self, queue: str) -> list[Entry]:
        """The queue's open entries as `kanal inbox` lists them (follow-ups on their report)."""
        store = await ItemStore.open(self.nc)
        box = await Inbox(store, queue, "pusat", admin_settings().users["pusat"]).open()
        try:
            return await box.items()
        finally:
            await box.close()

    async def inputs_done(self) -> None:
        """Until the router has acked everything on KANAL_IN (so "no item" is a fact, not a race)."""
        js = self.nc.jetstream()

        async def done() -> bool:
            last = (await js.stream_info(subjects.STREAM_IN)).state.last_seq
            info = await js.consumer_info(subjects.STREAM_IN, subjects.ROUTER_CONSUMER)
            return info.num_pending == 0 and info.num_ack_pending == 0 and info.ack_floor.stream_seq >= last

        await until(done, "the router to ack every input", self)


async def until(check: Callable[[], Awaitable[T]], what: str, system: System | None = None,
                deadline: float = DEADLINE) -> T:
    """Poll `check` until it returns something true; fail after `deadline` with what was awaited."""
    end = time.monotonic() + deadline
    while True:
        found = await check()
        if found:
            return found
        if system is not None and system.proc.returncode is not None:
            raise AssertionError(f"kanal up exited while waiting for {what}:\n{system.log()}")
        if time.monotonic() > end:
            raise AssertionError(f"waited {deadline:g}s for {what}" + (f"\n{system.log()}" if system else ""))
        await asyncio.sleep(0.2)


def write_config(root: Path, ports: dict[str, int], telegram: FakeBotApi, graph: FakeGraph,
                 twilio: TwilioMedia, mail: dovecot_fake.Dovecot | None = None,
                 smtp: smtp_fake.SmtpServer | None = None) -> Path:
    rules = write_rules(root)
    email = "" if mail is None or smtp is None else f"""
[connectors.mail]
channel = "email"
port = {ports['mail']}
account = "{mail.user}"
imap_host = "127.0.0.1"
imap_port = {mail.port}
tls = "none"
user = "{mail.user}"
password = "{mail.password}"
poll_interval = "1s"
first_run_since = "1d"
smtp_host = "127.0.0.1"
smtp_port = {smtp.port}
smtp_tls = "none"
smtp_password = "{smtp_fake.PASSWORD}"
"""
    config = root / "kanal.toml"
    config.write_text(f"""
[kanal]
data_dir = "{root / 'var'}"
health_port = {ports['health']}
[nats]
embedded_port = {ports['nats']}
embedded_store = "{root / 'var' / 'nats'}"
[router]
rules = "{rules}"
metrics_port = -1
[admin]
enabled = false
[forwarder]
enabled = false
[conversations]
location_wait = "24h"
window = "{WINDOW}"
[outbound]
channels = ["telegram", "meta", "twilio", "email"]
quiet_hours = ""
rate_limit = 100
status_url = "https://kanal.example.go.id/laporan/{{ref}}"
[connectors.tg]
channel = "telegram"
port = {ports['tg']}
mode = "webhook"
bot_token = "{TOKEN}"
secret_token = "{TG_SECRET}"
base_url = "{telegram.base_url}"
[connectors.meta]
channel = "meta"
port = {ports['meta']}
app_secret = "{APP_SECRET}"
verify_token = "meta-e2e-verify"
access_token = "{graph.token}"
graph_url = "{graph.base_url}"
[connectors.twilio]
channel = "twilio"
port = {ports['twilio']}
account = "{NUMBER}"
account_sid = "{ACCOUNT_SID}"
auth_token = "{AUTH_TOKEN}"
api_base_url = "{twilio.base_url}"
{email}""")
    return config


@asynccontextmanager
async def running(root: Path) -> AsyncIterator[System]:
    """Fakes on loopback, then `kanal up` on the config pointing at them; stopped with SIGTERM at the end."""
    async with serving(FakeBotApi()) as telegram, serving(FakeGraph()) as graph, \
            serving(TwilioMedia()) as twilio, contextlib.AsyncExitStack() as stack:
        mail, smtp = None, None
        if dovecot_fake.available() is None:
            mail = stack.enter_context(dovecot_fake.running_dovecot())
            smtp = stack.enter_context(smtp_fake.smtp_server())
        ports = {name: free_port() for name in ("health", "nats", "tg", "meta", "twilio", "mail")}
        config = write_config(root, ports, telegram, graph, twilio, mail, smtp)
        log = (root / "up.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kanal", "up", "--config", str(config), cwd=root, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, "KANAL_LOG__FORMAT": "json"})
        nc: NATS | None = None
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                system = System(root=root, proc=proc, nc=NATS(), telegram=telegram, graph=graph, twilio=twilio,
                                ports=ports, http=client, mail=mail, smtp=smtp)
                nc = system.nc = await until(lambda: _connect(ports["nats"]), "NATS", system)
                await until(lambda: _ready(system), "the router, the notifier and the connectors", system)
                yield system
        finally:
            if nc is not None and nc.is_connected:
                await nc.close()
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()  # its children follow it (they are tethered to it: kanal/tether.py)
                await asyncio.wait_for(proc.wait(), 30)
            log.close()


async def _connect(port: int) -> NATS | None:
    with contextlib.suppress(Exception):
        return await bus.connect(NatsSettings(url=f"nats://127.0.0.1:{port}"), name="kanal-e2e-test")
    return None


async def _ready(system: System) -> bool:
    js = system.nc.jetstream()
    try:
        for stream, durable in ((subjects.STREAM_IN, subjects.ROUTER_CONSUMER),
                                (subjects.STREAM_ADMIN, subjects.NOTIFIER_CONSUMER),
                                (subjects.STREAM_IN, f"{subjects.NOTIFIER_CONSUMER}-optout")):
            await js.consumer_info(stream, durable)
        for name in ("tg", "meta", "twilio", *(("mail",) if system.mail is not None else ())):
            response = await system.http.get(f"http://127.0.0.1:{system.ports[name]}/readyz")
            if response.status_code != 200:
                return False
    except Exception:
        return False
    return True

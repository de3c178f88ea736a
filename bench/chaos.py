"""Chaos run: the scaled-out topology on loopback, with a NATS node, a router and a connector SIGKILLed mid-load.

Topology (as deploy/container/compose.yaml, without containers): three clustered nats-server processes with
configs from `kanal nats config` (least-privilege users), streams at R3, two `kanal router run` processes on
one durable consumer, a webhook connector (`hook`) and a polling connector (`feed`, against a local fake
provider), each logged in as its own NATS user. Phase 1 sends N envelopes (half webhook, half feed) while it
SIGKILLs node nats-2, router-1 and the webhook connector, and restarts them. Phase 2 takes the whole NATS
cluster down for --outage seconds while the webhook keeps answering from its spool and the feed offers new
items. Then every envelope id must be in KANAL_ADMIN exactly once (as an item or a linked duplicate) with the
reporter and text that were sent: none lost, none doubled, none altered; and any program that exits by itself
(or not with 0 on SIGTERM) fails the run.

Run: `.venv/bin/python bench/chaos.py [--n 10000] [--outage 60]` (loopback only, stops by itself).
The sample channels come from tests/connectors (KANAL_EXTRA_CHANNELS), so run it from a clone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kanal import bus, http  # noqa: E402
from kanal.config import Config, load  # noqa: E402
from kanal.ops import natsconf  # noqa: E402
from kanal.ops.provision import provision  # noqa: E402
from schemas import envelope_id, subjects  # noqa: E402
from schemas.routed import decode_routed  # noqa: E402
from tests.connectors.providers import FeedProvider  # noqa: E402
from tests.connectors.sample_channels import message, sign  # noqa: E402
from tests.router.fixtures import write_rules  # noqa: E402

EXTRA = "tests.connectors.sample_channels:hook,tests.connectors.sample_channels:feed"
HOOK_SECRET = "chaos-hook-secret-0123456789"
HOOK_ACCOUNT = "+628111000111"
FEED_ACCOUNT = "feed-account"


@dataclass
class Proc:
    """One child process of the run, its log in a file (never a pipe that could fill)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(self.argv, env={**os.environ, **self.env}, stdout=sink,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 20) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Result:
    """What the run measured; `ok` is the verdict."""

    sent: int = 0
    expected: int = 0
    routed_ids: int = 0
    admin_messages: int = 0
    items: int = 0
    duplicates: int = 0
    lost: int = 0
    doubled: int = 0
    unexpected: int = 0
    lost_before_router: int = 0
    outage_sent: int = 0
    outage_feed: int = 0
    outage_spooled_max: int = 0
    altered: int = 0
    exits: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every envelope exactly once, with the content that was sent, and no program exited by itself."""
        return (self.lost == 0 and self.doubled == 0 and self.unexpected == 0 and self.altered == 0
                and not self.exits and self.routed_ids == self.expected)


class Cluster:
    """Three nats-server processes clustered on loopback, from configs rendered by `kanal nats config`."""

    def __init__(self, work: Path, config: Config, secrets: Path, ports: list[int], routes: list[int]) -> None:
        self.nodes: list[Proc] = []
        self.ports = ports
        for i, (port, route) in enumerate(zip(ports, routes, strict=True), start=1):
            options = natsconf.ServerOptions(
                host="127.0.0.1", port=port, store_dir=str(work / f"nats-{i}"), server_name=f"nats-{i}",
                cluster_name="kanal", cluster_listen=f"127.0.0.1:{route}",
                routes=[f"nats://127.0.0.1:{r}" for r in routes], http_port=None)
            conf = work / f"nats-{i}.conf"
            natsconf.write_private(conf, natsconf.render(config, options, secrets))
            self.nodes.append(Proc(f"nats-{i}", [bus.nats_server_binary(), "-c", str(conf)], {},
                                   work / f"nats-{i}.log"))

    def start(self, index: int | None = None) -> None:
        for i, node in enumerate(self.nodes):
            if index is None or i == index:
                node.start()
        for i, port in enumerate(self.ports):
            if index is None or i == index:
                bus.wait_for_port("127.0.0.1", port, 20, self.nodes[i].proc)

    def kill(self, index: int | None = None) -> None:
        for i, node in enumerate(self.nodes):
            if index is None or i == index:
                node.kill()

    @property
    def url(self) -> str:
        return ",".join(f"nats://127.0.0.1:{p}" for p in self.ports)


def write_config(work: Path, cluster_url: str, hook_port: int, feed_url: str, feed_token: str) -> Path:
    """kanal.toml for the run: R3 streams, the rules the router tests use, one webhook and one poller."""
    write_rules(work)
    path = work / "kanal.toml"
    path.write_text(f"""
[kanal]
data_dir = "{work / 'var'}"
[nats]
url = "{cluster_url}"
replicas = 3
connect_timeout = "2s"
[log]
level = "warning"
format = "json"
[router]
rules = "rules.toml"
metrics_port = -1
batch = 200
[connectors.hook-1]
channel = "hook"
port = {hook_port}
account = "{HOOK_ACCOUNT}"
secret = "{HOOK_SECRET}"
publish_timeout = "2s"
stop_timeout = "10s"
[connectors.feed-1]
channel = "feed"
account = "{FEED_ACCOUNT}"
base_url = "{feed_url}"
token = "{feed_token}"
page_size = 100
poll_interval = "200ms"
""")
    return path


def _env(secrets: Path, user: str) -> dict[str, str]:
    return {"KANAL_NATS__USER": user, "KANAL_NATS__PASSWORD_FILE": str(secrets / f"{user}.password"),
            "KANAL_EXTRA_CHANNELS": EXTRA, "PYTHONPATH": str(ROOT)}


async def _ops(url: str, secrets: Path) -> object:
    import nats

    async def quiet(_err: Exception) -> None:  # nodes going down on purpose is the point of the run
        return None

    password = (secrets / f"{natsconf.OPS_USER}.password").read_text().strip()
    return await nats.connect(url.split(","), user=natsconf.OPS_USER, password=password, name="chaos-ops",
                              max_reconnect_attempts=-1, reconnect_time_wait=0.3, connect_timeout=2,
                              error_cb=quiet)


async def _until(check: object, within: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if await check():  # type: ignore[operator]
                return True
        await asyncio.sleep(every)
    return False


async def _wait_log(proc: Proc, text: bytes, within: float) -> bool:
    async def seen() -> bool:
        return text in proc.log.read_bytes()

    return await _until(seen, within, 0.05)


def hook_message(n: int) -> dict[str, object]:
    """What the provider posts as webhook message n (its content is checked at the end)."""
    return message(n, sender=f"+62812{n:08d}", text=f"Laporan {n}: lampu jalan mati di RT {n % 17} gang {n}")


def sent_content(hook_n: range, feed_n: range) -> dict[str, tuple[str, str]]:
    """Envelope id -> (reporter contact, text) of everything sent, as each connector's provider gave it."""
    content = {envelope_id("hook", HOOK_ACCOUNT, f"m{n}"): hook_message(n) for n in hook_n}
    content |= {envelope_id("feed", FEED_ACCOUNT, f"m{n}"): message(n) for n in feed_n}
    return {key: (str(m["sender"]), str(m["text"])) for key, m in content.items()}


class Webhook:
    """A provider posting messages to the webhook connector, retrying (as providers do) until it gets 200."""

    def __init__(self, port: int) -> None:
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10)
        self.accepted = 0
        self.retries = 0

    async def send(self, n: int, within: float = 120) -> None:
        data = json.dumps({"messages": [hook_message(n)]}).encode()
        deadline = time.monotonic() + within
        while True:
            try:
                response = await self.client.post("/inbound", content=data,
                                                  headers={"x-hook-signature": sign(HOOK_SECRET, data)})
                if response.status_code == 200:
                    self.accepted += 1
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"webhook message {n} not accepted within {within:.0f}s")
            self.retries += 1
            await asyncio.sleep(0.2)

    async def spool_depth(self) -> int:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            return int((await self.client.get("/readyz")).json().get("spool_depth", 0))
        return -1

    async def close(self) -> None:
        await self.client.aclose()


# reading a whole stream once: no acks, so the default max_ack_pending (1000) never stalls the read
_READ_ALL = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL)


async def _read_all(nc: object, stream: str, subject: str) -> list[bytes]:
    """Every message's data in `stream`, read with an ephemeral consumer.

    Right after the cluster comes back, a stream's or a new consumer's leader may still be settling: the
    consumer create or a fetch then answers 503, or a fetch stalls. The whole read is retried from the start
    (so nothing is counted twice) up to ten times before giving up with the last error or the short read.
    """
    import nats.errors

    js = nc.jetstream(timeout=5)  # type: ignore[attr-defined]
    for attempt in range(1, 11):
        sub = None
        try:
            total = (await js.stream_info(stream)).state.messages
            if total == 0:
                return []
            sub = await js.pull_subscribe(subject, durable=None, stream=stream, config=_READ_ALL)
            data: list[bytes] = []
            while len(data) < total:
                try:
                    msgs = await sub.fetch(1000, timeout=2)
                except TimeoutError:
                    break
                data.extend(msg.data for msg in msgs)
            if len(data) >= total or attempt == 10:
                return data  # a short last read shows up as losses in the report, never hidden
        except nats.errors.Error:
            if attempt == 10:
                raise
        finally:
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
        await asyncio.sleep(1.0)  # a 503 or a short read: leaders still settling; read again
    raise AssertionError("unreachable")


async def inbound_ids(nc: object) -> set[str]:
    """Every envelope id the connectors got into KANAL_IN (to tell connector losses from router losses)."""
    from schemas import decode_envelope

    return {decode_envelope(data).id
            for data in await _read_all(nc, subjects.STREAM_IN, f"{subjects.IN_PREFIX}.>")}


async def admin_ids(nc: object, sent: dict[str, tuple[str, str]] | None = None) -> Counter[str]:
    """How often each envelope id occurs in KANAL_ADMIN (items and duplicates); with `sent`, also how many
    delivered items differ from what was sent (reporter or text), under "__altered"."""
    seen: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    altered = 0
    for data in await _read_all(nc, subjects.STREAM_ADMIN, f"{subjects.ADMIN_PREFIX}.>"):
        item = decode_routed(data)
        seen[item.item_id] += 1
        kinds[item.kind] += 1
        if sent is not None and item.item_id in sent:
            altered += (item.envelope.reporter.contact, item.envelope.text) != sent[item.item_id]
    seen["__kind_item"] = kinds["item"]
    seen["__kind_duplicate"] = kinds["duplicate"]
    seen["__altered"] = altered
    return seen


async def run(n: int = 10_000, outage: float = 60.0, work: Path | None = None, say: object = print,
              duration: float | None = None) -> Result:
    """The whole run; returns the counts and timings (see Result)."""
    echo = say if callable(say) else print
    result = Result()
    own_tmp = None
    if work is None:
        own_tmp = tempfile.TemporaryDirectory(prefix="kanal-chaos-")
        work = Path(own_tmp.name)
    secrets = work / "secrets"
    provider = FeedProvider()
    server, serving = await http.start(provider.app(), "127.0.0.1", 0)
    provider.port = http.bound_port(server)
    ports, routes = [bus.free_port() for _ in range(3)], [bus.free_port() for _ in range(3)]
    hook_port = bus.free_port()
    cfg = write_config(work, ",".join(f"nats://127.0.0.1:{p}" for p in ports), hook_port, provider.base_url,
                       provider.token)
    config = load(cfg, env={})
    cluster = Cluster(work, config, secrets, ports, routes)
    kanal = [sys.executable, "-m", "kanal"]
    routers = [Proc(f"router-{i}", [*kanal, "router", "run", "--config", str(cfg)], _env(secrets, "router"),
                    work / f"router-{i}.log") for i in (1, 2)]
    hook = Proc("hook-1", [*kanal, "connector", "run", "hook-1", "--config", str(cfg)],
                _env(secrets, "connector-hook-1"), work / "hook-1.log")
    feed = Proc("feed-1", [*kanal, "connector", "run", "feed-1", "--config", str(cfg)],
                _env(secrets, "connector-feed-1"), work / "feed-1.log")
    everyone = [*routers, hook, feed]
    webhook = Webhook(hook_port)
    nc = None
    try:
        started = time.monotonic()
        cluster.start()
        nc = await _ops(cluster.url, secrets)

        async def provisioned() -> bool:
            await provision(nc.jetstream(), config)  # type: ignore[attr-defined]
            return True

        if not await _until(provisioned, 60, 0.5):
            raise RuntimeError("the cluster did not accept R3 streams within 60 s (see nats-*.log)")
        result.timings["cluster_up_s"] = time.monotonic() - started
        echo(f"cluster of 3 up, streams at R3 in {result.timings['cluster_up_s']:.1f}s; starting 2 routers, "
             "hook-1, feed-1")
        for proc in everyone:
            proc.start()
        for router in routers:
            if not await _wait_log(router, b"router: ready", 60):
                raise RuntimeError(f"{router.name} not ready: {router.log.read_text()[-1500:]}")
        await _until(lambda: _answers(webhook), 60)

        hook_n = n // 2
        feed_n = n - hook_n
        result.expected = n
        result.sent = n
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(1, hook_n + 1):
            queue.put_nowait(i)

        # Paced, so the kills land while envelopes are in flight: at least 15 s, or ~250 envelopes/s.
        spread = duration if duration is not None else max(15.0, n / 250)

        async def worker() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await asyncio.sleep(max(0.0, load_started + spread * i / hook_n - time.monotonic()))
                await webhook.send(i)

        async def feeder() -> None:
            step = max(1, feed_n // 50)
            while provider.items < feed_n:
                provider.add(min(step, feed_n - provider.items))
                await asyncio.sleep(spread / 50)

        async def supervise() -> None:
            """Restart a process that exited by itself, as systemd's Restart=on-failure would."""
            while True:
                await asyncio.sleep(0.5)
                for proc in everyone:
                    if proc.proc is not None and not proc.alive() and proc.name not in killing:
                        result.exits.append(f"{proc.name} exited with {proc.proc.returncode} by itself "
                                            f"(log: {proc.log})")
                        echo(f"FAIL: {result.exits[-1]}; restarted so the count can finish")
                        proc.start()

        async def chaos() -> None:
            marks = [(0.25, "nats-2"), (0.45, "router-1"), (0.65, "hook-1")]
            for fraction, target in marks:
                while webhook.accepted < fraction * hook_n:  # noqa: ASYNC110 - a counter, polled
                    await asyncio.sleep(0.02)
                t0 = time.monotonic()
                killing.add(target)
                if target == "nats-2":
                    cluster.kill(1)
                    result.events.append(f"SIGKILL nats-2 at {webhook.accepted} webhook envelopes accepted")
                    await asyncio.sleep(1.0)
                    cluster.start(1)
                    result.timings["nats_node_back_s"] = time.monotonic() - t0
                elif target == "router-1":
                    routers[0].kill()
                    result.events.append(f"SIGKILL router-1 at {webhook.accepted}")
                    await asyncio.sleep(1.0)
                    routers[0].log.write_bytes(b"")
                    routers[0].start()
                    killing.discard(target)  # from here on, a crash while starting is restarted like any other
                    await _wait_log(routers[0], b"router: ready", 60)
                    result.timings["router_back_s"] = time.monotonic() - t0
                else:
                    hook.kill()
                    result.events.append(f"SIGKILL hook-1 at {webhook.accepted} (its spool stays on disk)")
                    await asyncio.sleep(1.0)
                    hook.start()
                    killing.discard(target)
                    await _until(lambda: _answers(webhook), 60, 0.05)
                    result.timings["connector_back_s"] = time.monotonic() - t0
                killing.discard(target)
                echo(next(e for e in reversed(result.events) if e.startswith(f"SIGKILL {target}")))

        async def progress() -> None:
            while True:
                await asyncio.sleep(5)
                routed = -1
                with contextlib.suppress(Exception):
                    routed = (await nc.jetstream(timeout=1).stream_info(  # type: ignore[attr-defined]
                        subjects.STREAM_ADMIN)).state.messages
                echo(f"  {time.monotonic() - load_started:5.1f}s webhook {webhook.accepted}/{hook_n}, "
                     f"feed {provider.items}/{feed_n} offered, routed {routed}")

        killing: set[str] = set()
        load_started = time.monotonic()
        ticker = asyncio.create_task(progress())
        keeper = asyncio.create_task(supervise())
        await asyncio.gather(*(worker() for _ in range(16)), feeder(), chaos())
        ticker.cancel()
        result.timings["load_s"] = time.monotonic() - load_started
        echo(f"phase 1: {n} envelopes in {result.timings['load_s']:.1f}s "
             f"({webhook.retries} webhook retries while things were down); waiting for every one to be routed")

        hook_ids = {envelope_id("hook", HOOK_ACCOUNT, f"m{i}") for i in range(1, hook_n + 1)}
        feed_ids = {envelope_id("feed", FEED_ACCOUNT, f"m{i}") for i in range(1, feed_n + 1)}
        drain_started = time.monotonic()
        ticker = asyncio.create_task(progress())
        await _until(lambda: _all_routed(nc, n), 120, 0.5)
        ticker.cancel()
        result.timings["phase1_drain_s"] = time.monotonic() - drain_started

        # Phase 2: the whole cluster down; the webhook answers from its spool.
        outage_n = max(10, n // 20)
        echo(f"phase 2: NATS fully down for {outage:.0f}s while {outage_n} webhook messages arrive and the "
             f"feed offers {outage_n} items")
        cluster.kill()  # the programs keep running (and are watched): only NATS is down
        down_at = time.monotonic()
        per = outage / outage_n
        for j in range(outage_n):
            provider.add(1)  # the poller reads it, cannot publish it, and must read it again later
            await webhook.send(hook_n + 1 + j, within=30)
            result.outage_spooled_max = max(result.outage_spooled_max, await webhook.spool_depth())
            await asyncio.sleep(max(0.0, down_at + (j + 1) * per - time.monotonic()))
        result.outage_sent = result.outage_feed = outage_n
        result.expected += 2 * outage_n
        hook_ids |= {envelope_id("hook", HOOK_ACCOUNT, f"m{hook_n + 1 + j}") for j in range(outage_n)}
        feed_ids |= {envelope_id("feed", FEED_ACCOUNT, f"m{feed_n + 1 + j}") for j in range(outage_n)}
        back = time.monotonic()
        cluster.start()
        await _until(lambda: _all_routed(nc, result.expected), 180, 0.5)
        result.timings["outage_recovery_s"] = time.monotonic() - back
        echo(f"NATS back: spool (max {result.outage_spooled_max}) delivered and routed in "
             f"{result.timings['outage_recovery_s']:.1f}s")

        counts = await admin_ids(nc, sent_content(range(1, hook_n + outage_n + 1), range(1, feed_n + outage_n + 1)))
        result.items = counts.pop("__kind_item", 0)
        result.duplicates = counts.pop("__kind_duplicate", 0)
        result.altered = counts.pop("__altered", 0)
        expected = hook_ids | feed_ids
        result.admin_messages = sum(counts.values())
        result.routed_ids = len(set(counts) & expected)
        result.lost = len(expected - set(counts))
        result.doubled = sum(1 for c in counts.values() if c > 1)
        result.unexpected = len(set(counts) - expected)
        result.lost_before_router = len(expected - await inbound_ids(nc))
        keeper.cancel()
        for proc in everyone:
            code = proc.stop()
            if code != 0:  # None: it did not stop within the timeout and was killed
                result.exits.append(f"{proc.name} ended with {code} on SIGTERM (log: {proc.log})")
    finally:
        for proc in everyone:
            proc.kill()
        if nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 5)  # type: ignore[attr-defined]
        cluster.kill()
        await webhook.close()
        await http.stop(server, serving)
        if own_tmp is not None:
            own_tmp.cleanup()
    return result


async def _answers(webhook: Webhook) -> bool:
    return (await webhook.client.get("/healthz")).status_code == 200


async def _all_routed(nc: object, count: int) -> bool:
    js = nc.jetstream(timeout=2)  # type: ignore[attr-defined]
    info = await js.consumer_info(subjects.STREAM_IN, subjects.ROUTER_CONSUMER)
    admin = await js.stream_info(subjects.STREAM_ADMIN)
    return bool(admin.state.messages >= count and info.num_pending == 0 and info.num_ack_pending == 0)


def report(result: Result) -> str:
    """Human-readable summary."""
    lines = [
        f"sent {result.sent} in phase 1 + {result.outage_sent} during the outage = {result.expected} envelopes",
        f"KANAL_ADMIN: {result.admin_messages} messages for {result.routed_ids} envelope ids "
        f"({result.items} items, {result.duplicates} linked duplicates)",
        f"lost {result.lost} (of which never reached KANAL_IN: {result.lost_before_router}), "
        f"doubled {result.doubled}, unexpected {result.unexpected}, content differs {result.altered}",
        f"during the outage: {result.outage_sent} webhook messages, {result.outage_feed} feed items",
        *(f"event: {e}" for e in result.events),
        *(f"UNEXPECTED EXIT: {e}" for e in result.exits),
        *(f"{k}: {v:.1f}" for k, v in result.timings.items()),
        "OK: every envelope exactly once" if result.ok else "FAILED",
    ]
    return "\n".join(lines)


def main() -> None:
    """Command line: size and outage length."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=10_000, help="envelopes in phase 1 (half webhook, half feed)")
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the whole NATS cluster is down")
    parser.add_argument("--keep", type=Path, default=None, help="keep logs and state in this folder")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))  # clean up children
    result = asyncio.run(run(args.n, args.outage, args.keep))
    print(report(result))
    raise SystemExit(0 if result.ok else 1)


if __name__ == "__main__":
    main()

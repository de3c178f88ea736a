"""Notifier benchmark: N routed items through the notifier's FastStream app on one real nats-server.

Each item on KANAL_ADMIN gives an acknowledgement: the reporter's opt-out read, the thread written to KV
`kanal_threads`, the message published on `kanal.out.twilio.<instance>` with its Nats-Msg-Id and acked by
JetStream, the input acked. Timed from the app's start until the durable consumer's ack floor reaches the
last item; CPU is this process's (the app and the bench), not nats-server's.
Items are the router bench's envelopes (bench/router.py, ~1 KB), routed to one queue.

`--baseline FILE` also runs another notifier/service.py (e.g. an earlier commit's, written out with
`git show <commit>:notifier/service.py > /tmp/notifier_before.py`), alternating round by round. Both APIs are
driven: `build(config) -> App` (`app.open`, `app.broker.start`) and the earlier
`build(config) -> (broker, bind)` with `Notifier.open(js, settings)` on a second connection.
`--transport` adds the same transport work without the notifier's rules and KV (fetch, strict decode, publish
with Nats-Msg-Id awaiting JetStream's ack, ack), once with nats-py alone and once written the FastStream way:
what FastStream itself costs per message.
Run: `.venv/bin/python bench/notifier.py [--n 5000] [--rounds 3] [--baseline /tmp/notifier_before.py]
[--transport]`. Needs no ../shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.util
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.router import envelopes  # noqa: E402
from kanal import bus, log  # noqa: E402
from kanal.config import Config, NatsSettings  # noqa: E402
from kanal.testing import make_config  # noqa: E402
from notifier import service  # noqa: E402
from notifier.settings import OutboundSettings  # noqa: E402
from schemas import Decision, RoutedItem, decode_routed, encode, subjects  # noqa: E402

QUEUE = "kelurahan.3171011001"
SETTINGS = OutboundSettings(channels=["twilio", "email"], quiet_hours=None)


def items(n: int) -> list[RoutedItem]:
    routed_at = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    return [RoutedItem(kind="item", item_id=e.id, ref=e.ref, envelope=e, routed_at=routed_at,
                       decision=Decision(rule_id="geo", rule_type="geo", queue=QUEUE, reason="bench"))
            for e in envelopes(n)]


async def reset_and_load(url: str, config: Config, routed: list[RoutedItem]) -> None:
    """Fresh streams and buckets, then every item on KANAL_ADMIN (before the notifier starts)."""
    nc = await bus.connect(NatsSettings(url=url), name="bench-load")
    js = nc.jetstream(publish_async_max_pending=20_000)
    for info in await js.streams_info():
        await js.delete_stream(info.config.name)
    await bus.provision(js, config)
    futures = [await js.publish_async(subjects.admin(QUEUE), encode(r), headers={"Nats-Msg-Id": f"{r.item_id}:item"})
               for r in routed]
    await asyncio.gather(*futures)
    await nc.close()


async def loaded(url: str, config: Config, routed: list[RoutedItem], name: str) -> tuple[NATS, JetStreamContext, int]:
    """`reset_and_load`, then a connection named `name`, its JetStream context and KANAL_ADMIN's last sequence
    (the ack floor a run waits for)."""
    await reset_and_load(url, config, routed)
    nc = await bus.connect(NatsSettings(url=url), name=name)
    js = nc.jetstream()
    return nc, js, (await js.stream_info(subjects.STREAM_ADMIN)).state.last_seq


async def start(module: ModuleType, config: Config) -> tuple[Any, list[Any]]:
    """The app of `module` started; returns its broker and anything else to close afterwards."""
    built = module.build(config)
    if isinstance(built, tuple):  # the earlier API: (broker, bind), KV on a connection of its own
        broker, bind = built
        nc = await bus.connect(config.nats, name="bench-notifier-kv")
        bind(await module.Notifier.open(nc.jetstream(), SETTINGS))
        await broker.start()
        return broker, [nc]
    await built.open(SETTINGS)
    await built.broker.start()
    return built.broker, []


async def _until_acked(js: Any, durable: str, last: int) -> None:
    """Poll until the durable's ack floor reaches the stream's last item (it appears as its loop starts)."""
    while True:
        with contextlib.suppress(NotFoundError):
            if (await js.consumer_info(subjects.STREAM_ADMIN, durable)).ack_floor.stream_seq >= last:
                return
        await asyncio.sleep(0.02)


async def one_run(module: ModuleType, url: str, config: Config, routed: list[RoutedItem]) -> tuple[float, float]:
    """(messages per second, CPU seconds per message) for one notifier over `routed`."""
    watch, js, last = await loaded(url, config, routed, "bench-watch")
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    broker, extra = await start(module, config)
    await _until_acked(js, subjects.NOTIFIER_CONSUMER, last)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    queued = (await js.stream_info(subjects.STREAM_OUT)).state.messages
    await broker.stop()
    for nc in extra:
        await nc.close()
    await watch.close()
    if queued != len(routed):
        raise SystemExit(f"{module.__name__}: {queued} messages queued for {len(routed)} items")
    return len(routed) / elapsed, cpu / len(routed)


async def bare_nats(url: str, config: Config, routed: list[RoutedItem]) -> tuple[float, float]:
    """The same transport work with nats-py alone: fetch 64, decode, publish with Nats-Msg-Id and wait for
    JetStream's ack, ack the input; one message at a time, as the notifier's handlers run. No KV, no rules."""
    nc, js, last = await loaded(url, config, routed, "bench-bare")
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    sub = await js.pull_subscribe(f"{subjects.ADMIN_PREFIX}.>", durable="bare", stream=subjects.STREAM_ADMIN)
    done = 0
    while done < len(routed):
        for msg in await sub.fetch(64, timeout=5):
            item = decode_routed(msg.data)
            await js.publish(subjects.outbound("twilio", item.envelope.instance), msg.data,
                             headers={"Nats-Msg-Id": f"{item.item_id}:ack"})
            await msg.ack()
            done += 1
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await _until_acked(js, "bare", last)
    await nc.close()
    return len(routed) / elapsed, cpu / len(routed)


async def bare_faststream(url: str, config: Config, routed: list[RoutedItem]) -> tuple[float, float]:
    """The same work as `bare_nats` written the FastStream way the notifier is: a pull subscriber with a typed
    decoder and the msgspec serializer, a publisher, FastStream's acks. No KV, no rules, no middleware."""
    from fast_depends.msgspec import MsgSpecSerializer
    from faststream import AckPolicy
    from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub

    broker = NatsBroker(url, serializer=MsgSpecSerializer(), logger=None)
    out = broker.publisher(f"{subjects.OUT_PREFIX}.{{channel}}.{{instance}}",
                           stream=JStream(subjects.STREAM_OUT, declare=False), timeout=5.0)

    async def body(msg: NatsMessage) -> RoutedItem:
        return decode_routed(msg.body)

    @broker.subscriber(f"{subjects.ADMIN_PREFIX}.>", stream=JStream(subjects.STREAM_ADMIN, declare=False),
                       durable="bare-faststream", pull_sub=PullSub(batch_size=64, timeout=1.0), decoder=body,
                       ack_policy=AckPolicy.NACK_ON_ERROR)
    async def handle(item: RoutedItem) -> None:
        await out.publish(item, subjects.outbound("twilio", item.envelope.instance),
                          headers={"Nats-Msg-Id": f"{item.item_id}:ack"})

    watch, js, last = await loaded(url, config, routed, "bench-watch")
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    await broker.start()
    await _until_acked(js, "bare-faststream", last)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await broker.stop()
    await watch.close()
    return len(routed) / elapsed, cpu / len(routed)


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("notifier_baseline", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def main() -> None:
    parser = argparse.ArgumentParser(description="Routed items through the notifier on one nats-server.")
    parser.add_argument("--n", type=int, default=5_000, help="routed items per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each notifier, alternating")
    parser.add_argument("--baseline", type=Path, help="another notifier/service.py to run alternately")
    parser.add_argument("--transport", action="store_true",
                        help="also the same transport work without the notifier: nats-py alone, then FastStream")
    args = parser.parse_args()
    log.configure("error", "console")
    routed = items(args.n)
    size = statistics.mean(len(encode(r)) for r in routed)
    runs: list[tuple[str, ModuleType]] = [("notifier", service)]
    if args.baseline is not None:
        runs.insert(0, ("baseline", load_module(args.baseline)))
    print(f"routed items: {args.n}, mean size {size:.0f} B, nats-server at loopback")
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in runs}
    if args.transport:
        figures |= {"nats-py": [], "faststream": []}
    with tempfile.TemporaryDirectory(prefix="kanal-bench-") as tmp:
        server = bus.EmbeddedNats(Path(tmp) / "nats", port=0).start()
        try:
            config = make_config(server.url, Path(tmp))
            for round_no in range(1, args.rounds + 1):
                print(f"round {round_no}")
                for name, module in runs:
                    rate, cpu = await one_run(module, server.url, config, routed)
                    figures[name].append((rate, cpu))
                    print(f"  {name:10} {rate:,.0f} msg/s  ({cpu * 1e6:.0f} us CPU per message)")
                if args.transport:
                    for name, bare in (("nats-py", bare_nats), ("faststream", bare_faststream)):
                        rate, cpu = await bare(server.url, config, routed)
                        figures[name].append((rate, cpu))
                        print(f"  {name:10} {rate:,.0f} msg/s  ({cpu * 1e6:.0f} us CPU per message, transport only)")
        finally:
            server.stop()
    for name, values in figures.items():
        print(f"{name}: median {statistics.median(r for r, _ in values):,.0f} msg/s, "
              f"{statistics.median(c for _, c in values) * 1e6:.0f} us CPU per message over {len(values)} rounds")


if __name__ == "__main__":
    asyncio.run(main())

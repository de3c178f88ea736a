"""Router benchmark: a bare nats-py loop vs the router (dedup + 267-polygon routing) on one real nats-server.

Bare loop: pull batch -> decode -> publish_async -> ack. Router: the real `Router.handle` with KV dedup and
deploy/rules/jakarta.toml. Same envelopes (~1 KB, 10% repeats of earlier reports), same server, loopback.
Both loops run with the collector settings of `kanal router run` (`router.service.tune_gc`).
Run: `.venv/bin/python bench/router.py [--n 20000]`. Needs ../shared/data/jakarta (see its SOURCE.md).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kanal import bus, log  # noqa: E402
from kanal.config import NatsSettings  # noqa: E402
from kanal.testing import make_config  # noqa: E402
from router.rules import RuleBook  # noqa: E402
from router.service import Router, tune_gc  # noqa: E402
from router.settings import RouterSettings  # noqa: E402
from schemas import Envelope, Location, Reporter, decode_envelope, encode, envelope_id, subjects  # noqa: E402

WORDS = (
    "jalan", "rusak", "berlubang", "banjir", "genangan", "sampah", "menumpuk", "lampu", "mati", "pohon",
    "tumbang", "got", "mampet", "macet", "parkir", "liar", "trotoar", "pedagang", "kaki", "lima", "bau",
    "limbah", "air", "pam", "mati", "kabel", "menjuntai", "mohon", "segera", "ditindaklanjuti", "warga",
    "resah", "sudah", "lama", "tidak", "ada", "perbaikan", "depan", "sekolah", "dekat", "pasar", "gang",
    "rt", "rw", "kelurahan",
)
PLACES = ("Kel. Cikini", "Kec. Tebet", "Palmerah", "Jaksel", "Kampung Melayu", "Kelapa Gading", "Cengkareng")


def envelopes(n: int, seed: int = 7) -> list[Envelope]:
    """~1 KB envelopes: 60% geotagged, 25% with a place name only, 15% neither; 10% repeat an earlier one."""
    rnd = random.Random(seed)
    now = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    out: list[Envelope] = []
    for i in range(n):
        if i > 100 and rnd.random() < 0.10:
            src = out[rnd.randrange(len(out))]
            out.append(Envelope(**{**{f: getattr(src, f) for f in src.__struct_fields__},
                                   "id": envelope_id("email", "pengaduan@jakarta.go.id", f"dup-{i}"),
                                   "channel": "email", "instance": "email-pengaduan",
                                   "account": "pengaduan@jakarta.go.id", "external_id": f"dup-{i}",
                                   "received_at": src.received_at + timedelta(minutes=5)}))
            continue
        text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(90, 130)))
        r = rnd.random()
        location = None
        if r < 0.60:
            location = Location(lat=rnd.uniform(-6.35, -6.10), lon=rnd.uniform(106.70, 106.95), source="gps")
        elif r < 0.85:
            text = f"{text} di {rnd.choice(PLACES)}"
        out.append(Envelope(
            id=envelope_id("twilio", "+628111272206", f"m-{i}"), channel="twilio", instance="twilio-wa",
            account="+628111272206", external_id=f"m-{i}", kind="direct_message",
            created_at=now + timedelta(seconds=i), received_at=now + timedelta(seconds=i),
            reporter=Reporter(contact=f"+62812{rnd.randrange(10**7):07d}", display_name="Warga"),
            visibility="private", text=text[:900], location=location))
    return out


async def load(nc: object, envs: list[Envelope]) -> None:
    js = nc.jetstream()  # type: ignore[attr-defined]
    futures = [await js.publish_async(subjects.inbound(e.channel, e.instance), encode(e),
                                      headers={"Nats-Msg-Id": e.id}) for e in envs]
    await asyncio.gather(*futures)


async def reset(nc: object, config: object) -> None:
    js = nc.jetstream()  # type: ignore[attr-defined]
    for info in await js.streams_info():
        await js.delete_stream(info.config.name)
    await bus.provision(js, config)  # type: ignore[arg-type]


async def bare(url: str, config: object, envs: list[Envelope], batch: int) -> tuple[float, list[float], float]:
    nc = await bus.connect(NatsSettings(url=url), name="bench-bare", skip_subject_validation=True)  # as the router
    await reset(nc, config)
    await load(nc, envs)
    js = nc.jetstream(publish_async_max_pending=20_000)
    sub = await js.pull_subscribe(f"{subjects.IN_PREFIX}.>", durable="bare", stream=subjects.STREAM_IN)
    done, lat = 0, []
    start, cpu = time.perf_counter(), time.process_time()
    while done < len(envs):
        msgs = await sub.fetch(batch, timeout=5)
        t0 = time.perf_counter()
        futures = []
        for m in msgs:
            env = decode_envelope(m.data)
            futures.append(await js.publish_async(subjects.admin("triage"), m.data,
                                                  headers={"Nats-Msg-Id": f"{env.id}:item"}))
        await asyncio.gather(*futures)
        for m in msgs:
            await m.ack()
        lat += [time.perf_counter() - t0] * len(msgs)
        done += len(msgs)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await nc.close()
    return len(envs) / elapsed, lat, cpu / len(envs)


async def routed(url: str, config: object, envs: list[Envelope],
                 batch: int) -> tuple[float, list[float], float, Router]:
    nc = await bus.connect(NatsSettings(url=url), name="bench-router", skip_subject_validation=True)  # as serve()
    await reset(nc, config)
    await load(nc, envs)
    settings = RouterSettings(rules=str(ROOT / "deploy/rules/jakarta.toml"), batch=batch, metrics_port=-1)
    router = Router(config, settings, RuleBook(Path(settings.rules)), nc)  # type: ignore[arg-type]
    await router.start()
    latencies: list[float] = []
    handle = router.handle

    async def timed(msgs: list[object]) -> None:  # fetch -> input acks, per envelope, as the bare loop's
        started = time.perf_counter()
        await handle(msgs)  # type: ignore[arg-type]
        latencies.extend([time.perf_counter() - started] * len(msgs))

    router.handle = timed  # type: ignore[method-assign]
    start, cpu = time.perf_counter(), time.process_time()
    task = asyncio.create_task(router.run())
    while router.handled < len(envs) and not task.done():  # noqa: ASYNC110 - polls a counter, bench only
        await asyncio.sleep(0.005)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    router.stopping.set()
    await task
    await nc.close()
    return len(envs) / elapsed, latencies, cpu / len(envs), router


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else 0.0


async def main() -> None:
    parser = argparse.ArgumentParser(description="Bare nats-py loop vs the router on one nats-server, round by round.")
    parser.add_argument("--n", type=int, default=20_000, help="envelopes per run")
    parser.add_argument("--batch", type=int, default=256, help="pull batch size of both loops")
    parser.add_argument("--rounds", type=int, default=3,
                        help="bare/router pairs, run alternately: a machine whose speed drifts affects both alike")
    args = parser.parse_args()
    log.configure("error", "console")
    envs = envelopes(args.n)
    size = statistics.mean(len(encode(e)) for e in envs)
    tune_gc()  # for both loops, as `kanal router run` does after start
    print(f"envelopes: {args.n}, mean size {size:.0f} B, batch {args.batch}, nats-server at loopback")
    ratios: list[float] = []
    with tempfile.TemporaryDirectory(prefix="kanal-bench-") as tmp:
        server = bus.EmbeddedNats(Path(tmp) / "nats", port=0).start()
        try:
            config = make_config(server.url, Path(tmp))
            for round_no in range(1, args.rounds + 1):
                gc.collect()  # each loop starts without the previous one's garbage, as in a process of its own
                bare_rate, bare_lat, bare_cpu = await bare(server.url, config, envs, args.batch)
                gc.collect()
                router_rate, router_lat, router_cpu, router = await routed(server.url, config, envs, args.batch)
                dups = {k: router.metrics.duplicates.labels(k)._value.get()
                        for k in ("same_reporter", "same_text", "incident")}
                del router  # a production process holds one router; the next round must not run beside this one
                ratios.append(router_rate / bare_rate)
                print(f"round {round_no}")
                print(f"  bare loop: {bare_rate:,.0f} msg/s  (batch latency p50 {pct(bare_lat, 50):.1f} ms, "
                      f"p99 {pct(bare_lat, 99):.1f} ms; {bare_cpu * 1e6:.0f} us CPU per envelope)")
                print(f"  router:    {router_rate:,.0f} msg/s  (batch latency p50 {pct(router_lat, 50):.1f} ms, "
                      f"p99 {pct(router_lat, 99):.1f} ms; {router_cpu * 1e6:.0f} us CPU per envelope)")
                print(f"  ratio:     {ratios[-1]:.0%}")
        finally:
            server.stop()
    print(f"dedup (last round): {dups}")
    print(f"ratio: median {statistics.median(ratios):.0%} of the bare loop over {len(ratios)} rounds "
          f"(min {min(ratios):.0%}, max {max(ratios):.0%}; target >= 50%)")


if __name__ == "__main__":
    asyncio.run(main())

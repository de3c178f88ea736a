"""What assembling chat fragments costs the router: extra latency and CPU per message at 500 messages/s.

Chat reports of three fragments (text, pin, photo; one second apart) from distinct reporters are published at
a steady rate to a real `kanal router run` process, twice on fresh streams: with `[conversations] window =
"0s"` (every message routed at once, as before assembly) and with `window = "2s"` (held in KV, routed as one
report when quiet). For each run it prints the router process's CPU per input message (utime + stime from
/proc) and the latency per routed item: from receipt to routing with "0s", from the moment the window closed
(last fragment + window) to routing with assembly. The difference is what assembly adds; the window itself is
the wait the operator chose.
Run: `.venv/bin/python bench/assembly.py [--rate 500] [--seconds 20] [--rounds 2]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kanal import bus  # noqa: E402
from kanal.testing import connected, make_config, nats_server, reset_jetstream  # noqa: E402
from schemas import Attachment, Envelope, Location, Reporter, Thread, encode, envelope_id, subjects  # noqa: E402
from schemas.routed import decode_routed  # noqa: E402
from tests.router.fixtures import write_rules  # noqa: E402

WINDOW = 2.0
GAP = 1.0  # seconds between a report's fragments
WORDS = ("jalan", "rusak", "berlubang", "banjir", "sampah", "menumpuk", "lampu", "mati", "pohon", "tumbang", "got",
         "mampet", "trotoar", "mohon", "segera", "warga", "depan", "sekolah", "dekat", "pasar", "gang", "rt", "rw")
TICK = os.sysconf("SC_CLK_TCK")


def fragment(report: int, part: int, at: datetime, rnd: random.Random) -> Envelope:
    """One Telegram message of a report: its text, then a pin, then a photo."""
    who = str(100_000 + report)
    external = f"{report}-{part}"
    fields: dict[str, object] = {}
    text = ""
    if part == 0:
        text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(10, 40)))
    elif part == 1:
        fields["location"] = Location(lat=-6.19 - rnd.random() * 0.01, lon=106.80 + rnd.random() * 0.02, source="gps")
    else:
        fields["attachments"] = (Attachment(kind="image", sha256=f"{report:064x}", media_type="image/jpeg"),)
    return Envelope(id=envelope_id("telegram", "kanalbot", external), channel="telegram", instance="tg-1",
                    account="kanalbot", external_id=external, kind="direct_message", created_at=at, received_at=at,
                    reporter=Reporter(user_id=who), visibility="private", text=text,
                    thread=Thread(conversation=f"telegram:{who}"), **fields)  # type: ignore[arg-type]


def start_router(cfg: Path, out: Path) -> subprocess.Popen[bytes]:
    """`kanal router run` with `cfg`, its output to `out`."""
    with out.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "kanal", "router", "run", "--config", str(cfg)],
                                stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


async def one_run(url: str, folder: Path, window: str, rate: int, seconds: float) -> dict[str, float]:
    """Publish the paced workload to a fresh router process; its CPU per message and latencies."""
    cfg = folder / f"kanal-{window}.toml"
    cfg.write_text(f'[nats]\nurl = "{url}"\n[log]\nlevel = "warning"\nformat = "json"\n'
                   f'[router]\nrules = "rules.toml"\nmetrics_port = -1\n[conversations]\nwindow = "{window}"\n')
    async with connected(url) as nc:
        await reset_jetstream(nc)
        await bus.provision(nc.jetstream(), make_config(url, folder))
    out = folder / f"router-{window}.log"
    proc = start_router(cfg, out)
    try:
        while b"router: ready" not in out.read_bytes():
            if proc.poll() is not None:
                raise SystemExit(f"router exited: {out.read_text()[-2000:]}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # start-up work (provisioning, the first scan) is not per message
        rnd = random.Random(7)
        reports = int(rate * seconds / 3)
        # report r starts at r * 3 / rate; its parts follow GAP apart: a steady `rate` messages a second
        plan = sorted((r * 3 / rate + part * GAP, r, part) for r in range(reports) for part in range(3))
        cpu0 = cpu_seconds(proc.pid)
        async with connected(url) as nc:
            js = nc.jetstream()
            started = time.monotonic()
            futures = []
            for offset, report, part in plan:
                wait = started + offset - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                env = fragment(report, part, datetime.now(UTC), rnd)
                futures.append(await js.publish_async(subjects.inbound("telegram", "tg-1"), encode(env),
                                                      headers={"Nats-Msg-Id": env.id}))
            await asyncio.gather(*futures)
            want = len(plan) if window == "0s" else reports
            deadline = time.monotonic() + 120
            while int((await js.stream_info(subjects.STREAM_ADMIN)).state.messages) < want:
                if time.monotonic() > deadline:
                    raise SystemExit(f"only {(await js.stream_info(subjects.STREAM_ADMIN)).state.messages} of "
                                     f"{want} items after 120 s")
                await asyncio.sleep(0.05)
            cpu = cpu_seconds(proc.pid) - cpu0
            info = await js.stream_info(subjects.STREAM_ADMIN)
            latencies = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                item = decode_routed((await js.get_msg(subjects.STREAM_ADMIN, seq)).data or b"")
                env = item.envelope
                if item.fragments:  # closed when the window after its last fragment ended
                    last = env.received_at + timedelta(seconds=GAP * (len(item.fragments) - 1))
                    latencies.append((item.routed_at - last).total_seconds() - WINDOW)
                else:
                    latencies.append((item.routed_at - env.received_at).total_seconds())
    finally:
        proc.terminate()
        proc.wait(30)
    return {"messages": len(plan), "items": want, "cpu_us": cpu / len(plan) * 1e6,
            "p50_ms": pct(latencies, 50) * 1000, "p95_ms": pct(latencies, 95) * 1000,
            "max_ms": max(latencies) * 1000}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=500, help="messages a second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to publish")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each mode")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_rules(folder)
        with nats_server(folder / "nats") as server:
            rows: dict[str, list[dict[str, float]]] = {"0s": [], f"{WINDOW:g}s": []}
            for _ in range(args.rounds):
                for window in rows:
                    res = await one_run(server.url, folder, window, args.rate, args.seconds)
                    rows[window].append(res)
                    print(f"window {window:>3}: {res['messages']:.0f} messages -> {res['items']:.0f} items, router "
                          f"CPU {res['cpu_us']:.0f} us/message, latency p50 {res['p50_ms']:.1f} ms, p95 "
                          f"{res['p95_ms']:.1f} ms, max {res['max_ms']:.1f} ms"
                          + (" (after the window closed)" if window != "0s" else " (receipt to routing)"),
                          flush=True)
    base, held = rows["0s"], rows[f"{WINDOW:g}s"]
    med = statistics.median
    print(f"assembly adds: CPU {med(r['cpu_us'] for r in held) - med(r['cpu_us'] for r in base):+.0f} us per message "
          f"(medians {med(r['cpu_us'] for r in base):.0f} -> {med(r['cpu_us'] for r in held):.0f}), latency p50 "
          f"{med(r['p50_ms'] for r in held) - med(r['p50_ms'] for r in base):+.1f} ms, p95 "
          f"{med(r['p95_ms'] for r in held) - med(r['p95_ms'] for r in base):+.1f} ms beyond the window, at "
          f"{args.rate} messages/s")


if __name__ == "__main__":
    asyncio.run(main())

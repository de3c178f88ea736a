"""Webhook intake benchmark (issue 5): signed requests on loopback against one Twilio and one Meta connector.

    .venv/bin/python bench/webhooks.py [--requests 6000] [--concurrency 64] [--rate 500] [--duration 10]
                                       [--client raw|httpx] [--only meta|twilio] [--log-level info]

Starts a real nats-server (kanal.bus.EmbeddedNats, free port), then each connector as a user runs it
(`python -m kanal connector run <instance> --config <tmp toml>`), and loads one process at a time:

- max rate: `--requests` signed POSTs with `--concurrency` in flight -> requests/s (and latency under load);
- fixed rate: `--rate` req/s for `--duration` s, open loop (each request's latency counts from the moment it
  was due, so a stall is not hidden) -> p50/p99/max.

A 2xx is only sent after the JetStream ack (or an fsynced spool write), so latency is request -> ack. Every
request carries a new provider message id (no dedup shortcut); at the end the KANAL_IN stream must hold
exactly one envelope per 2xx. Target (issue 5): >= 3,000 req/s per process, p99 < 25 ms at 500 req/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.meta.signature import sign as meta_sign  # noqa: E402
from kanal import bus  # noqa: E402
from kanal.testing import connected  # noqa: E402
from schemas import subjects  # noqa: E402

META_SECRET = "bench-meta-app-secret"
PHONE_NUMBER_ID = "106540352242922"
TWILIO_TOKEN = "bench-twilio-auth-token-0123456789"
TWILIO_SID = "AC" + "b" * 32
TWILIO_NUMBER = "+628111272206"

Request = tuple[str, bytes, dict[str, str]]  # path, body, headers


@dataclass
class Target:
    """One connector process under load and the way to build its i-th signed request."""

    name: str
    instance: str
    port: int
    build: Callable[[int], Request]
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None


@dataclass
class Result:
    target: str
    phase: str
    sent: int
    ok: int
    errors: dict[int, int]
    seconds: float
    latencies: list[float] = field(default_factory=list)
    cpu: float = float("nan")        # connector process CPU seconds during the phase
    nats_cpu: float = float("nan")   # nats-server CPU seconds during the phase

    def row(self) -> str:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

        errors = ",".join(f"{k}:{v}" for k, v in sorted(self.errors.items())) or "-"
        per = self.cpu / self.sent * 1000 if self.sent else float("nan")
        return (f"| {self.target:<7} | {self.phase:<14} | {self.sent:>6} | {self.ok / self.seconds:>9.0f} | "
                f"{pct(0.50):>7.2f} | {pct(0.99):>7.2f} | {(lat[-1] * 1000 if lat else 0):>8.2f} | {errors:<8} | "
                f"{per:>6.3f} | {1000 / per if per else float('nan'):>9.0f} | "
                f"{self.nats_cpu / self.sent * 1000 if self.sent else float('nan'):>6.3f} |")


def meta_request(run: str) -> Callable[[int], Request]:
    def build(i: int) -> Request:
        wamid = f"wamid.bench{run}{i:08d}"
        body = (
            '{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":'
            '{"messaging_product":"whatsapp","metadata":{"display_phone_number":"628111272206",'
            f'"phone_number_id":"{PHONE_NUMBER_ID}"}},"contacts":[{{"profile":{{"name":"Siti Rahayu"}},'
            f'"wa_id":"6281234567890"}}],"messages":[{{"from":"6281234567890","id":"{wamid}",'
            '"timestamp":"1732418401","text":{"body":"Jalan berlubang di Jl. Kemang Raya, mohon diperbaiki '
            '\\ud83d\\udea7"},"type":"text"}]},"field":"messages"}]}]}'
        ).encode()
        return "/webhook", body, {"content-type": "application/json", "x-hub-signature-256": meta_sign(META_SECRET,
                                                                                                       body)}
    return build


def twilio_request(run: str, port: int) -> Callable[[int], Request]:
    from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

    validator = RequestValidator(TWILIO_TOKEN)
    url = f"http://127.0.0.1:{port}/twilio/inbound"

    def build(i: int) -> Request:
        params = {"ToCountry": "ID", "SmsMessageSid": f"SM{run}{i:022d}", "NumMedia": "0",
                  "Body": "Sampah menumpuk di Jl. Cikini Raya", "MessageSid": f"SM{run}{i:022d}",
                  "AccountSid": TWILIO_SID, "From": "+6281234567890", "To": TWILIO_NUMBER,
                  "NumSegments": "1", "ApiVersion": "2010-04-01"}
        signature = validator.compute_signature(url, params)
        return "/twilio/inbound", urlencode(params).encode(), {
            "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature}
    return build


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: far less CPU per request than httpx."""

    def __init__(self, port: int, size: int) -> None:
        self.port = port
        self.pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        self.size = size

    async def open(self) -> None:
        for _ in range(self.size):
            self.pool.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))

    async def send(self, request: Request) -> int:
        path, body, headers = request
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        data = (f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{self.port}\r\n{head}content-length: {len(body)}\r\n\r\n"
                ).encode() + body
        reader, writer = await self.pool.get()
        try:
            writer.write(data)
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
        finally:
            self.pool.put_nowait((reader, writer))
        return status

    async def close(self) -> None:
        while not self.pool.empty():
            _, writer = self.pool.get_nowait()
            writer.close()


class HttpxClient:
    def __init__(self, port: int, size: int) -> None:
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                        limits=httpx.Limits(max_connections=size, max_keepalive_connections=size))

    async def open(self) -> None:
        return None

    async def send(self, request: Request) -> int:
        path, body, headers = request
        return (await self.client.post(path, content=body, headers=headers)).status_code

    async def close(self) -> None:
        await self.client.aclose()


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds a process has used (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


async def measured(phase: Awaitable[Result], pid: int | None, nats_pid: int | None) -> Result:
    """Run one phase and attach the connector's and nats-server's CPU time spent meanwhile."""
    before, nats_before = cpu_seconds(pid), cpu_seconds(nats_pid)
    result = await phase
    result.cpu, result.nats_cpu = cpu_seconds(pid) - before, cpu_seconds(nats_pid) - nats_before
    return result


async def max_rate(target: Target, send: Callable[[Request], Awaitable[int]], first: int, count: int,
                   concurrency: int) -> Result:
    requests = [target.build(first + i) for i in range(count)]  # signed before the clock starts
    result = Result(target.name, f"max c={concurrency}", count, 0, {}, 0.0)
    queue = iter(requests)

    async def worker() -> None:
        for request in queue:
            started = time.perf_counter()
            status = await send(request)
            result.latencies.append(time.perf_counter() - started)
            if 200 <= status < 300:
                result.ok += 1
            else:
                result.errors[status] = result.errors.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


async def fixed_rate(target: Target, send: Callable[[Request], Awaitable[int]], first: int, rate: int,
                     duration: float) -> Result:
    count = int(rate * duration)
    requests = [target.build(first + i) for i in range(count)]
    result = Result(target.name, f"fixed {rate}/s", count, 0, {}, 0.0)
    loop = asyncio.get_running_loop()

    async def one(request: Request, due: float) -> None:
        status = await send(request)
        result.latencies.append(loop.time() - due)  # from when it was due: generator stalls count too
        if 200 <= status < 300:
            result.ok += 1
        else:
            result.errors[status] = result.errors.get(status, 0) + 1

    tasks = []
    start = loop.time() + 0.05
    for i, request in enumerate(requests):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(request, due)))
    await asyncio.gather(*tasks)
    result.seconds = loop.time() - start
    return result


def write_config(tmp: Path, nats_url: str, meta_port: int, twilio_port: int | None, log_level: str) -> Path:
    text = f"""
[kanal]
data_dir = "{tmp / 'data'}"
[nats]
url = "{nats_url}"
[log]
level = "{log_level}"
format = "json"
[connectors.meta-bench]
channel = "meta"
port = {meta_port}
app_secret = "{META_SECRET}"
verify_token = "bench-verify-token"
phone_number_ids = ["{PHONE_NUMBER_ID}"]
"""
    if twilio_port is not None:
        text += f"""
[connectors.twilio-bench]
channel = "twilio"
port = {twilio_port}
auth_token = "{TWILIO_TOKEN}"
account_sid = "{TWILIO_SID}"
account = "{TWILIO_NUMBER}"
ack_template = "Terima kasih, laporan Anda kami terima dengan nomor {{ref}}."
"""
    path = tmp / "kanal.toml"
    path.write_text(text)
    return path


def twilio_available() -> str | None:
    """None if the Twilio channel can run here, else why not."""
    try:
        import connectors.twilio  # noqa: F401
        from connectors.twilio.connector import TwilioConnector  # noqa: F401
    except Exception as err:  # the colleague's channel may not be there yet
        return f"connectors.twilio is not importable ({err!r})"
    return None


def start_process(target: Target, tmp: Path, config: Path) -> None:
    """`python -m kanal connector run <instance> --config <toml>`, output in a log file beside the config."""
    target.log = tmp / f"{target.instance}.log"
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    with target.log.open("wb") as out:
        target.proc = subprocess.Popen(
            [sys.executable, "-m", "kanal", "connector", "run", target.instance, "--config", str(config)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": path})


async def wait_ready(target: Target, within: float = 30) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{target.port}") as client:
        while time.monotonic() < deadline:
            if target.proc is not None and target.proc.poll() is not None:
                raise SystemExit(f"{target.instance} exited with {target.proc.returncode}; see {target.log}")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"{target.instance} not ready after {within}s; see {target.log}")


async def stored(nats_url: str) -> int:
    async with connected(nats_url) as nc:
        info = await nc.jetstream().stream_info(subjects.STREAM_IN)
        return int(info.state.messages)


async def bench(args: argparse.Namespace) -> int:
    run = uuid.uuid4().hex[:8]
    skip_twilio = twilio_available() if args.only != "meta" else "not selected (--only meta)"
    with tempfile.TemporaryDirectory(prefix="kanal-bench-") as tmp_name:
        tmp = Path(tmp_name)
        nats = bus.EmbeddedNats(tmp / "nats", port=bus.free_port()).start()
        targets: list[Target] = []
        try:
            meta_port = bus.free_port()
            twilio_port = None if skip_twilio else bus.free_port()
            config = write_config(tmp, nats.url, meta_port, twilio_port, args.log_level)
            if args.only != "twilio":
                targets.append(Target("meta", "meta-bench", meta_port, meta_request(run)))
            if twilio_port is not None:
                targets.append(Target("twilio", "twilio-bench", twilio_port, twilio_request(run, twilio_port)))
            elif skip_twilio:
                print(f"twilio: skipped: {skip_twilio}")
            for target in targets:
                start_process(target, tmp, config)
            for target in targets:
                await wait_ready(target)
            results: list[Result] = []
            ok_total = 0
            for target in targets:
                client = RawClient(target.port, args.concurrency) if args.client == "raw" else \
                    HttpxClient(target.port, args.concurrency)
                await client.open()
                try:
                    warm = await max_rate(target, client.send, 0, 300, 16)
                    ok_total += warm.ok
                    pids = (target.proc.pid if target.proc else None, nats.proc.pid if nats.proc else None)
                    results.append(await measured(max_rate(target, client.send, 1_000_000, args.requests,
                                                           args.concurrency), *pids))
                    results.append(await measured(fixed_rate(target, client.send, 2_000_000, args.rate,
                                                             args.duration), *pids))
                finally:
                    await client.close()
                ok_total += sum(r.ok for r in results if r.target == target.name)
            have = await stored(nats.url)
        finally:
            for target in targets:
                if target.proc is not None and target.proc.poll() is None:
                    target.proc.terminate()
                    target.proc.wait(30)
            nats.stop()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nloopback, {os.cpu_count()} CPUs (1-min load average at the end: {load:.1f}), client={args.client}, "
          f"log level={args.log_level}; latency = request sent (max rate) / request due (fixed rate) -> 2xx "
          "after JetStream ack; cpu ms/req = connector process CPU per request, cpu-bound req/s = 1000 / that "
          "(what one core would sustain for the connector alone); nats ms/req = nats-server CPU per request\n")
    print("| target  | phase          |   sent |  ok req/s | p50 ms  | p99 ms  |   max ms | errors   | cpu ms/req "
          "| cpu-bound req/s | nats ms/req |")
    print("|---------|----------------|--------|-----------|---------|---------|----------|----------|--------"
          "|-----------|--------|")
    for result in results:
        print(result.row())
    print(f"\nKANAL_IN holds {have} envelopes for {ok_total} 2xx answers "
          f"({'every 2xx published once' if have == ok_total else 'MISMATCH'})")
    return 0 if have == ok_total else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=6000, help="requests in the max-rate phase")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight (max-rate phase)")
    parser.add_argument("--rate", type=int, default=500, help="requests/s in the fixed-rate phase")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of the fixed-rate phase")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="load generator: a minimal keep-alive HTTP/1.1 client (default), or httpx.AsyncClient "
                        "(on a 2-CPU machine httpx itself tops out near 350 req/s and measures the generator)")
    parser.add_argument("--only", choices=("meta", "twilio"), default=None)
    parser.add_argument("--log-level", default="info", help="connectors' log level (production default: info)")
    raise SystemExit(asyncio.run(bench(parser.parse_args())))


if __name__ == "__main__":
    main()

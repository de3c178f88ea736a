"""Admin console benchmark: a queue of N items on a real nats-server, the pages' reads and the pages themselves.

Publishes N routed items to one kelurahan queue (a tenth acknowledged, a fifth with a status change), then
prints, median of `--repeat` runs:
- reading every item's admin record and latest status one request per item (as the console did before);
- the same with batched direct gets (`kanal.direct`, one request per 1,000 items; what the console does now);
- the first page of a console process (its queue index reads every message once), then the queue page,
  the queue list, the overview (figures, 30-day chart, clustered map), the queue page filtered three ways
  and an item page, through the console's ASGI app, signed in as the lurah.
Items are spread over 30 days and five channels, three in four with a location. Target (issue #17): the
overview and a filtered queue page under 300 ms at 100,000 items.
Run: `.venv/bin/python bench/console.py [--n 100000]`. Needs no ../shared.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from admin.console import build  # noqa: E402
from admin.settings import AdminSettings, AdminUser  # noqa: E402
from admin.store import Handling  # noqa: E402
from kanal import bus, log  # noqa: E402
from kanal.localtime import WIB  # noqa: E402
from kanal.passwords import hash_password  # noqa: E402
from kanal.settings_types import Secret  # noqa: E402
from kanal.testing import make_config  # noqa: E402
from schemas import Envelope, Location, Reporter, encode, envelope_id, subjects  # noqa: E402
from schemas.routed import Decision, RoutedItem, RuleTrace  # noqa: E402
from schemas.status import StatusUpdate  # noqa: E402

QUEUE = "kelurahan.3171011001"
PASSWORD = "bench-password-123"


CHANNELS = ("twilio", "email", "app", "x", "desk")


def routed(i: int, n: int) -> RoutedItem:
    """Item i of n: spread over the last 30 days, five channels, most with a location in or near Gambir."""
    now = datetime.now(UTC)
    at = now - timedelta(seconds=30 * 86400 * (n - i) / n)
    channel = CHANNELS[i % len(CHANNELS)]
    loc = (Location(lat=-6.17 - (i % 97) * 0.0003, lon=106.81 + (i % 89) * 0.0003, source="gps")
           if i % 4 else None)
    env = Envelope(id=envelope_id(channel, "+628111272206", f"b-{i}"), channel=channel, instance=f"{channel}-1",
                   account="+628111272206", external_id=f"b-{i}", kind="direct_message", created_at=at,
                   received_at=at, reporter=Reporter(contact=f"+62812{i:07d}"), visibility="private",
                   text=f"Jalan berlubang di depan sekolah nomor {i}, mohon segera diperbaiki", location=loc)
    reason = "fallback"
    return RoutedItem(kind="item", item_id=env.id, ref=env.ref, envelope=env, routed_at=at,
                      decision=Decision(rule_id="gambir", rule_type="fallback", queue=QUEUE, reason=reason,
                                        trail=(RuleTrace(rule_id="gambir", matched=True, reason=reason),)))


async def timed(repeat: int, run: Callable[[], Awaitable[object]]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description="Admin console reads and pages over a queue of N items.")
    parser.add_argument("--n", type=int, default=5000, help="items in the queue")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (the median is printed)")
    args = parser.parse_args()
    log.configure("error", "console")
    with tempfile.TemporaryDirectory(prefix="kanal-bench-") as tmp:
        server = bus.EmbeddedNats(Path(tmp) / "nats", port=0).start()
        try:
            config = make_config(server.url, Path(tmp))
            nc = await bus.connect(config.nats, server.url, name="bench-console")
            js = nc.jetstream(publish_async_max_pending=20_000)
            await bus.provision(js, config)
            items = [routed(i, args.n) for i in range(args.n)]
            acks = await asyncio.gather(*[await js.publish_async(subjects.admin(QUEUE), encode(it),
                                                                 headers={"Nats-Msg-Id": it.item_id})
                                          for it in items])
            user = AdminUser(password_hash=Secret(hash_password(PASSWORD)), queues=(QUEUE,))
            settings = AdminSettings(users={"lurah": user}, session_secret=Secret("bench-session-secret-0123456789"))
            console = await build(config, settings, nc)
            store = console.store
            for it, ack in list(zip(items, acks, strict=True))[:: 10]:
                await store.record(it.item_id, Handling(seq=int(ack.seq), queue=QUEUE, action="ack", by="lurah",
                                                        at=datetime.now(UTC)))
            for it in items[::5]:
                await js.publish(subjects.status(it.item_id), encode(StatusUpdate(
                    item_id=it.item_id, ref=it.ref, stage="proses", queue=QUEUE, by="lurah",
                    at=datetime.now(UTC))))
            ids = [it.item_id for it in items]

            async def one_by_one() -> None:
                await asyncio.gather(*(store.state(i) for i in ids), *(store.latest_status(i) for i in ids))

            async def batched() -> None:
                await asyncio.gather(store.states(ids), store.latest_statuses(ids))

            print(f"queue of {args.n:,} items ({len(items[::10]):,} acknowledged, {len(items[::5]):,} with a "
                  f"status), nats-server at loopback, median of {args.repeat}")
            if args.n <= 10_000:  # 2 requests per item: minutes at 100,000
                print(f"  records + statuses, one request per item: {await timed(args.repeat, one_by_one):8.0f} ms")
            print(f"  records + statuses, batched:              {await timed(args.repeat, batched):8.0f} ms")
            transport = httpx.ASGITransport(app=console.app())
            async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
                page = await client.get("/login")
                token = re.search(r'name="csrf" value="([^"]+)"', page.text)
                assert token, "no CSRF token on the login page"
                await client.post("/login", data={"username": "lurah", "password": PASSWORD,
                                                  "csrf": token.group(1)})
                day = (datetime.now(UTC) - timedelta(days=3)).astimezone(WIB).date().isoformat()
                for name, path in (("queue page", f"/q/{QUEUE}"), ("queue list", "/"),
                                   ("overview (chart, map)", "/overview"),
                                   ("queue filtered: text", f"/q/{QUEUE}?q=sekolah+nomor+4242"),
                                   ("queue filtered: late + channel", f"/q/{QUEUE}?overdue=1&channel=email"),
                                   ("queue filtered: dates + stage", f"/q/{QUEUE}?from={day}&to={day}&stage=proses"),
                                   ("item page", f"/item/{acks[-1].seq}")):
                    async def get(path: str = path) -> None:
                        response = await client.get(path)
                        assert response.status_code == 200, (path, response.status_code)
                    if name == "queue page":  # the first page of a console process reads every message once
                        print(f"  {'first page (index built):':42s}{await timed(1, get):8.0f} ms")
                    print(f"  {name + ':':42s}{await timed(args.repeat, get):8.0f} ms")
            await nc.close()
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())

"""End to end: an envelope on KANAL_IN, the real router, and the admin's inbox and console showing the item."""

from __future__ import annotations

from pathlib import Path

import httpx
from nats.aio.client import Client as NATS

from admin.console import Console
from admin.inbox import Inbox
from admin.store import ItemStore
from kanal.config import Config
from schemas import subjects
from schemas.envelope import encode
from tests.admin.conftest import geotagged, login, write_boundaries
from tests.admin.helpers import GAMBIR, settings
from tests.factories import envelope


async def test_envelope_routed_by_the_real_router_reaches_inbox_and_console(
        provisioned: NATS, config: Config, tmp_path: Path, console: Console) -> None:
    from router.rules import RuleBook
    from router.service import Router
    from router.settings import RouterSettings

    boundaries = write_boundaries(tmp_path / "b.geojson")
    rules = tmp_path / "rules.toml"
    rules.write_text(f'version = 1\n[[rule]]\nid = "geo-kelurahan"\ntype = "geo"\nboundaries = "{boundaries}"\n'
                     '[[rule]]\nid = "fallback-triage"\ntype = "fallback"\n')
    router = Router(config, RouterSettings(rules=str(rules), metrics_port=-1, batch=16), RuleBook(rules), provisioned)
    await router.start()
    env = envelope("e2e-1", text="Got mampet di Jl. Medan Merdeka, air meluap ke jalan", **geotagged())
    await provisioned.jetstream().publish(subjects.inbound(env.channel, env.instance), encode(env),
                                          headers={"Nats-Msg-Id": env.id})
    while (await router.sub.consumer_info()).num_pending:
        await router.handle(await router.sub.fetch(16, timeout=2))

    store = await ItemStore.open(provisioned)
    box = await Inbox(store, GAMBIR, "lurah-gambir", settings().users["lurah-gambir"]).open()
    [entry] = await box.items()
    assert entry.stored.item.item_id == env.id
    assert entry.stored.item.decision.rule_id == "geo-kelurahan"
    await box.ack(env.id)
    assert await box.items() == []

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=console.app()), base_url="http://t") as client:
        await login(client, "lurah-gambir")
        page = await client.get(f"/item/{entry.stored.seq}")
        assert page.status_code == 200 and env.ref in page.text and "Diterima oleh lurah-gambir" in page.text

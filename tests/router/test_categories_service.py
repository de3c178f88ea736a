"""The router with categories against a real nats-server: the category on every delivered item, a rule on
category placing a non-geotagged social-aid report, and the count per category in the router's metrics."""

from __future__ import annotations

from pathlib import Path

from nats.aio.client import Client as NATS
from prometheus_client import generate_latest

from kanal.config import Config
from schemas import Reporter
from tests.factories import envelope
from tests.router.helpers import drain, make_router, publish, routed
from tests.router.test_categories import BANSOS, write_rules


async def test_routed_items_carry_their_category(provisioned: NATS, config: Config, tmp_path: Path) -> None:
    router = await make_router(provisioned, config, write_rules(tmp_path, BANSOS))
    envs = [
        envelope("b", text="KJP anak saya blm cair padahal udah terdaftar",
                 reporter=Reporter(contact="+6281100000011")),
        envelope("p", text="Pohon tumbang nutup jalan, tolong dievakuasi", reporter=Reporter(contact="+6281100000012")),
        envelope("l", text="selamat pagi, semoga sehat selalu", reporter=Reporter(contact="+6281100000013")),
    ]
    await publish(provisioned, *envs)
    await drain(router)
    items = {i.item_id: i.decision for i in await routed(provisioned)}
    got = {e.external_id: (items[e.id].queue, items[e.id].category) for e in envs}
    assert got == {"b": ("dinas.sosial", "bantuan_sosial"), "p": ("triage", "pohon"), "l": ("triage", "lainnya")}
    assert "kjp" in items[envs[0].id].category_cues and "pohon tumbang" in items[envs[1].id].category_cues
    metrics = generate_latest(router.metrics.registry).decode()
    assert 'kanal_router_categories_total{category="bantuan_sosial"} 1.0' in metrics
    assert 'kanal_router_categories_total{category="pohon"} 1.0' in metrics
    assert 'kanal_router_categories_total{category="jalan"} 0.0' in metrics  # every category starts at 0

"""The router against a real nats-server: routing, delivery, exact repeats across restarts, dead letters."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from nats.aio.client import Client as NATS

from kanal.config import Config
from router.rules import RuleBook
from router.service import Router
from schemas import Location, Reporter
from tests.factories import envelope, later
from tests.router.fixtures import write_rules
from tests.router.helpers import dead_letters, drain, make_router, publish, routed


async def test_routes_by_geo_channel_gazetteer_and_fallback(provisioned: NATS, router: Router) -> None:
    envs = [
        envelope("g", location=Location(lat=-6.195, lon=106.805, source="gps"), text="Jalan amblas di sini"),
        envelope("d", channel="desk", instance="desk-kec-satu", account="kec-satu", kind="walk_in",
                 text="Warga datang melapor soal pungli di kantor", reporter=Reporter(display_name="Ibu Sri")),
        envelope("x", channel="x", instance="x-dki", account="@dkijakarta", kind="post",
                 text="@DKIJakarta tolong perhatikan kemacetan di sini", reporter=Reporter(handle="@warga1")),
        envelope("t", text="Got mampet di kel. Beta sudah seminggu", reporter=Reporter(contact="+6281100000001")),
        envelope("f", text="Pelayanan KTP lambat sekali", reporter=Reporter(contact="+6281100000002")),
        envelope("a", kind="email", flags=("auto_reply",), location=Location(lat=-6.195, lon=106.805, source="gps"),
                 text="Saya sedang cuti sampai 1 Desember", reporter=Reporter(contact="pegawai@example.id")),
    ]
    await publish(provisioned, *envs)
    await drain(router)
    items = {i.item_id: i for i in await routed(provisioned)}
    queues = {e.external_id: (items[e.id].decision.queue, items[e.id].decision.rule_id) for e in envs}
    assert queues == {
        "g": ("kelurahan.3199011001", "geo"),
        "d": ("kecamatan.319901", "desk-satu"),
        "x": ("biro.pemerintahan", "x-province"),
        "t": ("kelurahan.3199011002", "gazetteer"),
        "f": ("triage", "fallback"),
        "a": ("automatic", "automatic-mail"),
    }
    assert "auto_reply: automatic mail, not a complaint" in items[envs[5].id].decision.reason
    trail = items[envs[4].id].decision.trail
    assert [t.rule_id for t in trail] == ["automatic-mail", "geo", "desk-satu", "x-province", "gazetteer", "fallback"]
    assert trail[1].reason == "no location" and trail[-1].matched
    assert items[envs[3].id].decision.matched == "beta"


async def test_exact_repeat_after_the_stream_window_is_not_routed_again(
    provisioned: NATS, config: Config, tmp_path: Path
) -> None:
    rules = write_rules(tmp_path)
    env = envelope("once", text="Lampu jalan mati di depan sekolah sejak minggu lalu")
    router = await make_router(provisioned, config, rules)
    await publish(provisioned, env)
    await drain(router)
    # A second router (a restart or another replica); the repeat is published with a fresh msg id,
    # as if the stream's duplicate window had passed: only the KV record can catch it.
    second = await make_router(provisioned, config, rules)
    js = provisioned.jetstream()
    from schemas import encode, subjects
    await js.publish(subjects.inbound(env.channel, env.instance), encode(env), headers={"Nats-Msg-Id": "later"})
    await drain(second)
    assert [i.item_id for i in await routed(provisioned)] == [env.id]
    assert second.metrics.duplicates.labels("exact")._value.get() == 1


async def test_poison_input_goes_to_the_dlq_with_reason_and_bytes(provisioned: NATS, router: Router) -> None:
    good = envelope("ok")
    v2 = json.loads(good.__class__.__name__ and json.dumps({"v": 2, "id": "x"}))
    bad = [b"not json at all", json.dumps({"v": 1, "id": "nothex"}).encode(), json.dumps(v2).encode()]
    await publish(provisioned, *bad, good)
    await drain(router)
    letters = await dead_letters(provisioned)
    assert sorted(d.reason for d in letters) == ["invalid_envelope", "invalid_envelope", "unsupported_version"]
    assert {d.data for d in letters} == set(bad)
    assert all(d.stage == "router" and d.detail for d in letters)
    assert [i.item_id for i in await routed(provisioned)] == [good.id]
    assert router.metrics.dlq.labels("invalid_envelope")._value.get() == 2


async def test_failing_input_is_retried_a_bounded_number_of_times_then_dead_lettered(
        provisioned: NATS, router: Router) -> None:
    class Boom:
        rules: tuple[object, ...] = ()
        source = "boom"

        def decide(self, _env: object, _words: object = None) -> None:
            raise RuntimeError("rule engine broke")

    router.book.current = Boom()  # type: ignore[assignment]
    router.s = router.s.__class__(rules=router.s.rules, max_deliveries=2, metrics_port=-1)
    await publish(provisioned, envelope("boom"))
    for _ in range(20):
        if await dead_letters(provisioned):
            break
        try:
            msgs = await router.sub.fetch(1, timeout=2)
        except TimeoutError:
            continue
        await router.handle(msgs)
    [letter] = await dead_letters(provisioned)
    assert letter.reason == "routing_failed" and letter.deliveries == 2 and "rule engine broke" in letter.detail
    assert await routed(provisioned) == []


async def test_bad_rules_file_is_refused_and_old_rules_stay(provisioned: NATS, config: Config, tmp_path: Path) -> None:
    rules = write_rules(tmp_path, fallback_id="first")
    router = Router(config, __import__("router.settings").settings.RouterSettings(rules=str(rules), metrics_port=-1),
                    RuleBook(rules), provisioned)
    rules.write_text(rules.read_text().replace('type = "fallback"', 'type = "fallbak"'))
    assert router.reload_rules() is False
    assert router.book.current.rules[-1].id == "first"
    assert router.metrics.reloads.labels("refused")._value.get() == 1
    write_rules(tmp_path, fallback_id="second")
    assert router.reload_rules() is True
    assert router.book.current.rules[-1].id == "second"


async def test_late_same_reporter_after_window_is_a_new_item(provisioned: NATS, router: Router) -> None:
    first = envelope("r1", text="Jalan rusak parah di depan pasar, banyak motor jatuh")
    again = envelope("r2", text="Jalan rusak parah di depan pasar, banyak motor jatuh!!", received_at=later(30))
    late = envelope("r3", text="Jalan rusak parah di depan pasar, banyak motor jatuh", received_at=later(48 * 60 + 1))
    await publish(provisioned, first)
    await drain(router)
    await publish(provisioned, again, late)
    await drain(router)
    items = {i.item_id: i for i in await routed(provisioned)}
    assert items[again.id].kind == "duplicate" and items[again.id].dedup.duplicate_of == first.id
    assert items[again.id].dedup.duplicate_reason == "same_reporter"
    assert items[again.id].decision.queue == items[first.id].decision.queue
    assert items[late.id].kind == "item"
    await asyncio.sleep(0)


def test_every_known_reason_and_kind_is_exported_from_zero() -> None:
    """An alert on increase(kanal_router_dead_letters_total[15m]) > 0 must see the first dead letter: a series
    born at 1 shows no increase, so each known reason is there at 0 from the start."""
    from prometheus_client import generate_latest

    from router.metrics import DEAD_LETTER_REASONS, DUPLICATE_KINDS, Metrics

    text = generate_latest(Metrics().registry).decode()
    for reason in DEAD_LETTER_REASONS:
        assert f'kanal_router_dead_letters_total{{reason="{reason}"}} 0.0' in text
    for kind in DUPLICATE_KINDS:
        assert f'kanal_router_duplicates_total{{kind="{kind}"}} 0.0' in text

"""The `news` channel: feed parsing, filters, the seen-links cursor, conditional GET, kill and restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest
from nats.aio.client import Client as NATS

from connectors.checkpoint import Checkpoints
from connectors.news import spec
from connectors.news.connector import NewsCursor, remember
from connectors.news.feeds import parse
from connectors.news.model import Article, Filter, Verdict, normalise_url
from connectors.news.settings import FeedSource
from connectors.poller import PollingConnector
from connectors.spec import Outcome
from connectors.testkit import harness
from connectors.testkit.harness import Harness
from connectors.testkit.suite import Case, PollerContract
from tests.connectors.news.runner import kill_and_resume
from tests.fakes.news import JPEG, NewsProvider, news_provider

FIXTURES = Path(__file__).parent / "fixtures"
RULES = Filter(["banjir", "sampah", "jalan berlubang"], ["Kemang", "Cilandak", "Jatinegara"])


def _articles(name: str, url: str) -> list[Article]:
    return parse((FIXTURES / name).read_bytes(), FeedSource(url=url), RULES)


METRO = _articles("rss_metro_jakarta.xml", "https://metro.example.co.id/rss")
KOTA = _articles("atom_kota.xml", "https://kabarkota.example.id/atom.xml")


async def _pass(h: Harness) -> int:
    connector = h.instance.connector
    assert isinstance(connector, PollingConnector)
    return await connector.run_pass(await Checkpoints.open(h.nc.jetstream(), h.instance.name), asyncio.Event())


def _raw(article: Article) -> bytes:
    return msgspec.json.encode(article)


def _check_metro_first(outcome: Outcome) -> None:
    env = outcome.envelopes[0]
    assert env.kind == "article" and env.visibility == "public"
    assert env.external_id == "https://metro.example.co.id/read/2026/11/24/071500/jalan-berlubang-cilandak"
    assert env.reporter.handle == "Berita Metro Jakarta" and env.reporter.user_id == "metro.example.co.id"
    assert env.language == "id"
    assert env.attachments[0].kind == "image" and env.attachments[0].source_url
    assert env.created_at.isoformat() == "2026-11-24T00:15:00+00:00"


def _check_kota(outcome: Outcome) -> None:
    env = outcome.envelopes[0]
    assert env.external_id == "https://kabarkota.example.id/2026/11/banjir-kemang/"
    assert "saluran air yang tersumbat" in env.text and "<p>" not in env.text
    assert env.subject == "Banjir 50 cm Rendam Permukiman di Kemang"


class TestNewsContract(PollerContract):
    spec = spec
    settings: ClassVar[dict[str, Any]] = {"account": "media-dki", "feeds": ["http://127.0.0.1:9/rss"]}
    cases: ClassVar[list[Case]] = [
        Case("rss_cilandak_pothole_media_content", _raw(METRO[0]), "media-dki", count=1, check=_check_metro_first),
        Case("rss_sports_off_topic", _raw(METRO[1]), "media-dki", expect="ignored"),
        Case("rss_kampung_melayu_utm_fragment", _raw(METRO[2]), "media-dki", count=1),
        Case("atom_kemang_flood_content_html", _raw(KOTA[1]), "media-dki", count=1, check=_check_kota),
        Case("atom_bandung_no_region", _raw(KOTA[0]), "media-dki", expect="ignored"),
        Case("not_json", b"<rss>", "media-dki", expect="bad_payload"),
        Case("javascript_link", _raw(msgspec.structs.replace(METRO[0], link="javascript:alert(1)")), "media-dki",
             expect="bad_payload"),
    ]

    @pytest.fixture
    async def provider(self) -> AsyncIterator[NewsProvider]:
        async with news_provider(feeds=2, articles=6) as p:
            yield p


def test_parse_orders_oldest_first_and_filters() -> None:
    assert [a.title[:10] for a in METRO] == ["Jalan Berl", "Persija Me", "Warga Kelu"]
    assert [a.verdict.passed for a in METRO] == [True, False, True]
    assert METRO[2].verdict == Verdict(passed=True, keywords=("sampah",), regions=("Jatinegara",))
    assert [a.title[:7] for a in KOTA] == ["Peluncu", "Banjir "]  # dated by <updated> when no <published>


def test_urls_lose_tracking_and_fragments_only() -> None:
    assert normalise_url("HTTPS://Site.example:443/a/b?utm_source=x&id=7&UTM_Medium=y&fbclid=1#c") == \
        "https://site.example/a/b?id=7"
    assert normalise_url("http://site.example") == "http://site.example/"
    assert normalise_url("http://site.example/x?page=2&a=") == "http://site.example/x?page=2&a="


def test_filter_needs_a_keyword_and_a_region_on_whole_words() -> None:
    rules = Filter(["banjir", "jalan rusak"], ["Kemang"])
    assert rules.check("BANJIR di kemang").passed
    assert rules.check("Jalan   rusak di Kemang raya").passed
    assert not rules.check("banjirnya di Kemangi").passed  # no whole word: neither matches
    assert not rules.check("banjir di Depok").passed
    assert Filter([], []).check("apa saja").passed


def test_seen_set_is_bounded_but_never_forgets_what_is_still_in_the_feed() -> None:
    seen = remember((), ["a", "b", "c"], {"a", "b", "c"}, limit=2)
    assert seen == ("a", "b", "c"), "all three are still in the feed"
    seen = remember(seen, ["d"], {"c", "d"}, limit=2)
    assert seen == ("c", "d")
    assert remember(("a",), ["a"], {"a"}, 5) == ("a",)


async def test_unchanged_feed_is_not_downloaded_again(provisioned: NATS, nats_url: str) -> None:
    async with news_provider(feeds=2, articles=8) as provider, harness(spec, provider.settings, nats_url) as h:
        assert await _pass(h) == 6
        assert await _pass(h) == 0
        assert provider.not_modified == 2, "the second pass must be a conditional GET answered 304"
        assert [e.external_id for e in await h.published()] == provider.expected_links()


async def test_a_refused_feed_does_not_stop_the_others(provisioned: NATS, nats_url: str) -> None:
    async with news_provider(feeds=1, articles=3) as provider:
        settings = {**provider.settings, "feeds": [f"{provider.base_url}/nothing-here", provider.feed_url(0)]}
        async with harness(spec, settings, nats_url) as h:
            assert await _pass(h) == 3
            cursor = await (await Checkpoints.open(h.nc.jetstream(), h.instance.name)).load(NewsCursor)
            assert cursor is not None and list(cursor.feeds) == [provider.feed_url(0)]


async def test_images_are_stored_when_asked(provisioned: NATS, nats_url: str) -> None:
    async with news_provider(feeds=1, articles=1) as provider, \
            harness(spec, {**provider.settings, "download_images": True}, nats_url) as h:
        assert await _pass(h) == 1
        [env] = await h.published()
        assert env.attachments[0].object_key and env.attachments[0].size == len(JPEG)
        assert await h.instance.media.get(env.attachments[0].object_key or "") == JPEG


@pytest.mark.slow
async def test_killed_mid_batch_resumes_without_gap_or_repeat(provisioned: NATS, nats_url: str,
                                                              tmp_path: Path) -> None:
    async with news_provider(feeds=3, articles=36) as provider:
        provider.media_delay = 0.1  # slow image downloads, so the kill lands inside a feed's batch
        settings: dict[str, Any] = {**provider.settings, "download_images": True}
        await kill_and_resume(provisioned, nats_url, tmp_path, "news", settings, provider, 10,
                              provider.expected_links())

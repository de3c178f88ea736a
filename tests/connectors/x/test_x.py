"""The `x` channel: v2 payloads (samples and own fixtures), tweepy against a local X API, kill and restart."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from nats.aio.client import Client as NATS

from connectors.checkpoint import Checkpoints
from connectors.errors import PermanentError, RateLimited
from connectors.poller import PollingConnector
from connectors.spec import NormaliseContext, Outcome
from connectors.testkit import harness
from connectors.testkit.harness import Harness
from connectors.testkit.suite import Case, PollerContract
from connectors.x import spec
from connectors.x.connector import XCursor
from connectors.x.normalise import normalise
from connectors.x.payload import split
from kanal import log
from tests.conftest import shared_path
from tests.connectors.news.runner import kill_and_resume
from tests.fakes.x import PNG, XProvider, x_provider

FIXTURES = Path(__file__).parent / "fixtures"
MENTIONS = (FIXTURES / "mentions_expansions.json").read_bytes()
DMS = (FIXTURES / "dm_events.json").read_bytes()
CTX = NormaliseContext(channel="x", instance="x-test", account="DKIJakarta",
                       received_at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC))


def _check_mentions(outcome: Outcome) -> None:
    first, reply, quote = outcome.envelopes
    assert first.kind == "post" and first.visibility == "public"
    assert first.text.startswith("@DKIJakarta Got mampet & air meluap") and "\U0001f64f" in first.text
    assert first.reporter.handle == "warga_kemang" and first.reporter.user_id == "51001"
    assert first.location is not None and (first.location.lat, first.location.lon) == (-6.26117, 106.81424)
    assert [a.kind for a in first.attachments] == ["image", "video"]
    assert first.attachments[1].source_url and first.attachments[1].source_url.endswith("1280x720/a.mp4")
    assert first.language == "in"
    assert reply.kind == "comment"
    assert reply.thread is not None and reply.thread.reply_to == "1860999999999999000"
    assert reply.thread.conversation == "1860999999999999000"
    assert reply.location is not None and reply.location.address == "Mampang Prapatan, Indonesia"
    assert abs(reply.location.lat + 6.24595) < 1e-6 and 1000 < (reply.location.accuracy_m or 0) < 3000
    assert quote.language is None and "> Warga dapat melapor genangan melalui JAKI & akun ini." in quote.text
    assert quote.attachments[0].error and "not in the response" in quote.attachments[0].error
    assert sorted(i.reason for i in outcome.ignored) == ["own_post", "retweet"]


def _check_dms(outcome: Outcome) -> None:
    [dm] = outcome.envelopes
    assert dm.kind == "direct_message" and dm.visibility == "private"
    assert dm.thread is not None and dm.thread.conversation == "51002-1023456789"
    assert dm.attachments[0].source_url and "ton.twitter.com" in dm.attachments[0].source_url
    assert sorted(i.reason for i in outcome.ignored) == ["dm_event_not_a_message", "own_message"]


def _without_media(raw: bytes) -> bytes:
    """The contract publishes without a media host (no internet here): drop media, keep everything else."""
    body = json.loads(raw)
    for item in body["data"]:
        item.pop("attachments", None)
    body["includes"].pop("media", None)
    return json.dumps(body).encode()


def test_mentions_fixture_maps_every_field() -> None:
    _check_mentions(normalise(MENTIONS, CTX))


def test_dm_fixture_maps_every_field() -> None:
    _check_dms(normalise(DMS, CTX))


class TestXContract(PollerContract):
    spec = spec
    settings: ClassVar[dict[str, Any]] = {"account": "DKIJakarta", "bearer_token": "AAAA-contract-bearer-9876",
                                          "api_base_url": "http://127.0.0.1:9", "direct_messages": False}
    secrets: ClassVar[list[str]] = ["AAAA-contract-bearer-9876"]
    cases: ClassVar[list[Case]] = [
        Case("mentions_with_expansions_reply_retweet_quote", _without_media(MENTIONS), "DKIJakarta", count=3),
        Case("dm_events_own_and_join", _without_media(DMS), "DKIJakarta", count=1),
        Case("retweet_only", json.dumps({"data": [json.loads(MENTIONS)["data"][2]]}).encode(), "DKIJakarta",
             expect="ignored"),
        Case("item_with_wrong_types", b'{"data":[{"id":7,"text":["x"]}]}', "DKIJakarta", expect="rejected"),
        Case("errors_only", b'{"errors":[{"title":"Not Found Error","detail":"gone"}]}', "DKIJakarta",
             expect="bad_payload"),
        Case("not_json", b"<html>", "DKIJakarta", expect="bad_payload"),
    ]

    @pytest.fixture
    async def provider(self) -> AsyncIterator[XProvider]:
        async with x_provider(mentions=6, search=3, dms=2) as p:
            yield p


def test_shared_recent_search_sample_with_dangling_includes() -> None:
    raw = shared_path("samples", "x", "x_v2_recent_search_expansions_geo_media_refs.json").read_bytes()
    outcome = normalise(raw, CTX)
    assert len(outcome.envelopes) == 4 and not outcome.rejected
    first = outcome.envelopes[0]
    assert first.kind == "comment" and first.location is None, "place not expanded: no location, no crash"
    assert first.attachments[0].error, "media key not expanded: recorded, not dropped"
    assert all(e.thread and e.thread.reply_to for e in outcome.envelopes if e.kind == "comment")
    assert all(e.reporter.handle for e in outcome.envelopes)
    sliced, meta = split(raw)
    assert meta.newest_id == "1276035977375477760" and len(sliced) == 4
    assert [e.id for e in normalise(sliced[0][1], CTX).envelopes] == [first.id]


def test_shared_mentions_sample_without_expansions() -> None:
    raw = shared_path("samples", "x", "x_v2_users_mentions_tweepy_cassette.json").read_bytes()
    outcome = normalise(raw, CTX)
    assert len(outcome.envelopes) == 10
    assert all(e.created_at.year == 2022 for e in outcome.envelopes), "created_at from the snowflake id"
    assert any("respond to my ticket" in e.text for e in outcome.envelopes)
    lookup = shared_path("samples", "x", "x_v2_tweets_lookup_tweepy_cassette.json").read_bytes()
    assert "\U0001f941" in normalise(lookup, CTX).envelopes[0].text, "surrogate-escaped emoji decoded"


def test_slices_keep_only_what_each_item_references() -> None:
    sliced, _ = split(MENTIONS)
    first = json.loads(sliced[0][1])
    assert [u["id"] for u in first["includes"]["users"]] == ["51001"]
    assert len(first["includes"]["media"]) == 2 and first["includes"]["places"][0]["id"] == "3e9c4a6b1b0e3f45"
    reply = json.loads(sliced[1][1])
    assert "media" not in reply["includes"] and sorted(u["id"] for u in reply["includes"]["users"]) == [
        "1023456789", "51002"]


async def _pass(h: Harness) -> int:
    connector = h.instance.connector
    assert isinstance(connector, PollingConnector)
    return await connector.run_pass(await Checkpoints.open(h.nc.jetstream(), h.instance.name), asyncio.Event())


async def test_three_streams_through_tweepy(provisioned: NATS, nats_url: str) -> None:
    async with x_provider(mentions=12, search=3, dms=2) as provider, harness(spec, provider.settings, nats_url) as h:
        assert await _pass(h) == len(provider.expected_ids()) + 3 + 2
        published = await h.published()
        assert [e.external_id for e in published] == (provider.expected_ids() + provider.expected_ids("search")
                                                      + provider.expected_ids("dms"))
        assert {e.kind for e in published} == {"post", "comment", "direct_message"}
        photo = published[0].attachments[0]
        assert photo.object_key and await h.instance.media.get(photo.object_key) == PNG
        cursor = await (await Checkpoints.open(h.nc.jetstream(), h.instance.name)).load(XCursor)
        assert cursor is not None and cursor.mentions.since_id == provider.tweets["mentions"][-1]["id"]
        assert cursor.search.query == provider.settings["search_query"]
        paths = [p for p, _ in provider.requests]
        assert paths.count("/2/users/by/username/DKIJakarta") == 1
        mention_params = [q for p, q in provider.requests if p.endswith("/mentions")]
        assert "start_time" in mention_params[0] and "pagination_token" in mention_params[-1]
        assert "author_id" in mention_params[0]["expansions"] and "geo" in mention_params[0]["tweet.fields"]
        assert await _pass(h) == 0
        assert "since_id" in [q for p, q in provider.requests if p.endswith("/mentions")][-1]


async def test_dm_access_level_disables_only_that_stream(provisioned: NATS, nats_url: str) -> None:
    out = io.StringIO()
    log.configure("debug", "json", stream=out)
    try:
        async with x_provider(mentions=3, dms=2) as provider, harness(spec, provider.settings, nats_url) as h:
            provider.dm_status = 403
            assert await _pass(h) == 3
            provider.add(1)
            assert await _pass(h) == 1
    finally:
        log.configure("debug", "json")
    assert [p for p, _ in provider.requests].count("/2/dm_events") == 1, "disabled after the first 403"
    events = [json.loads(line) for line in out.getvalue().splitlines() if "x_dm_stream_disabled" in line]
    assert len(events) == 1 and events[0]["reason"].endswith("client-forbidden")


async def test_dm_rejected_credentials_stop_the_connector(provisioned: NATS, nats_url: str) -> None:
    async with x_provider(mentions=1, dms=1) as provider, harness(spec, provider.settings, nats_url) as h:
        provider.dm_status = 401
        with pytest.raises(PermanentError) as caught:
            await _pass(h)
        assert caught.value.credentials


async def test_rate_limit_waits_for_the_announced_reset(provisioned: NATS, nats_url: str) -> None:
    async with x_provider(mentions=2) as provider, harness(spec, provider.settings, nats_url) as h:
        provider.fail(429)
        with pytest.raises(RateLimited) as caught:
            await _pass(h)
        assert caught.value.retry_at is not None and caught.value.retry_at > datetime.now(UTC).timestamp()
        provider.fail(403)
        with pytest.raises(PermanentError, match="access level"):
            await _pass(h)


@pytest.mark.slow
async def test_killed_mid_batch_resumes_without_gap_or_repeat(provisioned: NATS, nats_url: str,
                                                              tmp_path: Path) -> None:
    async with x_provider(mentions=40) as provider:
        provider.media_delay = 0.1  # slow photo downloads, so the kill lands inside a batch
        settings = {**provider.settings, "search_query": "", "direct_messages": False}
        await kill_and_resume(provisioned, nats_url, tmp_path, "x", settings, provider, 8, provider.expected_ids())

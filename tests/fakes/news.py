"""A local news site serving RSS 2.0 and Atom feeds (conditional GET, images), for the `news` channel tests."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.serve import FakeProvider, serving

BASE_TIME = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
JPEG = b"\xff\xd8\xff\xe0" + b"kanal-test-image" * 8 + b"\xff\xd9"


@dataclass(frozen=True)
class _Article:
    """One article as both feed formats show it (its text XML-escaped)."""

    number: int
    title: str
    summary: str
    link: str
    image: str
    when: datetime


@dataclass
class NewsProvider(FakeProvider):
    """Numbered articles spread over `feeds` feeds (even: RSS 2.0, odd: Atom), newest first, like a real site.

    `add(n, off_topic_every=4)` makes every fourth new article off-topic (sport in Bandung): the filters
    must ignore those.
    """

    feeds: int = 1
    articles: list[tuple[int, int]] = field(default_factory=list)  # (number, feed)
    off_topic: set[int] = field(default_factory=set)
    window: int = 100
    delay: float = 0.0
    media_delay: float = 0.0
    requests: list[str] = field(default_factory=list)
    not_modified: int = 0

    def feed_url(self, feed: int) -> str:
        return f"{self.base_url}/{'rss' if feed % 2 == 0 else 'atom'}/{feed}"

    @property
    def settings(self) -> dict[str, object]:
        return {"account": "media-dki", "feeds": [self.feed_url(f) for f in range(self.feeds)],
                "keywords": ["banjir", "sampah", "jalan rusak"], "regions": ["Kemang", "Cilandak", "Jatinegara"],
                "page_size": 3, "seen_limit": 50}

    def add(self, count: int, feed: int | None = None, off_topic_every: int = 0) -> None:
        for index in range(1, count + 1):
            number = len(self.articles) + 1
            self.articles.append((number, number % self.feeds if feed is None else feed))
            if off_topic_every and index % off_topic_every == 0:
                self.off_topic.add(number)

    def matches(self, number: int) -> bool:
        return number not in self.off_topic

    def link(self, number: int) -> str:
        return f"{self.base_url}/berita/{number}"

    def expected_links(self) -> list[str]:
        """Links that pass the filters, in the order one uninterrupted pass publishes them."""
        order = sorted(self.articles, key=lambda a: (a[1], a[0]))
        return [self.link(n) for n, _ in order if self.matches(n)]

    def _articles(self, numbers: list[int]) -> Iterator[_Article]:
        """Each article as a feed shows it, its text already XML-escaped."""
        for number in numbers:
            if self.matches(number):
                title = f"Banjir dan sampah di Kemang nomor {number}"
                summary = f"Warga Kemang, Mampang Prapatan mengeluhkan banjir (laporan {number})."
            else:
                title = f"Pertandingan sepak bola nomor {number}"
                summary = "Laga berlangsung di Bandung."
            yield _Article(number=number, title=escape(title), summary=escape(summary),
                           link=escape(self.link(number)), image=f"{self.base_url}/img/{number}.jpg",
                           when=BASE_TIME + timedelta(minutes=number))

    def rss(self, feed: int, numbers: list[int]) -> str:
        items = "".join(
            f"<item><title>{a.title}</title><link>{a.link}?utm_source=rss&amp;utm_campaign=feed{feed}</link>"
            f"<guid isPermaLink=\"false\">berita-{a.number}</guid><pubDate>{format_datetime(a.when)}</pubDate>"
            f"<description>{a.summary}</description>"
            f"<enclosure url=\"{a.image}\" length=\"{len(JPEG)}\" type=\"image/jpeg\"/></item>"
            for a in self._articles(numbers))
        return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel>"
                f"<title>Warta Lokal {feed}</title><link>{self.base_url}/</link><language>id</language>"
                + items + "</channel></rss>")

    def atom(self, feed: int, numbers: list[int]) -> str:
        entries = "".join(
            f"<entry><title>{a.title}</title><link rel=\"alternate\" href=\"{a.link}#baca\"/>"
            f"<id>tag:warta,2026:{a.number}</id><published>{a.when.isoformat()}</published>"
            f"<updated>{a.when.isoformat()}</updated><summary>{a.summary}</summary>"
            f"<link rel=\"enclosure\" type=\"image/jpeg\" href=\"{a.image}\"/></entry>"
            for a in self._articles(numbers))
        return ("<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"id\">"
                f"<title>Warta Lokal {feed}</title><id>tag:warta,2026:{feed}</id>"
                f"<updated>{BASE_TIME.isoformat()}</updated>" + entries + "</feed>")

    def app(self) -> Starlette:
        async def feed(request: Request) -> Response:
            number = int(request.path_params["feed"])
            self.requests.append(request.url.path)
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.status is not None:
                return Response("failing on purpose", status_code=self.status,
                                headers={"retry-after": "1"} if self.status == 429 else {})
            numbers = sorted((n for n, f in self.articles if f == number), reverse=True)[: self.window]
            atom = request.url.path.startswith("/atom/")
            body = (self.atom if atom else self.rss)(number, numbers).encode()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if request.headers.get("if-none-match") == etag:
                self.not_modified += 1
                return Response(status_code=304, headers={"etag": etag})
            media_type = "application/atom+xml" if atom else "application/rss+xml"
            return Response(body, media_type=media_type, headers={"etag": etag})

        async def image(request: Request) -> Response:
            if self.media_delay:
                await asyncio.sleep(self.media_delay)
            return Response(JPEG, media_type="image/jpeg")

        return Starlette(routes=[Route("/rss/{feed}", feed), Route("/atom/{feed}", feed),
                                 Route("/img/{name}", image)])


@asynccontextmanager
async def news_provider(feeds: int = 1, articles: int = 0) -> AsyncIterator[NewsProvider]:
    """Serve a NewsProvider on a free loopback port."""
    async with serving(NewsProvider(feeds=feeds)) as provider:
        provider.add(articles, off_topic_every=4)
        yield provider

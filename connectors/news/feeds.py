"""Feed I/O: conditional GET with httpx (body limit, ETag/Last-Modified), then feedparser on the bytes."""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser
import httpx

from connectors.errors import PermanentError, RateLimited, TransientError
from connectors.httpio import TooLarge, read_limited, retry_at
from connectors.news.model import Article, Filter, Media
from connectors.news.settings import FeedSource


class FeedRefused(PermanentError):
    """The feed answered 401/403/404/410: retrying will not help until the feed URL is fixed."""


@dataclass
class Fetched:
    """A feed body (None when the server answered 304 Not Modified) and its validators."""

    body: bytes | None
    etag: str | None
    last_modified: str | None
    content_type: str | None = None


async def fetch(http: httpx.AsyncClient, url: str, max_bytes: int, etag: str | None,
                last_modified: str | None) -> Fetched:
    """GET the feed, conditional on the saved validators; classify failures for the poller."""
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with http.stream("GET", url, headers=headers) as response:
            status = response.status_code
            if status == 304:
                return Fetched(None, etag, last_modified)
            if status in (401, 403, 404, 410):
                raise FeedRefused(f"feed {url} answered {status}",
                                  hint="check the URL in `feeds` (it moved, or needs a login); other feeds go on")
            if status == 429:
                announced = retry_at(response.headers.get("retry-after"))
                raise RateLimited(f"feed {url} is rate limiting (429)", retry_at=announced)
            if status >= 400:
                raise TransientError(f"feed {url} answered {status}")
            try:
                body = await read_limited(response, max_bytes)
            except TooLarge as err:
                raise TransientError(f"feed {url} is over max_body_bytes={max_bytes} ({err})") from err
            return Fetched(body, response.headers.get("etag"), response.headers.get("last-modified"),
                           response.headers.get("content-type"))
    except httpx.HTTPError as err:
        raise TransientError(f"feed {url} unreachable: {err!r}") from err


def parse(body: bytes, source: FeedSource, rules: Filter, content_type: str | None = None) -> list[Article]:
    """Every usable entry of a feed as an Article, OLDEST FIRST, with the filter verdict attached."""
    headers = {"content-type": content_type} if content_type else {}
    parsed: Any = feedparser.parse(body, response_headers=headers)
    if parsed.get("bozo") and not parsed.get("entries"):
        raise TransientError(f"feed {source.url} is not RSS/Atom: {parsed.get('bozo_exception')!r}")
    feed = parsed.get("feed", {})
    feed_title = _text(feed.get("title")) or None
    publisher = source.name or feed_title or urlsplit(source.url).hostname
    language = (feed.get("language") or "").split("-")[0].lower() or None
    articles: list[tuple[float, int, Article]] = []
    entries = parsed.get("entries", [])
    for index, entry in enumerate(entries):
        link = entry.get("link") or _alternate(entry) or ""
        if not link:
            continue
        title = _text(entry.get("title"))
        summary = _text(entry.get("summary"))
        content = "\n".join(_text(c.get("value")) for c in entry.get("content", []) if c.get("value"))
        tags = tuple(t.get("term") for t in entry.get("tags", []) if t.get("term"))
        # plain dict access: FeedParserDict maps a missing `updated_parsed` to `published_parsed` (and warns)
        published = _time(dict.get(entry, "published_parsed"))
        updated = _time(dict.get(entry, "updated_parsed"))
        article = Article(
            feed_url=source.url, feed_title=feed_title, feed_language=language, publisher=publisher,
            link=link, guid=entry.get("id"), title=title, summary=summary, content=content,
            author=entry.get("author"), published=published, updated=updated, tags=tags,
            media=_media(entry), verdict=rules.check(title, summary, content, " ".join(tags)),
        )
        stamp = (published or updated)
        # feeds list newest first; without dates, reversed document order is the best guess at age
        articles.append((stamp.timestamp() if stamp else float("-inf"), len(entries) - index, article))
    dated = all(a[0] != float("-inf") for a in articles)
    articles.sort(key=(lambda a: (a[0], a[1])) if dated else (lambda a: a[1]))
    return [a[2] for a in articles]


def _text(value: object) -> str:
    return str(value).strip() if value else ""


def _alternate(entry: Any) -> str | None:
    for link in entry.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link["href"])
    return None


def _time(value: time.struct_time | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)


def _media(entry: Any) -> tuple[Media, ...]:
    found: dict[str, Media] = {}
    for link in entry.get("links", []):
        if link.get("rel") == "enclosure" and link.get("href"):
            found.setdefault(link["href"], Media(url=link["href"], media_type=link.get("type") or None))
    for item in list(entry.get("media_content", [])) + list(entry.get("media_thumbnail", [])):
        url = item.get("url")
        if url:
            media_type = item.get("type") or ("image/jpeg" if item.get("medium") == "image" else None)
            found.setdefault(url, Media(url=url, media_type=media_type))
    return tuple(found.values())

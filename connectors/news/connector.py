"""Polls every configured feed; the cursor per feed is a bounded set of seen links plus ETag/Last-Modified.

Why a seen set and not "newest published time": feeds re-date, reorder and back-fill entries, and many
entries share a minute or have no date at all. A link seen is never published again as long as it is still
in the feed (links still in the feed are never evicted), and a link not seen is always published: no gap,
no repeat. The set holds 64-bit hashes, so the cursor stays small.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import msgspec
from msgspec import Struct

from connectors.errors import PermanentError, RateLimited, TransientError
from connectors.news import feeds
from connectors.news.model import Article, Filter, link_key
from connectors.news.settings import NewsSettings
from connectors.poller import Page, PollingConnector, RawItem
from schemas import Envelope


class FeedState(Struct, frozen=True, kw_only=True):
    """What is known about one feed: links already handled (oldest first) and HTTP validators."""

    seen: tuple[str, ...] = ()
    etag: str | None = None
    last_modified: str | None = None


class NewsCursor(Struct, frozen=True, kw_only=True):
    """One FeedState per feed URL."""

    feeds: dict[str, FeedState] = {}


def remember(seen: tuple[str, ...], new: list[str], current: set[str], limit: int) -> tuple[str, ...]:
    """Add `new` keys; trim the oldest down to `limit`, but never a key still in the feed (`current`)."""
    added = set(new)
    merged = [k for k in seen if k not in added] + new
    excess = len(merged) - limit
    if excess <= 0:
        return tuple(merged)
    kept: list[str] = []
    for key in merged:
        if excess > 0 and key not in current:
            excess -= 1
            continue
        kept.append(key)
    return tuple(kept)


class NewsConnector(PollingConnector[NewsSettings, NewsCursor]):
    """RSS/Atom feeds -> one raw Article per new entry; one checkpoint per `page_size` articles."""

    cursor_type = NewsCursor

    async def start(self) -> None:
        self.http = httpx.AsyncClient(timeout=self.settings.timeout.total_seconds(), follow_redirects=True,
                                      headers={"User-Agent": self.settings.user_agent})
        self.rules = Filter(self.settings.keywords, self.settings.regions)

    async def close(self) -> None:
        await self.http.aclose()

    async def pages(self, cursor: NewsCursor | None) -> AsyncIterator[Page[NewsCursor]]:
        sources = self.settings.sources()
        saved = (cursor or NewsCursor()).feeds
        states = {s.url: saved[s.url] for s in sources if s.url in saved}  # feeds removed from config: forgotten
        refused: list[PermanentError] = []
        failed: list[TransientError] = []
        for source in sources:
            state = states.get(source.url, FeedState())
            try:
                fetched = await feeds.fetch(self.http, source.url, self.ctx.common.max_body_bytes,
                                            state.etag, state.last_modified)
                if fetched.body is None:
                    self.log.debug("feed_not_modified", feed=source.url)
                    continue
                articles = feeds.parse(fetched.body, source, self.rules, fetched.content_type)
            except PermanentError as err:
                self.log.error("feed_refused", feed=source.url, error=str(err), hint=err.hint)
                refused.append(err)
                continue
            except TransientError as err:
                self.log.warning("feed_failed", feed=source.url, error=str(err))
                failed.append(err)
                continue
            current = {link_key(a.link) for a in articles}
            seen = set(state.seen)
            new = [a for a in articles if link_key(a.link) not in seen]
            unique: dict[str, Article] = {}
            for article in new:  # the same link twice in one feed: keep the oldest entry
                unique.setdefault(link_key(article.link), article)
            new = list(unique.values())
            self.log.info("feed_read", feed=source.url, entries=len(articles), new=len(new))
            size = max(1, self.settings.page_size)
            chunks = [new[i:i + size] for i in range(0, len(new), size)] or [[]]
            for number, chunk in enumerate(chunks):
                last = number == len(chunks) - 1
                keys = [link_key(a.link) for a in chunk]
                state = FeedState(seen=remember(state.seen, keys, current, self.settings.seen_limit),
                                  etag=fetched.etag if last else state.etag,
                                  last_modified=fetched.last_modified if last else state.last_modified)
                states[source.url] = state
                items = [RawItem(msgspec.json.encode(a), self.settings.account) for a in chunk]
                yield Page(items=items, cursor=NewsCursor(feeds=dict(states)))
        if failed:
            limited = [e for e in failed if isinstance(e, RateLimited)]
            raise (limited or failed)[0]
        if refused and len(refused) == len(sources):
            raise PermanentError("every configured feed refused the request",
                                 hint="check the `feeds` URLs of this instance")

    async def enrich(self, envelope: Envelope) -> Envelope:
        """Store images only when `download_images` is on; otherwise keep their URLs."""
        if not self.settings.download_images:
            return envelope
        return await super().enrich(envelope)

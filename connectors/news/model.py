"""The article as the news connector hands it to the normaliser, plus the pure helpers both sides share.

RSS/Atom entries cannot be cut out of a feed byte-exact, so the client parses the feed (feedparser) into
this Struct; its JSON is the raw item kept on KANAL_RAW. Link normalisation and the keyword/region filter
live here so the cursor (seen links) and the envelope id agree on what "the same article" is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from msgspec import Struct

# Tracking parameters that do not change which article a link points to.
_TRACKING = ("utm_",)
_TRACKING_EXACT = frozenset({"fbclid", "gclid", "mc_cid", "mc_eid", "_ga"})


class Media(Struct, frozen=True, kw_only=True):
    """An image or other file the entry links (enclosure, media:content, media:thumbnail)."""

    url: str
    media_type: str | None = None


class Verdict(Struct, frozen=True, kw_only=True):
    """What the instance's filters found in the article; `passed` False means it is not a complaint."""

    passed: bool
    keywords: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()


class Article(Struct, frozen=True, kw_only=True):
    """One feed entry with its feed's identity, as published on KANAL_RAW."""

    feed_url: str
    feed_title: str | None = None
    feed_language: str | None = None
    publisher: str | None = None
    link: str
    guid: str | None = None
    title: str = ""
    summary: str = ""
    content: str = ""
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    tags: tuple[str, ...] = ()
    media: tuple[Media, ...] = ()
    verdict: Verdict


def normalise_url(url: str) -> str:
    """The article's identity: scheme/host lower-cased, fragment and utm_*/click-id parameters dropped."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.lower().startswith(_TRACKING) and k.lower() not in _TRACKING_EXACT]
    host = parts.netloc.lower()
    scheme = parts.scheme.lower()
    if (scheme, host.rsplit(":", 1)[-1]) in (("http", "80"), ("https", "443")):
        host = host.rsplit(":", 1)[0]
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query), ""))


def link_key(url: str) -> str:
    """A short, fixed-size key for the seen-links cursor (64 bits of the normalised link's hash)."""
    return hashlib.blake2b(normalise_url(url).encode(), digest_size=8).hexdigest()


class Filter:
    """Whole-word, case-insensitive keyword and region matching (empty list = that filter is off)."""

    def __init__(self, keywords: Iterable[str], regions: Iterable[str]) -> None:
        self.keywords = [(k, _word(k)) for k in keywords if k.strip()]
        self.regions = [(r, _word(r)) for r in regions if r.strip()]

    def check(self, *texts: str) -> Verdict:
        """Which keywords and regions the texts mention, and whether the article passes."""
        text = "\n".join(texts)
        keywords = tuple(k for k, rx in self.keywords if rx.search(text))
        regions = tuple(r for r, rx in self.regions if rx.search(text))
        passed = (not self.keywords or bool(keywords)) and (not self.regions or bool(regions))
        return Verdict(passed=passed, keywords=keywords, regions=regions)


def _word(term: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, term.split())) + r"(?!\w)", re.IGNORECASE)

"""Settings of a `news` instance: the feeds to read and the keyword/region filters (no credentials needed)."""

from __future__ import annotations

from msgspec import Struct

from kanal.settings_types import Duration


class FeedSource(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One feed; `name` overrides the feed's own title as the publisher's name."""

    url: str
    name: str | None = None


class NewsSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[connectors.<instance>]` keys of the news channel besides the common ones."""

    # The envelope account: which intake desk these articles belong to.
    account: str = "media"
    # Feed URLs (strings) or {url, name} tables; several feeds per instance.
    feeds: tuple[str | FeedSource, ...]
    # An article must mention one keyword (if any are set) AND one region name (if any are set);
    # matching is case-insensitive on whole words of the title, summary, content and tags.
    keywords: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    # Remembered links per feed; links still in the feed are never forgotten, so this only bounds history.
    seen_limit: int = 500
    # Articles published per checkpoint.
    page_size: int = 20
    timeout: Duration = Duration(seconds=20)
    user_agent: str = "Kanal/1 news intake (+https://github.com/kanal)"
    # Store enclosure/thumbnail images in the object store (off: keep only their URLs).
    download_images: bool = False

    def sources(self) -> list[FeedSource]:
        """Every feed as a FeedSource."""
        return [f if isinstance(f, FeedSource) else FeedSource(url=f) for f in self.feeds]

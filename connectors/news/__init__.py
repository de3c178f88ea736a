"""The `news` channel: public complaints reported by the news media ("aspirasi publik media massa"), from RSS/Atom."""

from __future__ import annotations

from connectors.news.settings import NewsSettings
from connectors.spec import ChannelSpec

spec = ChannelSpec(
    id="news",
    mode="poll",
    summary="RSS/Atom news feeds filtered by keywords and Jakarta region names",
    settings=NewsSettings,
    connector="connectors.news.connector:NewsConnector",
    normaliser="connectors.news.normalise:normalise",
    requires=("feedparser", "httpx"),
    docs="connectors/news/README.md",
)

__all__ = ["NewsSettings", "spec"]

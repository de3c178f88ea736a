"""The `x` channel: mentions of the city's X account (@DKIJakarta), a recent-search query and direct messages."""

from __future__ import annotations

from connectors.spec import ChannelSpec
from connectors.x.settings import XSettings

spec = ChannelSpec(
    id="x",
    mode="poll",
    summary="X (Twitter) API v2: mentions, recent search and DMs, checkpointed by since_id per stream",
    settings=XSettings,
    connector="connectors.x.connector:XConnector",
    normaliser="connectors.x.normalise:normalise",
    requires=("tweepy", "requests"),
    docs="connectors/x/README.md",
)

__all__ = ["XSettings", "spec"]

"""The `x` channel: mentions of the city's X account (@DKIJakarta), a recent-search query and direct messages."""

from __future__ import annotations

from connectors.spec import ChannelSpec
from connectors.x.settings import XSettings

spec = ChannelSpec(
    id="x",
    mode="poll",  # the default; `mode = "webhook"` in the instance's settings serves the Account Activity webhook
    summary="X (Twitter): API v2 mentions, recent search and DMs by since_id per stream, or the Account Activity "
            "webhook (mode = \"webhook\")",
    settings=XSettings,
    connector="connectors.x.connector:XConnector",
    normaliser="connectors.x.normalise:normalise",
    requires=("tweepy", "requests"),
    docs="connectors/x/README.md",
)

__all__ = ["XSettings", "spec"]

"""The `lapor` channel: complaints SP4N-LAPOR! (lapor.go.id, SMS 1708) dispositions to the city."""

from __future__ import annotations

from connectors.lapor.settings import LaporSettings
from connectors.spec import ChannelSpec

spec = ChannelSpec(
    id="lapor",
    mode="poll",
    summary="SP4N-LAPOR! reports dispositioned to the city, checkpointed by (updated time, tracking id)",
    settings=LaporSettings,
    connector="connectors.lapor.connector:LaporConnector",
    normaliser="connectors.lapor.normalise:normalise",
    requires=("httpx",),
    docs="connectors/lapor/README.md",
)

__all__ = ["LaporSettings", "spec"]

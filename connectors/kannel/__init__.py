"""Kannel channel: SMS on the city's own number (GSM modem or operator SMPP link) through a Kannel gateway."""

from __future__ import annotations

from connectors.kannel.settings import KannelSettings
from connectors.spec import ChannelSpec

spec = ChannelSpec(
    id="kannel",
    mode="webhook",
    summary="SMS through a Kannel gateway: smsbox sms-service in (secret + allow-list), sendsms out with "
            "delivery reports",
    settings=KannelSettings,
    connector="connectors.kannel.connector:KannelConnector",
    normaliser="connectors.kannel.normalise:normalise",
    docs="connectors/kannel/README.md",
)

__all__ = ["KannelSettings", "spec"]

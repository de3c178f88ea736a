"""The public API for channel plugins: everything a channel needs, imported from here and nowhere else.

A plugin written against `kanal.plugin` keeps working while Kanal's internal layout (`connectors/`,
`schemas/`, `kanal/`) moves. The test kit is `kanal.plugin.testing` (it needs pytest, which a production
install does not have).

    from kanal.plugin import ChannelSpec, Envelope, NormaliseContext, Outcome, WebhookConnector
"""

from __future__ import annotations

from connectors.base import Accepted, Connector
from connectors.errors import BadPayload, PermanentError, RateLimited, SignatureError, TransientError
from connectors.outbound.sender import SendRefused
from connectors.poller import Page, PollingConnector, RawItem
from connectors.spec import ChannelSpec, Ignored, NormaliseContext, Outcome, Rejected
from connectors.webhook import WebhookConnector
from kanal.settings_types import Duration, Secret
from schemas import Attachment, Envelope, Location, Reporter, Thread, envelope_id
from schemas.outbound import OutboundMessage, ReplyAddress

__all__ = [
    "Accepted",
    "Attachment",
    "BadPayload",
    "ChannelSpec",
    "Connector",
    "Duration",
    "Envelope",
    "Ignored",
    "Location",
    "NormaliseContext",
    "OutboundMessage",
    "Outcome",
    "Page",
    "PermanentError",
    "PollingConnector",
    "RateLimited",
    "RawItem",
    "Rejected",
    "ReplyAddress",
    "Reporter",
    "Secret",
    "SendRefused",
    "SignatureError",
    "Thread",
    "TransientError",
    "WebhookConnector",
    "envelope_id",
]

"""Connectors: the runtime every channel stands on, and one folder per built-in channel.

A channel is a `ChannelSpec` registered under the `kanal.connectors` entry-point group, a pure normaliser
(raw bytes -> Outcome of envelopes), and a WebhookConnector or PollingConnector subclass for its I/O.
See docs/plugins.md.
"""

from connectors.base import Accepted, Connector, Context
from connectors.errors import BadPayload, PermanentError, RateLimited, SignatureError, TransientError
from connectors.poller import Page, PollingConnector, RawItem
from connectors.spec import ChannelSpec, Ignored, InstanceSettings, NormaliseContext, Outcome, Rejected
from connectors.webhook import WebhookConnector

__all__ = [
    "Accepted",
    "BadPayload",
    "ChannelSpec",
    "Connector",
    "Context",
    "Ignored",
    "InstanceSettings",
    "NormaliseContext",
    "Outcome",
    "Page",
    "PermanentError",
    "PollingConnector",
    "RateLimited",
    "RawItem",
    "Rejected",
    "SignatureError",
    "TransientError",
    "WebhookConnector",
]

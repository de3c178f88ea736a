"""The contract kit for channel plugins (needs pytest): payload cases, webhook request cases, a harness on a
real nats-server, and a served instance whose NATS a test can kill. The `kanal` pytest plugin, installed with
Kanal, provides the server (`kanal_nats_url`).

    from kanal.plugin.testing import Case, ChannelContract, SignedRequest, WebhookContract
"""

from __future__ import annotations

from connectors.testkit import (
    Case,
    ChannelContract,
    Harness,
    HttpCase,
    PollerContract,
    Served,
    SignedRequest,
    WebhookContract,
    harness,
    served,
)

__all__ = ["Case", "ChannelContract", "Harness", "HttpCase", "PollerContract", "Served", "SignedRequest",
           "WebhookContract", "harness", "served"]

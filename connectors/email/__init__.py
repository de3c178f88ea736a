"""The `email` channel: complaints sent to a city mailbox (e.g. dki@jakarta.go.id), read over IMAP."""

from __future__ import annotations

from connectors.email.settings import EmailSettings
from connectors.spec import ChannelSpec

spec = ChannelSpec(
    id="email",
    mode="poll",
    summary="IMAP mailbox (IDLE or polling), checkpointed by UIDVALIDITY + UID",
    settings=EmailSettings,
    connector="connectors.email.connector:EmailConnector",
    normaliser="connectors.email.normalise:normalise",
    requires=("imapclient", "bs4"),
    docs="connectors/email/README.md",
)

__all__ = ["EmailSettings", "spec"]

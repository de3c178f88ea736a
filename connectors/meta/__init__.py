"""Channel `meta`: Facebook page (Messenger and feed), Instagram and WhatsApp Cloud API on one app webhook."""

from __future__ import annotations

from connectors.meta.settings import MetaSettings
from connectors.spec import ChannelSpec

spec = ChannelSpec(
    id="meta",
    mode="webhook",
    summary="Facebook page, Instagram and WhatsApp Cloud API (one Meta app webhook)",
    settings=MetaSettings,
    connector="connectors.meta.connector:MetaConnector",
    normaliser="connectors.meta.normalise:normalise",
    requires=("httpx",),
    docs="connectors/meta/README.md",
)

__all__ = ["MetaSettings", "spec"]

"""Twilio channel: SMS and WhatsApp messages pushed to one form-encoded webhook, answered with TwiML."""

from __future__ import annotations

from connectors.spec import ChannelSpec
from connectors.twilio.settings import TwilioSettings

spec = ChannelSpec(
    id="twilio",
    mode="webhook",
    summary="Twilio SMS and WhatsApp inbound webhook (X-Twilio-Signature checked, TwiML acknowledgement)",
    settings=TwilioSettings,
    connector="connectors.twilio.connector:TwilioConnector",
    normaliser="connectors.twilio.normalise:normalise",
    requires=("twilio",),
    docs="connectors/twilio/README.md",
    signs_url=True,  # X-Twilio-Signature covers the full URL Twilio called
)

__all__ = ["TwilioSettings", "spec"]

"""The contract kit on the Twilio channel, with bodies in Twilio's wire format."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from connectors.twilio import spec
from kanal.plugin import Outcome
from kanal.plugin.testing import Case, ChannelContract, SignedRequest, WebhookContract
from tests.connectors.twilio.cases import CITIZEN, NUMBER, sms, status, whatsapp, whatsapp_location
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, form, sign

FORM = "application/x-www-form-urlencoded"


def _sms_ok(outcome: Outcome) -> None:
    (env,) = outcome.envelopes
    assert env.kind == "sms" and env.reporter.contact == CITIZEN and "Kemang" in env.text and "🙏" in env.text


def _wa_ok(outcome: Outcome) -> None:
    (env,) = outcome.envelopes
    assert env.kind == "direct_message" and env.reporter.contact == CITIZEN
    assert env.reporter.display_name == "Budi Santoso" and env.reporter.handle == f"whatsapp:{CITIZEN}"


def _pin_ok(outcome: Outcome) -> None:
    (env,) = outcome.envelopes
    assert env.location is not None and env.location.source == "provider"
    assert (env.location.lat, env.location.lon) == (-6.1753924, 106.8271528)
    assert env.location.address and env.location.address.startswith("Monas, Gambir")


class TestTwilioContract(ChannelContract, WebhookContract):
    spec = spec
    settings: ClassVar[dict[str, Any]] = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "account": NUMBER}
    secrets: ClassVar[list[str]] = [AUTH_TOKEN]
    cases: ClassVar[list[Case]] = [
        Case("sms_indonesian_emoji", raw=sms(), account=NUMBER, count=1, check=_sms_ok, media_type=FORM),
        Case("whatsapp_text", raw=whatsapp(), account=NUMBER, count=1, check=_wa_ok, media_type=FORM),
        Case("whatsapp_location", raw=whatsapp_location(), account=NUMBER, count=1, check=_pin_ok,
             media_type=FORM),
        Case("status_callback", raw=status(), account=NUMBER, expect="ignored", count=1, media_type=FORM),
        Case("no_message_sid", raw=form({"From": CITIZEN, "Body": "halo"}), account=NUMBER,
             expect="bad_payload", media_type=FORM),
        Case("latitude_not_a_number", raw=sms(Latitude="utara", Longitude="106.8"), account=NUMBER,
             expect="bad_payload", media_type=FORM),
        Case("not_utf8", raw=b"Body=\xff\xfe&MessageSid=SMx", account=NUMBER, expect="bad_payload",
             media_type=FORM),
    ]
    testdata = Path(__file__).parent / "testdata"

    def sign(self, request: SignedRequest) -> dict[str, str]:
        """Twilio's signing step: X-Twilio-Signature over the URL it called and the form's parameters."""
        return {"X-Twilio-Signature": sign(request.url, parse_qsl(request.body.decode(), keep_blank_values=True))}

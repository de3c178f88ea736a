"""The contract kit on the Kannel channel, with requests in smsbox's get-url form."""

from __future__ import annotations

from typing import Any, ClassVar

from connectors.kannel import spec
from connectors.kannel.normalise import MEDIA_TYPE
from connectors.spec import Outcome
from connectors.testkit import Case, ChannelContract
from tests.connectors.kannel.cases import CITIZEN_E164, CITY_E164, SECRET, raw


def _sms_ok(outcome: Outcome) -> None:
    (env,) = outcome.envelopes
    assert env.kind == "sms" and env.visibility == "private" and env.reporter.contact == CITIZEN_E164
    assert env.text == "Jalan rusak di Kemang" and env.external_id == "3671240a-c2e9-401f-9e8f-797599d6f733"


def _ucs2_ok(outcome: Outcome) -> None:
    (env,) = outcome.envelopes
    assert env.text == "Banjir di Kemang 😢🙏" and not env.flags


class TestKannelContract(ChannelContract):
    spec = spec
    settings: ClassVar[dict[str, Any]] = {"secret": SECRET, "account": CITY_E164}
    secrets: ClassVar[list[str]] = [SECRET]
    cases: ClassVar[list[Case]] = [
        Case("sms_gsm", raw=raw(), account=CITY_E164, count=1, check=_sms_ok, media_type=MEDIA_TYPE),
        Case("sms_ucs2_raw", raw=raw("Banjir di Kemang 😢🙏".encode("utf-16-be"), coding="2", charset="UTF-16BE",
                                     id="a0197854-bcc2-482d-ad16-f8662d8cc0e0"),
             account=CITY_E164, count=1, check=_ucs2_ok, media_type=MEDIA_TYPE),
        Case("empty_sms", raw=raw(""), account=CITY_E164, expect="ignored", media_type=MEDIA_TYPE),
        Case("no_sender", raw=raw(**{"from": ""}), account=CITY_E164, expect="bad_payload", media_type=MEDIA_TYPE),
        Case("not_a_form", raw="text=caf\u00e9".encode(), account=CITY_E164, expect="bad_payload",
             media_type=MEDIA_TYPE),
    ]

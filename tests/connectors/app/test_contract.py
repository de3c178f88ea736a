"""The contract kit on the app channel: payload cases are validated submissions, as the connector publishes
them; request cases (testdata/*.json) are whole multipart requests to the API. The API is public (citizens'
phones): no signing step, so no refused-signature case."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from connectors.app import spec
from connectors.app.submission import AppPoint, AppReporter, AppSubmission, encode
from connectors.spec import Outcome
from connectors.testkit import Case, ChannelContract, WebhookContract
from schemas import Attachment

AT = datetime(2026, 11, 24, 2, 55, tzinfo=UTC)
PHOTO = Attachment(kind="image", media_type="image/jpeg", size=48213, sha256="ab" * 32, name="IMG_0412.jpg",
                   object_key="ab" * 32)

GEOTAGGED = encode(AppSubmission(
    key="6f1c2b1e-8d7a-4c3e-9b1f-2a7d5e9c0b11", submitted_at=AT, description="Jalan berlubang di depan halte",
    category="jalan", visibility="public",
    reporter=AppReporter(name="Budi Santoso", phone="+6281234567890", nik="3171010101010001", anonymous=True),
    location=AppPoint(lat=-6.175392, lon=106.827153, source="exif"), address="depan Halte Monas",
    photos=(PHOTO,), taken_at=AT,
))
NO_LOCATION = encode(AppSubmission(
    key="3b9d0f8a1c2e4d5f", submitted_at=AT, description="Sampah menumpuk", reporter=AppReporter(
        email="siti.rahma@example.id"), address="Jl. Kramat Raya 5", photos=(PHOTO,),
))


def _geotagged(outcome: Outcome) -> None:
    (env,) = outcome.envelopes
    assert env.kind == "report" and env.visibility == "public" and env.reporter.anonymous is True
    assert env.location is not None and env.location.source == "exif" and env.location.address == "depan Halte Monas"
    assert env.reporter.contact == "+6281234567890" and env.reporter.nik == "3171010101010001"
    assert env.external_id == "6f1c2b1e-8d7a-4c3e-9b1f-2a7d5e9c0b11" and env.attachments == (PHOTO,)


def _no_location(outcome: Outcome) -> None:
    (env,) = outcome.envelopes
    assert env.location is None and env.text.endswith("Alamat: Jl. Kramat Raya 5")
    assert env.reporter.contact == "siti.rahma@example.id" and env.visibility == "private"


class TestAppContract(ChannelContract, WebhookContract):
    spec = spec
    settings: ClassVar[dict[str, Any]] = {"account": "jaki"}
    cases: ClassVar[list[Case]] = [
        Case("geotagged public anonymous", raw=GEOTAGGED, account="jaki", count=1, check=_geotagged),
        Case("no location, e-mail contact", raw=NO_LOCATION, account="jaki", count=1, check=_no_location),
        Case("not a submission", raw=b'{"description": "x"}', account="jaki", expect="bad_payload"),
        Case("bad nik", raw=GEOTAGGED.replace(b"3171010101010001", b"31710101"), account="jaki",
             expect="bad_payload"),
    ]
    testdata = Path(__file__).parent / "testdata"

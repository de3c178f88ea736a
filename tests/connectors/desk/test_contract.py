"""The contract kit on the desk channel: payload cases are validated submissions, as the desk connector
publishes them; request cases (testdata/*.json) are the officer's form posts, whose signing step is the
officer's signed session cookie (as Starlette's SessionMiddleware writes it after a login)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import itsdangerous

from connectors.desk import spec
from connectors.desk.submission import DeskSubmission, encode
from connectors.spec import Outcome
from connectors.testkit import Case, ChannelContract, SignedRequest, WebhookContract
from schemas import Attachment
from tests.connectors.desk.helpers import GAMBIR, SESSION_SECRET

INSTANCE = "desk-kec-gambir"
CSRF = "kit-csrf-token-0123456789"  # the session's token; the cases' forms carry it (or, to be refused, another)
AT = datetime(2026, 11, 24, 2, 55, tzinfo=UTC)
SCAN = Attachment(kind="document", media_type="application/pdf", size=51200, sha256="cd" * 32,
                  name="surat.pdf", object_key="cd" * 32)
WALK_IN = encode(DeskSubmission(
    key="0f" * 16, submitted_at=AT, officer="petugas", office_code="317101", office_name="Kecamatan Gambir",
    office_kind="kecamatan", name="Siti Rahma", nik="3171014505900002", contact="+6281299887766",
    description="Lampu jalan mati sejak seminggu", address="Jl. Tanah Abang II", attachments=(SCAN,),
))
BALAI_KOTA = encode(DeskSubmission(
    key="1e" * 16, submitted_at=AT, officer="petugas", office_code="31", office_name="Balai Kota DKI Jakarta",
    office_kind="balai_kota", region_code="3175", region_name="Jakarta Utara", anonymous=True,
    description="Banjir setinggi lutut", category="banjir",
))


def _walk_in(outcome: Outcome) -> None:
    (env,) = outcome.envelopes
    assert (env.kind, env.visibility, env.account, env.external_id) == ("walk_in", "private", "317101", "0f" * 16)
    assert env.reporter.nik == "3171014505900002" and env.reporter.contact == "+6281299887766"
    assert env.attachments == (SCAN,) and "Alamat: Jl. Tanah Abang II" in env.text


def _balai_kota(outcome: Outcome) -> None:
    (env,) = outcome.envelopes
    assert env.reporter.anonymous is True and env.reporter.display_name is None
    assert env.text.endswith("Wilayah: Jakarta Utara") and env.category == "banjir"


class TestDeskContract(ChannelContract, WebhookContract):
    spec = spec
    settings: ClassVar[dict[str, Any]] = {k: v for k, v in GAMBIR.items() if not k.startswith("max_")}
    secrets: ClassVar[list[str]] = [GAMBIR["session_secret"], GAMBIR["officers"]["petugas"]]
    cases: ClassVar[list[Case]] = [
        Case("walk-in with NIK, contact and a scan", raw=WALK_IN, account="317101", count=1, check=_walk_in),
        Case("balai kota, anonymous, region", raw=BALAI_KOTA, account="31", count=1, check=_balai_kota),
        Case("submission for another office", raw=WALK_IN, account="317106", expect="bad_payload"),
        Case("not a submission", raw=b"[]", account="317101", expect="bad_payload"),
    ]
    testdata = Path(__file__).parent / "testdata"
    instance = INSTANCE

    def sign(self, request: SignedRequest) -> dict[str, str]:
        """The officer's step: the session cookie a login at this desk gives (desk, office, officer, CSRF token)."""
        session = {"desk": INSTANCE, "office": GAMBIR["office_code"], "user": "petugas", "csrf": CSRF, "receipts": []}
        signed = itsdangerous.TimestampSigner(SESSION_SECRET).sign(base64.b64encode(json.dumps(session).encode()))
        return {"cookie": f"kanal_desk_{INSTANCE}={signed.decode()}"}

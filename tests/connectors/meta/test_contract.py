"""The contract kit on Meta's real-format cases."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any, ClassVar

from connectors.meta import spec
from kanal.plugin.testing import Case, ChannelContract, SignedRequest, WebhookContract
from tests.connectors.meta.cases import CASES

SETTINGS: dict[str, Any] = {"app_secret": "meta-app-secret-123456", "verify_token": "meta-verify-token-123456",
                            "access_token": "EAAG-contract-token-123456"}


class TestMetaContract(ChannelContract, WebhookContract):
    spec = spec
    settings: ClassVar[dict[str, Any]] = SETTINGS
    secrets: ClassVar[list[str]] = ["meta-app-secret-123456", "meta-verify-token-123456",
                                    "EAAG-contract-token-123456"]
    cases: ClassVar[list[Case]] = CASES
    testdata = Path(__file__).parent / "testdata"

    def sign(self, request: SignedRequest) -> dict[str, str]:
        """Meta's step: X-Hub-Signature-256, an HMAC-SHA256 of the exact body with the app secret."""
        digest = hmac.new(SETTINGS["app_secret"].encode(), request.body, hashlib.sha256).hexdigest()
        return {"x-hub-signature-256": f"sha256={digest}"}

"""The contract kit on Meta's real-format cases."""

from __future__ import annotations

from typing import Any, ClassVar

from connectors.meta import spec
from connectors.testkit import Case, ChannelContract
from tests.connectors.meta.cases import CASES

SETTINGS: dict[str, Any] = {"app_secret": "meta-app-secret-123456", "verify_token": "meta-verify-token-123456",
                            "access_token": "EAAG-contract-token-123456"}


class TestMetaContract(ChannelContract):
    spec = spec
    settings: ClassVar[dict[str, Any]] = SETTINGS
    secrets: ClassVar[list[str]] = ["meta-app-secret-123456", "meta-verify-token-123456",
                                    "EAAG-contract-token-123456"]
    cases: ClassVar[list[Case]] = CASES

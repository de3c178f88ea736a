"""pytest plugin `kanal`: a real nats-server for the contract kit (`kanal_nats_url`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kanal.testing import nats_server


@pytest.fixture(scope="session")
def kanal_nats_url() -> Iterator[str]:
    """URL of a real nats-server with JetStream, started once per test session."""
    with nats_server() as server:
        yield server.url

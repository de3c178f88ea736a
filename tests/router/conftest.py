"""Fixtures of the router's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from kanal.config import Config
from router.service import Router
from tests.router.fixtures import write_rules
from tests.router.helpers import make_router


@pytest.fixture
async def router(provisioned: NATS, config: Config, tmp_path: Path) -> Router:
    """An in-process router, started on the session server with the test rules (tests/router/fixtures.py)."""
    return await make_router(provisioned, config, write_rules(tmp_path))

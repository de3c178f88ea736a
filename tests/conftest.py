"""Shared fixtures: one real nats-server per test session, JetStream wiped and provisioned per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from kanal import bus, log
from kanal.config import Config
from kanal.testing import connected, make_config, reset_jetstream

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_path(*parts: str) -> Path:
    """A file in ../shared, or skip the test saying it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present: ../shared is not beside this clone")
    return path


@pytest.fixture(scope="session", autouse=True)
def _logging() -> None:
    log.configure("debug", "json")


@pytest.fixture(scope="session")
def nats_url(kanal_nats_url: str) -> str:
    """URL of the real nats-server with JetStream the session shares (from the `kanal` pytest plugin)."""
    return kanal_nats_url


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    """A connection to the session server with every stream deleted and Kanal's streams provisioned."""
    async with connected(nats_url) as client:
        await reset_jetstream(client)
        yield client


@pytest.fixture
def config(nats_url: str, tmp_path: Path) -> Config:
    """A Config for the session server with state under tmp_path."""
    return make_config(nats_url, tmp_path)


@pytest.fixture
async def provisioned(nc: NATS, config: Config) -> NATS:
    """`nc`, after Kanal's streams, KV buckets and object store are created."""
    await bus.provision(nc.jetstream(), config)
    return nc

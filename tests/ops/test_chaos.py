"""bench/chaos.py at a small size: node, router and connector SIGKILLed mid-load, then NATS fully down (the
webhook and the poller both taking input meanwhile); every envelope once, unaltered, and no program dies."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _chaos() -> object:
    spec = importlib.util.spec_from_file_location("kanal_chaos", ROOT / "bench" / "chaos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
async def test_nothing_is_lost_or_doubled_through_kills_and_a_full_outage(tmp_path: Path) -> None:
    chaos = _chaos()
    result = await chaos.run(n=300, outage=3.0, work=tmp_path, say=lambda _line: None,  # type: ignore[attr-defined]
                             duration=12.0)
    assert result.sent == 300 and result.outage_sent >= 10 and result.outage_feed >= 10
    assert result.exits == [], chaos.report(result)  # type: ignore[attr-defined]  # nothing died by itself
    assert result.lost_before_router == 0, "connectors (spool, checkpoints) lost envelopes"
    assert result.doubled == 0 and result.unexpected == 0 and result.altered == 0
    assert result.lost == 0 and result.routed_ids == result.expected, chaos.report(result)  # type: ignore[attr-defined]

"""Polling connectors: a loop with a declared cursor, checkpointed only after JetStream acknowledged.

A subclass says how to read one page after a cursor; the runtime does the rest: the lease (one active
replica), the checkpoint, rate limits and backoff, `--once`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeVar

import msgspec

from connectors.base import Connector
from connectors.checkpoint import Checkpoints
from connectors.errors import BadPayload, TransientError

S = TypeVar("S", bound=msgspec.Struct)
C = TypeVar("C", bound=msgspec.Struct)


@dataclass
class RawItem:
    """One provider item as bytes, with the account it was addressed to."""

    data: bytes
    account: str
    media_type: str = "application/json"


@dataclass
class Page(Generic[C]):
    """Items read after the previous cursor, and the cursor to save once they are all published."""

    items: list[RawItem]
    cursor: C
    more: bool = False
    notes: dict[str, str] = field(default_factory=dict)


class PollingConnector(Connector[S], Generic[S, C]):
    """Subclasses set `cursor_type` and implement `pages()`; override `wait()` for push-style waits (IDLE)."""

    cursor_type: ClassVar[type[msgspec.Struct]]

    def pages(self, cursor: C | None) -> AsyncIterator[Page[C]]:
        """Yield pages after `cursor`, oldest first, until the provider has nothing newer."""
        raise NotImplementedError

    async def wait(self, stop: asyncio.Event) -> None:
        """Wait before the next pass: `poll_interval`, cut short by `stop`."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self.ctx.common.poll_interval.total_seconds())

    async def run_pass(self, checkpoints: Checkpoints, stop: asyncio.Event) -> int:
        """One pass: read every page after the saved cursor, publish, checkpoint each page. Returns envelopes."""
        cursor = await checkpoints.load(self.cursor_type)
        published = 0
        async for page in self.pages(cursor):  # type: ignore[arg-type]
            for item in page.items:
                try:
                    accepted = await self.take(item.data, item.account, item.media_type, require_ack=True)
                except BadPayload:
                    continue  # dead-lettered with its reason
                published += len(accepted.envelopes)
            await checkpoints.save(page.cursor)
            self.log.info("page_done", items=len(page.items), cursor=msgspec.json.encode(page.cursor).decode())
            if stop.is_set():
                break
        self.ctx.health.success(credentials_used=True)
        return published


def backoff_delay(error: TransientError, failures: int, base: float = 1.0, cap: float = 300.0) -> float:
    """Wait until the provider's announced reset, else exponential backoff from `base` up to `cap`."""
    if error.retry_at is not None:
        return error.wait_seconds(base) + 0.5
    return float(min(cap, base * 2 ** max(0, failures - 1)))

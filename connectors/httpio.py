"""Small HTTP helpers every provider client needs: a size-capped body read and the Retry-After header."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import httpx


class TooLarge(Exception):
    """A response body is larger than the limit; `size` is what was declared or read so far."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"more than {limit} bytes (at least {size})")


async def read_limited(response: httpx.Response, limit: int) -> bytes:
    """The body of a streamed response, refused as soon as it passes `limit` (declared or actual)."""
    declared = int(response.headers.get("content-length") or 0)
    if declared > limit:
        raise TooLarge(declared, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise TooLarge(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def retry_at(value: str | None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as a UNIX time, or None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return time.time() + int(value)
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None

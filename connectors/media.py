"""Provider media into the NATS object store: downloaded with the channel's credentials, keyed by sha256.

Provider URLs (Twilio, Meta) need auth and expire, so media is fetched at intake. A download that fails
after its retries still yields an Attachment, with the error recorded: never silently dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from nats.errors import Error as NatsError
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.object_store import ObjectStore

from connectors.httpio import TooLarge, read_limited
from connectors.mediatypes import kind_of
from kanal import bus, log
from schemas import Attachment, subjects


class MediaTooLarge(Exception):
    """The media is larger than the instance's `media_max_bytes`."""


class MediaStore:
    """Stores bytes in bucket `kanal_media` under their sha256 and fetches provider URLs into it."""

    def __init__(self, js: JetStreamContext | None, max_bytes: int, http: httpx.AsyncClient | None = None,
                 attempts: int = 3, backoff: float = 0.5,
                 fallback: Callable[[str, bytes], Awaitable[None]] | None = None) -> None:
        self.js = js
        # Where bytes go when the object store cannot take them now (the connector's spool): they are stored
        # under the same sha256 key once NATS is back, so the envelope can point at them already.
        self.fallback = fallback
        self.max_bytes = max_bytes
        self.http = http or httpx.AsyncClient(timeout=30, follow_redirects=True)
        self.attempts = attempts
        self.backoff = backoff
        self._store: ObjectStore | None = None
        self._log = log.get("media")

    async def _bucket(self) -> ObjectStore:
        if self._store is None:
            if self.js is None:
                raise ConnectionError("NATS is not connected; media cannot be stored yet")
            self._store = await bus.ensure_object_store(self.js, subjects.OBJ_MEDIA)
        return self._store

    async def put(self, data: bytes, media_type: str | None, name: str | None = None,
                  source_url: str | None = None) -> Attachment:
        """Store bytes (once per sha256) and describe them as an Attachment."""
        if len(data) > self.max_bytes:
            raise MediaTooLarge(f"{len(data)} bytes is over the limit of {self.max_bytes}")
        digest = hashlib.sha256(data).hexdigest()
        try:
            store = await self._bucket()
            try:
                await store.get_info(digest)
            except NotFoundError:
                await store.put(digest, data)
        except (NatsError, ConnectionError, OSError) as err:  # NATS away or slow: never lose the bytes
            if self.fallback is None:
                raise
            self._log.warning("media_store_unavailable_spooled", key=digest, size=len(data), error=repr(err))
            await self.fallback(digest, data)
        return Attachment(kind=kind_of(media_type), media_type=media_type, size=len(data), sha256=digest,
                          name=name, object_key=digest, source_url=source_url)

    async def get(self, key: str) -> bytes:
        """The stored bytes of an object key."""
        result = await (await self._bucket()).get(key)
        return result.data or b""

    async def fetch(self, url: str, *, media_type: str | None = None, name: str | None = None,
                    auth: Any = None, headers: dict[str, str] | None = None) -> Attachment:
        """Download `url` into the store; on final failure an Attachment with `error` and `source_url`."""
        last_error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                data, content_type = await self._download(url, auth, headers)
            except MediaTooLarge as err:
                last_error = f"too_large: {err}"
                break
            except httpx.HTTPStatusError as err:
                last_error = f"http_{err.response.status_code}"
                if err.response.status_code in (401, 403, 404, 410):
                    break
            except (httpx.HTTPError, ConnectionError, OSError) as err:
                last_error = f"network: {err!r}"
            else:  # downloaded: storing it is the store's (or the spool's) job, never a download failure
                return await self.put(data, media_type or content_type, name, url)
            await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        self._log.warning("media_download_failed", url=url, error=last_error)
        return Attachment(kind=kind_of(media_type), media_type=media_type, name=name, source_url=url,
                          error=f"download failed: {last_error}")

    async def _download(self, url: str, auth: Any, headers: dict[str, str] | None) -> tuple[bytes, str | None]:
        async with self.http.stream("GET", url, auth=auth, headers=headers) as response:
            response.raise_for_status()
            try:
                data = await read_limited(response, self.max_bytes)
            except TooLarge as err:
                raise MediaTooLarge(str(err)) from err
            content_type = response.headers.get("content-type")
            return data, content_type.split(";")[0].strip() if content_type else None

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()

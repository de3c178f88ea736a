"""Polls LAPOR! for reports changed after the cursor (update time, tracking id), oldest change first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from msgspec import Struct

from connectors.errors import PermanentError, RateLimited, TransientError
from connectors.httpio import retry_at
from connectors.lapor import mapping
from connectors.lapor.settings import LaporSettings
from connectors.poller import Page, PollingConnector, RawItem


class LaporCursor(Struct, frozen=True, kw_only=True):
    """The last report published: its update time and tracking id (two reports may share one second)."""

    updated_at: datetime
    tracking_id: str


class LaporConnector(PollingConnector[LaporSettings, LaporCursor]):
    """GET the list endpoint after the cursor, page by page; checkpoint the last (updated, id) published."""

    cursor_type = LaporCursor

    async def start(self) -> None:
        scheme = self.settings.auth_scheme
        value = f"{scheme} {self.settings.token.reveal()}" if scheme else self.settings.token.reveal()
        self.auth = {self.settings.auth_header: value}
        self.http = httpx.AsyncClient(base_url=self.settings.base_url.rstrip("/"), headers={
            **self.auth, "Accept": "application/json"}, timeout=self.settings.timeout.total_seconds())
        self.media_hosts = {urlsplit(self.settings.base_url).hostname, *self.settings.media_auth_hosts}

    async def close(self) -> None:
        await self.http.aclose()

    def media_request(self, url: str) -> dict[str, Any]:
        """Attachments on LAPOR!'s own hosts need the token; others get nothing."""
        return {"headers": self.auth} if urlsplit(url).hostname in self.media_hosts else {}

    async def pages(self, cursor: LaporCursor | None) -> AsyncIterator[Page[LaporCursor]]:
        if cursor is None:
            after = mapping.key(datetime.now(UTC) - self.settings.first_run_lookback, "")
            params = {mapping.PARAM_UPDATED_AFTER: after[0].isoformat()}
        else:
            after = mapping.key(cursor.updated_at, cursor.tracking_id)
            params = {mapping.PARAM_UPDATED_AFTER: cursor.updated_at.isoformat(),
                      mapping.PARAM_AFTER_ID: cursor.tracking_id}
        while True:
            raws = await self._list({**params, mapping.PARAM_LIMIT: str(self.settings.page_size)})
            keyed = [(mapping.order_key(bytes(r)), bytes(r)) for r in raws]
            fresh = sorted(((k, r) for k, r in keyed if k is not None and k > after), key=lambda kr: kr[0])
            broken = [r for k, r in keyed if k is None]  # the normaliser dead-letters them
            if not fresh:
                if broken:  # dead-lettered (each stored once: the DLQ's message id is its bytes' hash)
                    self.log.warning("lapor_unreadable_reports", count=len(broken),
                                     hint="reports without tracking_id/tanggal_*: check connectors/lapor/mapping.py")
                    if cursor is not None:
                        yield Page(items=[RawItem(r, self.settings.account) for r in broken], cursor=cursor)
                return
            last, _ = fresh[-1]
            cursor = LaporCursor(updated_at=last[0], tracking_id=last[2])
            self.log.info("lapor_page_read", reports=len(fresh), until=cursor.updated_at.isoformat(),
                          tracking_id=cursor.tracking_id)
            yield Page(items=[RawItem(r, self.settings.account) for _, r in fresh]
                       + [RawItem(r, self.settings.account) for r in broken], cursor=cursor)
            if len(raws) < self.settings.page_size:
                return
            after = last
            params = {mapping.PARAM_UPDATED_AFTER: cursor.updated_at.isoformat(),
                      mapping.PARAM_AFTER_ID: cursor.tracking_id}

    async def _list(self, params: dict[str, str]) -> list[Any]:
        try:
            response = await self.http.get(mapping.LIST_PATH, params=params)
        except httpx.HTTPError as err:
            raise TransientError(f"LAPOR! unreachable: {err!r}") from err
        if response.status_code in (401, 403):
            raise PermanentError(f"LAPOR! refused the token ({response.status_code})", credentials=True,
                                 hint="ask the LAPOR! admin (admin@lapor.go.id) for a valid integration token "
                                      "and set `token`")
        if response.status_code == 404:
            raise PermanentError("LAPOR! has no list endpoint at this URL (404)",
                                 hint="check `base_url`, and LIST_PATH in connectors/lapor/mapping.py")
        if response.status_code == 429:
            raise RateLimited("LAPOR! rate limit (429)", retry_at=retry_at(response.headers.get("retry-after")))
        if response.status_code >= 400:
            raise TransientError(f"LAPOR! answered {response.status_code}")
        try:
            return mapping.page_items(response.content)
        except Exception as err:  # a list we cannot read at all: retry later rather than move the cursor
            raise TransientError(f"LAPOR! list response unreadable: {err!r}") from err


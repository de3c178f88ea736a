"""The IMAP poller: pages of UIDs oldest first, checkpoint (UIDVALIDITY, last UID), IDLE between passes.

A UIDVALIDITY change (mailbox rebuilt, server migrated) invalidates every UID: the mailbox is read again from
the start. Envelope ids come from Message-ID + content digest, never from UIDs, so mail read again gets the
ids it had and JetStream/router dedup drop the repeats; nothing is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import msgspec

from connectors.base import Accepted
from connectors.email import mime
from connectors.email.client import Mailbox
from connectors.email.normalise import MEDIA_TYPE, PART_URL, ImapItem, encode_item, unwrap
from connectors.email.settings import EmailCursor, EmailSettings
from connectors.errors import TransientError
from connectors.media import MediaTooLarge
from connectors.poller import Page, PollingConnector, RawItem
from schemas import Attachment, Envelope
from schemas.outbound import OutboundMessage


class EmailConnector(PollingConnector[EmailSettings, EmailCursor]):
    """Reads one mailbox; all imapclient calls run one at a time in a worker thread."""

    cursor_type = EmailCursor

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.box = Mailbox(self.settings)
        self._raw: bytes | None = None
        self._unmarked: tuple[int, list[int]] | None = None

    async def start(self) -> None:
        """Nothing to open yet: the first pass connects (and reports login failures as a pass failure)."""

    async def close(self) -> None:
        await asyncio.to_thread(self.box.close)

    async def send(self, message: OutboundMessage) -> str | None:
        """Answer the reporter by SMTP in the same thread (see sender.py; aiosmtplib loaded only here)."""
        from connectors.email.sender import SmtpSender

        return await SmtpSender(self.settings).send(message)

    async def pages(self, cursor: EmailCursor | None) -> AsyncIterator[Page[EmailCursor]]:
        """UIDs after the checkpoint in batches of `batch_size`, oldest first; flag/move after each page."""
        box = self.box
        await asyncio.to_thread(box.refresh)
        uidvalidity = box.uidvalidity
        last = 0
        fresh_start = True
        if cursor is not None and cursor.uidvalidity == uidvalidity:
            last = cursor.last_uid
            fresh_start = False
            await self._mark_leftover(cursor)
        elif cursor is not None:
            self.log.warning("uidvalidity_changed", old=cursor.uidvalidity, new=uidvalidity,
                             mailbox=self.settings.mailbox, action="reading the mailbox again; ids from "
                             "Message-ID keep already published mail from repeating")
        window = self.settings.first_run_since
        if fresh_start and window is not None:
            since = (datetime.now(UTC) - window).date()
            uids = await asyncio.to_thread(box.uids_since, since)
            self.log.info("first_run_window", since=since.isoformat(), messages=len(uids),
                          hint="first_run_since bounds how far back a first run reads")
        else:
            uids = await asyncio.to_thread(box.uids_after, last)
        size = self.settings.batch_size
        for start in range(0, len(uids), size):
            batch = uids[start:start + size]
            fetched = await asyncio.to_thread(box.fetch, batch)
            items = [RawItem(encode_item(ImapItem(mailbox=self.settings.mailbox, uidvalidity=uidvalidity,
                                                  uid=f.uid, internaldate=f.internaldate, rfc822=f.rfc822)),
                             self.settings.account, MEDIA_TYPE) for f in fetched]
            if len(fetched) < len(batch):  # expunged between SEARCH and FETCH: gone from the server
                self.log.info("messages_vanished", count=len(batch) - len(fetched))
            self._unmarked = (uidvalidity, [f.uid for f in fetched])
            yield Page(items=items, cursor=EmailCursor(uidvalidity=uidvalidity, last_uid=batch[-1]),
                       more=start + size < len(uids))
            # the runtime resumes us only after every item is acked and the cursor saved
            await self._after_publish()

    async def _mark_leftover(self, cursor: EmailCursor) -> None:
        """A page whose flag/move did not run (stopped right after its checkpoint) is handled now."""
        if self._unmarked and self._unmarked[0] == cursor.uidvalidity and self._unmarked[1] and \
                max(self._unmarked[1]) <= cursor.last_uid:
            await self._after_publish()

    async def _after_publish(self) -> None:
        pending, self._unmarked = self._unmarked, None
        if not pending or self.settings.after_publish == "none":
            return
        try:
            await asyncio.to_thread(self.box.after_publish, pending[1])
        except TransientError as err:  # published and checkpointed already: only the mark is missing
            self.log.warning("after_publish_failed", action=self.settings.after_publish, uids=len(pending[1]),
                             error=str(err))

    async def wait(self, stop: asyncio.Event) -> None:
        """IDLE until new mail (or `idle_timeout`, or stop); without IDLE support, sleep `poll_interval`."""
        if not (self.settings.idle and self.box.connected and self.box.can_idle):
            await super().wait(stop)
            return
        halt = threading.Event()
        mirror = asyncio.create_task(self._mirror(stop, halt))
        try:
            woke = await asyncio.to_thread(self.box.idle, self.settings.idle_timeout.total_seconds(), halt)
            self.log.debug("idle_done", new_mail=woke)
        except TransientError as err:  # connection lost while idling: the next pass reconnects
            self.log.info("idle_interrupted", error=str(err))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
        finally:
            halt.set()
            mirror.cancel()

    @staticmethod
    async def _mirror(stop: asyncio.Event, halt: threading.Event) -> None:
        await stop.wait()
        halt.set()

    async def _accept(self, raw: bytes, account: str, media_type: str, require_ack: bool) -> Accepted:
        """Keep the raw message at hand while its envelope is enriched (the parts are stored from it)."""
        self._raw = raw
        try:
            return await super()._accept(raw, account, media_type, require_ack)
        finally:
            self._raw = None

    async def enrich(self, envelope: Envelope) -> Envelope:
        """Store every attachment and inline image the normaliser described, from the message's own bytes."""
        wanted = [a for a in envelope.attachments if (a.source_url or "").startswith(PART_URL) and not a.object_key]
        if not wanted or self._raw is None:
            return envelope
        rfc822, _ = unwrap(self._raw)
        by_path = {p.path: p for p in mime.parts(mime.parse(rfc822))}
        stored: list[Attachment] = []
        for attachment in envelope.attachments:
            part = by_path.get((attachment.source_url or "")[len(PART_URL):])
            if part is None or attachment.object_key:
                stored.append(attachment)
                continue
            try:
                put = await self.ctx.media.put(part.payload(), attachment.media_type, attachment.name)
            except MediaTooLarge as err:
                stored.append(msgspec.structs.replace(attachment, error=f"too_large: {err}"))
                continue
            except Exception as err:  # object store unavailable: read this message again later
                raise TransientError(f"cannot store attachment {attachment.name!r}: {err!r}") from err
            stored.append(msgspec.structs.replace(put, kind=attachment.kind, source_url=attachment.source_url))
        return msgspec.structs.replace(envelope, attachments=tuple(stored))

"""The one reference index: report reference (KNL-...) -> the routed report, and the citizen's view of it.

The router records every routed report's reference once, in KV bucket `kanal_refs` (router/references.py
writes it); the status API (`GET /api/v1/reports/<ref>`), the status page and follow-up detection read it
here. `report_status` is the single entry point for what a citizen may see about a reference: the stage and
its history, never who reported it, and the text only of a public report that is not anonymous, with phone
numbers, NIKs and e-mail addresses masked.
"""

from __future__ import annotations

import re
from datetime import datetime

import msgspec
from msgspec import Struct
from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from kanal import bus, log
from kanal.log import mask_personal
from schemas import subjects
from schemas.envelope import Envelope, UtcTime
from schemas.errors import SchemaError
from schemas.status import STAGE_ORDER, STAGES, Stage, decode_status

REF = re.compile(r"^KNL-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")
MAX_HISTORY = 50  # status updates read per report (a report has seven stages; this bounds a misbehaving writer)


class RefRecord(Struct, frozen=True, kw_only=True):
    """What a reference points at. `id`, `at` and `channel` are the fields of the bucket's first version
    (written by the app and desk connectors), so their old entries still decode."""

    id: str  # the item (= envelope) id
    at: UtcTime  # when it was routed (first version: accepted)
    channel: str
    kind: str = "item"  # "item" or "duplicate" (a notice linked to `duplicate_of`)
    queue: str | None = None  # the queue it was routed to
    duplicate_of: str | None = None
    incident: str | None = None
    reporters: tuple[str, ...] = ()  # identity digests (router.similarity.reporter_keys): never the contact itself
    public_text: str | None = None  # the masked text, for a public report that is not anonymous only


class StageStep(Struct, frozen=True, kw_only=True):
    """One stage the report reached, and when."""

    stage: Stage
    label: str
    at: UtcTime


class PublicReport(Struct, frozen=True, kw_only=True):
    """What anyone holding the reference may see: no reporter field, no text of a private or anonymous report."""

    ref: str
    stage: Stage
    label: str
    colour: str
    updated_at: UtcTime
    routed_at: UtcTime
    channel: str
    text: str | None = None
    history: tuple[StageStep, ...] = ()


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DIGITS = re.compile(r"\+?\d[\d\s().-]{6,}\d")  # 8 or more digits, as phone numbers and NIKs are written


def _mask_digits(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = re.sub(r"\D", "", found)
    if len(digits) < 8:
        return found
    if len(digits) == 16:  # a NIK: nothing of it is shown
        return "*" * 16
    return mask_personal(digits)


def mask_text(text: str) -> str:
    """The text with e-mail addresses, phone numbers and NIKs masked (`budi@x.id` -> `b***@x.id`)."""
    return _DIGITS.sub(_mask_digits, _EMAIL.sub(lambda m: mask_personal(m.group(0)), text))


def public_text(env: Envelope) -> str | None:
    """The text a public view may show: only of a public report that is not anonymous, masked."""
    if env.visibility != "public" or env.reporter.anonymous:
        return None
    return mask_text(env.text) or None


def normalise_ref(raw: str) -> str | None:
    """A reference as typed ("knl-7q1z-be3a-0mtp", spaces around it) in its canonical form, or None."""
    ref = raw.strip().upper()
    return ref if REF.match(ref) else None


class References:
    """Reads bucket `kanal_refs`, opened on first use (NATS may connect after an HTTP server starts)."""

    def __init__(self) -> None:
        self._kv: KeyValue | None = None

    async def bucket(self, js: JetStreamContext | None) -> KeyValue:
        """Open (or create) the bucket; ConnectionError while NATS is not connected."""
        if self._kv is None:
            if js is None:
                raise ConnectionError("NATS is not connected yet; references cannot be looked up")
            self._kv = await bus.ensure_kv(js, subjects.KV_REFS)
        return self._kv

    async def lookup(self, js: JetStreamContext | None, ref: str) -> RefRecord | None:
        """The record of a reference, or None when no routed report has it."""
        kv = await self.bucket(js)
        try:
            entry = await kv.get(ref)
        except (KeyNotFoundError, NotFoundError):
            return None
        return msgspec.json.decode(entry.value, type=RefRecord) if entry.value else None

    async def report_status(self, js: JetStreamContext | None, raw_ref: str) -> PublicReport | None:
        """The public view of a reference, or None when it is not one or unknown. The one entry point for
        the status API and the status page."""
        ref = normalise_ref(raw_ref)
        if ref is None:
            return None
        record = await self.lookup(js, ref)
        if record is None:
            return None
        assert js is not None  # lookup succeeded, so NATS is connected
        # A duplicate notice is not handled itself: its report's stage is the first item's.
        history = await stage_history(js, record.duplicate_of or record.id)
        info = STAGES[STAGE_ORDER[history[-1].stage]] if history else STAGES[0]
        return PublicReport(ref=ref, stage=info.stage, label=info.label, colour=info.colour,
                            updated_at=history[-1].at if history else record.at, routed_at=record.at,
                            channel=record.channel, text=record.public_text, history=tuple(history))


async def stage_history(js: JetStreamContext, item_id: str) -> list[StageStep]:
    """The stages an item went through, oldest first (an unreadable update is skipped, not fatal)."""
    steps: list[StageStep] = []
    subject, seq = subjects.status(item_id), 1
    for _ in range(MAX_HISTORY):
        try:
            msg = await js.get_msg(subjects.STREAM_STATUS, seq=seq, subject=subject, next=True)
        except NotFoundError:
            break
        seq = (msg.seq or seq) + 1
        try:
            update = decode_status(msg.data or b"")
        except SchemaError as err:  # a malformed update must not hide the report
            log.get("references").warning("status_update_unreadable", item_id=item_id, seq=msg.seq, error=str(err))
            continue
        steps.append(StageStep(stage=update.stage, label=STAGES[STAGE_ORDER[update.stage]].label, at=update.at))
    return steps


def record_for(env: Envelope, *, item_id: str, kind: str, queue: str, at: datetime, duplicate_of: str | None,
               incident: str | None, reporters: list[str]) -> RefRecord:
    """The record the router writes for a routed report (pure; router/references.py stores it)."""
    return RefRecord(id=item_id, at=at, channel=env.channel, kind=kind, queue=queue, duplicate_of=duplicate_of,
                     incident=incident, reporters=tuple(reporters), public_text=public_text(env))

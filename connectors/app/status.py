"""A report's status by its reference: the ONE lookup behind `GET /api/v1/reports/<ref>` (JSON) and the
citizen's page `GET /laporan/<ref>` (HTML), plus the page itself and its rate limit.

What a citizen may see is only what the stages say: the stage, when each was reached, and the kelurahan a
stage change was made for. No reporter field, no report text and no officer's note is ever read into it, so
nothing personal can leak through the page, public report or private.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from msgspec import Struct
from nats.js.client import JetStreamContext

from kanal import wilayah
from kanal.localtime import ago, wib
from kanal.references import References
from schemas.status import STAGES, StageInfo

STAGE_INFO: dict[str, StageInfo] = {info.stage: info for info in STAGES}
MAX_HISTORY = 50  # a report has seven stages; more updates than this on one subject is not a citizen's concern


class Step(Struct, frozen=True, kw_only=True):
    """One stage reached, and when."""

    stage: str
    at: datetime


class ReportStatus(Struct, frozen=True, kw_only=True):
    """What the status of a report is made of (never who sent it or what it says)."""

    ref: str
    item_id: str
    accepted_at: datetime
    stage: str
    updated_at: datetime
    history: tuple[Step, ...] = ()
    queue: str | None = None  # the queue of the latest stage change (kelurahan.<code> names the kelurahan)


async def lookup(refs: References, js: JetStreamContext | None, ref: str, log: Any) -> ReportStatus | None:
    """The status of `ref`, or None for a reference nobody was given: the router's reference index read
    through `References.report_status`, the one public view the API answers too."""
    report = await refs.report_status(js, ref)
    if report is None:
        return None
    record = await refs.lookup(js, report.ref)
    if record is None:  # (removed between the two reads: as good as unknown)
        return None
    return ReportStatus(ref=report.ref, item_id=record.id, accepted_at=report.routed_at, stage=report.stage,
                        updated_at=report.updated_at,
                        history=(Step(stage="menunggu", at=report.routed_at),
                                 *(Step(stage=s.stage, at=s.at) for s in report.history)),
                        queue=record.queue)


class RateLimit:
    """At most `limit` page views per client address per `window` seconds (in memory, per process)."""

    def __init__(self, limit: int = 30, window: float = 60.0, max_clients: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self._hits: dict[str, list[float]] = {}

    def allow(self, client: str) -> bool:
        """Count one request of `client`; False when it is over the limit."""
        now = time.monotonic()
        if len(self._hits) >= self.max_clients:  # many addresses at once: forget the idle ones
            self._hits = {c: h for c, h in self._hits.items() if h and now - h[-1] < self.window}
        recent = [t for t in self._hits.get(client, []) if now - t < self.window]
        if len(recent) >= self.limit:
            self._hits[client] = recent
            return False
        self._hits[client] = [*recent, now]
        return True


_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape())
_ENV.filters["wib"] = wib


def page(status: ReportStatus | None, names: wilayah.Names, now: datetime, ref: str = "") -> str:
    """The citizen's page in Indonesian (`status` None: "tidak ditemukan", nothing else)."""
    place = None
    if status is not None and status.queue:
        code = names.code_of(status.queue)
        if code is not None and status.queue.startswith("kelurahan."):
            place = names.kelurahan(code) or code
    return _ENV.get_template("laporan.html").render(
        status=status, ref=ref, place=place, stages=STAGES, info=STAGE_INFO,
        reached={s.stage: s.at for s in status.history} if status else {},
        ago=lambda moment: ago(moment, now, "id"))

"""The console's office pages: my items, a queue's filtered list, the overview, an incident's members, and
the desk actions (take, hand over, release, merge, split). Console (admin/console.py) builds on this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from admin import assign, finder, i18n, merge, overview
from admin.geomap import GeoMap
from admin.index import Entry, QueueIndex
from admin.reason import Reason
from admin.settings import AdminSettings, AdminUser
from admin.status import stage_info
from admin.store import Handling, ItemNotFound, ItemStore, StoredItem, valid_queue
from kanal import wilayah

DESK_ACTIONS = ("take", "hand", "release", "merge", "split")


class Denied(Exception):
    """403: the signed-in admin may not see or act on that queue."""


class SignInFirst(Exception):
    """Nobody is signed in: the console answers with its sign-in page."""


@dataclass(frozen=True)
class Row:
    """An item as listed and shown: the stored message, what was done with it, its stage."""

    stored: StoredItem
    handling: Handling | None
    stage: str
    overdue: bool = False
    assignee: str | None = None

    @property
    def info(self) -> Any:
        return stage_info(self.stage)


class OfficePages:
    """Pages and actions over the index; the plumbing (`_page`, `_user` ...) is the Console's."""

    s: AdminSettings
    store: ItemStore
    index: QueueIndex
    deadlines: finder.Deadlines
    names: wilayah.Names
    geo: GeoMap | None
    now: Any

    def _page(self, request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        raise NotImplementedError

    def _lang(self, request: Request) -> str:
        raise NotImplementedError

    def tr(self, request: Request, text: str, **values: Any) -> str:
        raise NotImplementedError

    def _user(self, request: Request) -> tuple[str, AdminUser] | None:
        raise NotImplementedError

    def _signed_in(self, request: Request) -> tuple[str, AdminUser]:
        """The signed-in admin's name and settings; SignInFirst (-> the sign-in page) when nobody is."""
        me = self._user(request)
        if me is None:
            raise SignInFirst
        return me

    @staticmethod
    def _queue_param(request: Request, name: str, user: AdminUser) -> str:
        """The page's {queue}, once it is a queue name the admin may see (else 404 or 403)."""
        queue = str(request.path_params["queue"])
        if not valid_queue(queue):
            raise ItemNotFound(f"{queue!r} is not a queue name")
        if not user.allowed(queue):
            raise Denied(f"admin {name!r} is not allowed on queue {queue!r}")
        return queue

    def _flash(self, request: Request, kind: str, text: str) -> None:
        raise NotImplementedError

    async def _fetch(self, seqs: list[int]) -> list[StoredItem]:
        raise NotImplementedError

    async def _rows(self, stored: list[StoredItem]) -> list[Row]:
        raise NotImplementedError

    async def mine(self, request: Request) -> Response:
        """Every item the signed-in admin handles, across their queues."""
        name, user = self._signed_in(request)
        await self.index.refresh()
        entries = [e for e in self.index.open.values() if e.assignee == name and user.allowed(e.queue)]
        return await self._list(request, name, entries, queue=None)

    async def _list(self, request: Request, name: str, entries: list[Entry], *, queue: str | None) -> Response:
        """A filtered, paged list of entries (oldest first) with the filter form."""
        params = request.query_params
        error = None
        try:
            wanted = finder.parse(params, user=name)
        except finder.FilterError as err:
            wanted, error = finder.Filters(), str(err)
        show_all = params.get("all") == "1"
        now = self.now().timestamp()
        attached = self.index.attached  # a follow-up shows on its report's page, not as an entry of its own
        pool = [e for e in entries if (show_all or not e.handled) and not attached(e)]
        found = finder.select(pool, wanted, self.deadlines, now)
        size = self.s.page_size
        pages = max(1, -(-len(found) // size))
        try:
            page = min(max(1, int(params.get("page", "1"))), pages)
        except ValueError:
            page = 1
        shown = found[(page - 1) * size: page * size]
        by_seq = {e.seq: e for e in shown}
        rows = [Row(stored=r.stored, handling=r.handling, stage=r.stage, assignee=by_seq[r.stored.seq].assignee,
                    overdue=r.handling is None and self.deadlines.overdue(by_seq[r.stored.seq], now))
                for r in await self._rows(await self._fetch([e.seq for e in shown]))]
        query = {k: params[k] for k in (*finder.PARAMS, "all") if params.get(k)}
        return self._page(request, "queue.html", queue=queue, rows=rows, show_all=show_all, error=error,
                          total=sum(not attached(e) for e in entries),  # after `_fetch` forgot what is gone
                          open=sum(not e.handled and not attached(e) for e in entries), found=len(found),
                          page=page, pages=pages, query=query, filtered=wanted.active,
                          channels=sorted({e.channel for e in entries}),
                          categories=sorted({e.category for e in entries if e.category}),
                          overdue=sum(1 for e in pool if self.deadlines.overdue(e, now)))

    async def overview(self, request: Request) -> Response:
        """Figures, chart and map of every queue the admin may see."""
        _name, user = self._signed_in(request)
        await self.index.refresh()
        queues = [q for q in self.index.by_queue if user.allowed(q)]
        now = self.now()
        figures = overview.compute((e for q in queues for e in self.index.queue(q) if not self.index.attached(e)),
                                   self.deadlines, now)
        codes = [c for c in (self.names.code_of(q) for q in queues) if c]
        frame = overview.frame_of(self.geo, codes, figures.points)
        return self._page(request, "overview.html", o=figures,
                          chart=overview.chart(figures.per_day, self.tr(request, "Reports per day, last 30 days")),
                          map_svg=overview.map_svg(self.geo, frame, figures.points,
                                                   self.tr(request, "Map of open reports")),
                          to_done=i18n.duration(figures.median_to_done, self._lang(request))
                          if figures.median_to_done is not None else None)

    async def incident(self, request: Request) -> Response:
        """Every member of an incident across queues, with the live count (members in other queues counted)."""
        _name, user = self._signed_in(request)
        incident = request.path_params["incident"]
        await self.index.refresh()
        members = self.index.incident_members(incident)  # one per report, its first included, across queues
        if not members:
            raise ItemNotFound(f"no incident {incident!r}")
        if not any(user.allowed(e.queue) for e in members):
            raise Denied(f"no report of incident {incident!r} is in a queue you work on")
        visible = sorted((e for e in members if user.allowed(e.queue)), key=lambda e: e.routed)
        now = self.now().timestamp()
        by_seq = {e.seq: e for e in visible}
        rows = [Row(stored=r.stored, handling=r.handling, stage=r.stage, assignee=by_seq[r.stored.seq].assignee,
                    overdue=r.handling is None and self.deadlines.overdue(by_seq[r.stored.seq], now))
                for r in await self._rows(await self._fetch([e.seq for e in visible]))]
        return self._page(request, "incident.html", incident=incident, rows=rows, count=len(members),
                          hidden=len(members) - len(visible),
                          queues=sorted({e.queue for e in members if user.allowed(e.queue)}))

    async def _desk(self, request: Request, action: str, form: dict[str, str], stored: StoredItem, name: str,
                    user: AdminUser) -> None:
        """Assignment and merge actions of the item page (refusals raise AssignRefused / MergeRefused)."""
        note = form.get("note", "").strip() or None
        if action in ("take", "hand", "release"):
            to = form.get("to", "").strip() or None
            await assign.change(self.store, stored, self.s, action, by=name, to=to, note=note)  # type: ignore[arg-type]
            done = {"take": self.tr(request, "You handle this item now."),
                    "hand": self.tr(request, "Handed to %(who)s.", who=to or ""),
                    "release": self.tr(request, "Released: nobody handles this item.")}
            self._flash(request, "ok", done[action])
        elif action == "merge":
            target = await self._target(form.get("target", ""), user)
            await merge.merge(self.store, stored, target, by=name, user=user, why=form.get("why", ""))
            self._flash(request, "ok", self.tr(request, "Merged into %(ref)s.", ref=target.item.ref))
        elif action == "split":
            await merge.split(self.store, stored, by=name, user=user, why=form.get("why", ""))
            self._flash(request, "ok", self.tr(request, "Merge undone: this report stands on its own again."))

    async def _target(self, wanted: str, user: AdminUser) -> StoredItem:
        """The report named by its reference (KNL-...) or #sequence, in a queue the admin works on."""
        text = wanted.strip().lstrip("#")
        await self.index.refresh()
        if text.isdigit():
            seq = int(text)
        else:
            key = text.casefold()
            found = [e for entries in self.index.by_queue.values() for e in entries
                     if key and e.search.startswith(key) and user.allowed(e.queue) and not e.handled]
            if not found:
                raise merge.MergeRefused(Reason("no open report %(ref)r in your queues: give its reference "
                                                "(KNL-XXXX-XXXX-XXXX) or #number", ref=wanted))
            seq = found[-1].seq
        target = await self.store.get(seq)
        if not user.allowed(target.queue):
            raise merge.MergeRefused(Reason("#%(seq)s is in a queue you do not work on", seq=seq))
        return target

"""The console's category and Disposisi pages: correct an item's category, dispose it to the suku dinas of
its category, and the kelurahan's read-only list of what it disposed. Routes are added by Console.app().

POST /item/<seq>/kategori (category), POST /item/<seq>/disposisi (note), GET /q/<queue>/disposisi, and
GET /metrics/categories: the corrections per (from, to) as Prometheus text, for scraping like the router's
metrics (counts only, no item or person). Access to items and lists is the item's (or the listed) queue's,
as everywhere in the console; words are Indonesian.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from admin.dispose import correct_category, correction_counts, current_category, dispose, disposed
from admin.inbox import InboxError
from admin.reason import Reason
from admin.settings import AdminUser
from admin.status import StatusRefused, stage_info
from admin.store import StoredItem
from kanal import log

if TYPE_CHECKING:
    from admin.console import Console

WIB = ZoneInfo("Asia/Jakarta")


def wib(at: datetime) -> str:
    """A time as officers read it: `2026-12-05 16:02 WIB`."""
    return at.astimezone(WIB).strftime("%Y-%m-%d %H:%M WIB")


async def context(console: Console, stored: StoredItem, user: AdminUser) -> dict[str, Any]:
    """What the item page's category card needs (included from item.html as _category.html)."""
    dmap = console.disposition_map
    if dmap is None:
        return {"category_card": None}
    state, _ = await console.store.state(stored.item.item_id)
    category = current_category(stored.item, state)
    proposal = dmap.target(stored.queue, category)
    classifier = dmap.classifier
    return {"category_card": {
        "id": category,
        "label": classifier.label(category) if category else "Belum ada",
        "confidence": stored.item.decision.category_confidence,
        "cues": stored.item.decision.category_cues,
        "corrected": bool(state.categories),
        "corrections": [{"by": c.by, "at": wib(c.at), "before": classifier.label(c.from_category or "-"),
                         "after": classifier.label(c.to_category)} for c in state.categories],
        "choices": [(cid, classifier.label(cid)) for cid in classifier.ids],
        "proposal": proposal,
        "disposable": stored.queue.startswith("kelurahan.") and stored.item.kind == "item",
        "correctable": not any(h.seq == stored.seq and h.action == "reroute" for h in state.handled),
        "disposed": [{"to": dmap.label(d.to_queue), "by": d.by, "at": wib(d.at)}
                     for d in state.dispositions if d.seq == stored.seq],
    }}


def routes(console: Console) -> list[Route]:
    """The routes, bound to the console (listed before the console's generic /item/<seq>/<action>)."""

    async def act(request: Request) -> Response:
        name, user = console._signed_in(request)
        form = await console._form(request)
        seq = request.path_params["seq"]
        stored = await console._stored(seq, name, user)
        action = request.url.path.rsplit("/", 1)[-1]
        dmap = console.disposition_map
        try:
            if dmap is None:
                raise InboxError(Reason("no disposition map is set: set [admin] disposition in kanal.toml"))
            if action == "kategori":
                change = await correct_category(console.store, stored, form.get("category", ""), by=name, user=user,
                                                classifier=dmap.classifier)
                console._flash(request, "ok", console.tr(
                    request, "Category changed: %(before)s → %(after)s.",
                    before=dmap.classifier.label(change.from_category or "-"),
                    after=dmap.classifier.label(change.to_category)))
            else:
                moved, target = await dispose(console.store, stored, dmap, by=name, user=user,
                                              note=form.get("note", "").strip() or None)
                console._flash(request, "ok", console.tr(request, "Disposed to %(to)s (#%(seq)s).", to=target.label,
                                                         seq=moved.seq))
        except (InboxError, StatusRefused) as err:
            console._flash(request, "error", console.tr(request, "Refused: %(why)s", why=console._why(
                request, err.args[0] if err.args else str(err))))
        log.get("admin").info("admin_action", user=name, action=action, seq=seq, queue=stored.queue)
        return RedirectResponse(f"/item/{seq}", status_code=303)

    async def listing(request: Request) -> Response:
        name, user = console._signed_in(request)
        queue = console._queue_param(request, name, user)
        rows = await disposed(console.store, queue)
        dmap = console.disposition_map
        shown = [{"seq": r.stored.seq, "ref": r.stored.item.ref, "text": r.stored.item.envelope.text,
                  "stage": stage_info(r.stage), "to": dmap.label(r.disposition.to_queue) if dmap else
                  r.disposition.to_queue, "to_queue": r.disposition.to_queue, "by": r.disposition.by,
                  "at": wib(r.disposition.at), "category": dmap.classifier.label(r.disposition.category or "-")
                  if dmap else r.disposition.category} for r in rows]
        return console._page(request, "disposed.html", queue=queue, rows=shown)

    async def metrics(_request: Request) -> Response:
        lines = ["# HELP kanal_admin_category_corrections_total Categories corrected by admins, by the category "
                 "the item had and the one it got",
                 "# TYPE kanal_admin_category_corrections_total counter"]
        for (before, after), count in (await correction_counts(console.store)).items():
            lines.append(f'kanal_admin_category_corrections_total{{from="{before}",to="{after}"}} {count}')
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    return [
        Route("/metrics/categories", metrics),
        Route("/item/{seq:int}/kategori", act, methods=["POST"]),
        Route("/item/{seq:int}/disposisi", act, methods=["POST"]),
        Route("/q/{queue}/disposisi", listing),
    ]

"""The admin web console: server-rendered Starlette + Jinja2, per-queue access checked on every route.

Routes: /login, /logout, / (queues with counts), /q/<queue> (items), /item/<seq> (one item: text,
attachments, map, duplicates and incident, stage, forms), POST /item/<seq>/{stage,reroute,ack}, and
/media/<seq>/<n> (an attachment of that item, from the object store). An item is addressed by its stream
sequence, and access is decided by the queue that message is on: another queue's item is a 403.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import signal
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from admin.auth import authenticate
from admin.geomap import GeoMap, load_map
from admin.inbox import InboxError, reroute
from admin.index import QueueIndex
from admin.render import location_line
from admin.settings import AdminSettings, AdminUser
from admin.status import StatusRefused, change_stage, current_stage, next_stage, stage_info
from admin.store import Handling, ItemNotFound, ItemStore, StoredItem, valid_queue
from kanal import bus, http, log, sends
from kanal.config import Config
from kanal.throttle import LoginThrottle
from schemas import subjects
from schemas.outbound import SendRecord
from schemas.status import STAGES

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
CSP = ("default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def _log() -> Any:
    return log.get("admin")


class Denied(Exception):
    """403: the signed-in admin may not see or act on that queue."""


@dataclass(frozen=True)
class Row:
    """An item as listed and shown: the stored message, what was done with it, its stage."""

    stored: StoredItem
    handling: Handling | None
    stage: str

    @property
    def info(self) -> Any:
        return stage_info(self.stage)


class Console:
    """The console's state: settings, the item store, the media bucket and the map."""

    def __init__(self, settings: AdminSettings, store: ItemStore, media: Any, geo: GeoMap | None) -> None:
        self.s = settings
        self.store = store
        self.index = QueueIndex(store)  # what the pages list and count, read incrementally
        self._outbound: KeyValue | None = None
        self.throttle = LoginThrottle()
        self.media = media
        self.geo = geo

    # ---- plumbing -------------------------------------------------------------------------------------------
    def app(self) -> Starlette:
        """The ASGI app."""
        secret = self.s.session_secret.reveal() if self.s.session_secret else secrets.token_urlsafe(32)
        routes = [
            Route("/healthz", self.healthz),
            Route("/login", self.login, methods=["GET", "POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/", self.queues),
            Route("/q/{queue}", self.queue),
            Route("/item/{seq:int}", self.item),
            Route("/item/{seq:int}/{action}", self.act, methods=["POST"]),
            Route("/media/{seq:int}/{index:int}", self.attachment),
        ]
        middleware = [Middleware(SessionMiddleware, secret_key=secret, session_cookie="kanal_admin",
                                 max_age=int(self.s.session_max_age.total_seconds()), same_site="strict",
                                 https_only=self.s.https_only)]
        app = Starlette(routes=routes, middleware=middleware,
                        exception_handlers={Denied: self._denied, ItemNotFound: self._missing})

        async def headers(scope: Any, receive: Any, send: Any) -> None:
            async def send_with_headers(message: Any) -> None:
                if message["type"] == "http.response.start":
                    extra = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                             (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"DENY")]
                    message["headers"] = list(message.get("headers", [])) + extra
                await send(message)
            await app(scope, receive, send_with_headers)

        return headers  # type: ignore[return-value]

    def _page(self, request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        session = request.session
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(24)
        flash = session.pop("flash", None)
        context.update(csrf=session["csrf"], me=session.get("user"), flash=flash, stages=STAGES)
        return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)

    def _user(self, request: Request) -> tuple[str, AdminUser] | None:
        name = request.session.get("user")
        user = self.s.users.get(name) if isinstance(name, str) else None
        return (name, user) if user is not None and isinstance(name, str) else None

    @staticmethod
    async def _form(request: Request) -> dict[str, str]:
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        token = request.session.get("csrf")
        if not token or not hmac.compare_digest(str(token), values.get("csrf", "")):
            raise Denied("the form is stale or did not come from this console (CSRF check failed); reload the page")
        return values

    async def _denied(self, request: Request, exc: Exception) -> Response:
        _log().warning("admin_access_denied", path=request.url.path, user=request.session.get("user"),
                       reason=str(exc))
        return self._page(request, "error.html", 403, title="Not allowed", message=str(exc))

    async def _missing(self, request: Request, exc: Exception) -> Response:
        return self._page(request, "error.html", 404, title="Not found", message=str(exc))

    def _flash(self, request: Request, kind: str, text: str) -> None:
        request.session["flash"] = {"kind": kind, "text": text}

    async def _stored(self, seq: int, name: str, user: AdminUser) -> StoredItem:
        stored = await self.store.get(seq)
        if not user.allowed(stored.queue):
            raise Denied(f"admin {name!r} is not allowed on queue {stored.queue!r}")
        return stored

    async def _fetch(self, seqs: list[int]) -> list[StoredItem]:
        """The stored items at these sequences, in that order (one gone since, e.g. purged, is left out)."""
        async def one(seq: int) -> StoredItem | None:
            try:
                return await self.store.get(seq)
            except ItemNotFound:
                self.index.forget(seq)
                return None
        return [s for s in await asyncio.gather(*(one(seq) for seq in seqs)) if s is not None]

    async def _rows(self, stored: list[StoredItem]) -> list[Row]:
        ids = [s.item.item_id for s in stored]
        states, statuses = await asyncio.gather(self.store.states(ids), self.store.latest_statuses(ids))
        return [Row(stored=s, handling=states[s.item.item_id].for_seq(s.seq),
                    stage=current_stage(statuses[s.item.item_id])) for s in stored]

    # ---- pages ----------------------------------------------------------------------------------------------
    async def healthz(self, _request: Request) -> Response:
        return PlainTextResponse("ok")

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return self._page(request, "login.html")
        form = await self._form(request)
        username = form.get("username", "").strip()
        if self.throttle.locked(username):
            _log().warning("admin_login_locked", user=username)
            return self._page(request, "login.html", 429, username=username,
                              error="Too many failed sign-ins for this user; try again in 15 minutes.")
        if authenticate(self.s, username, form.get("password", "")) is None:
            self.throttle.failed(username, known=username in self.s.users)
            _log().warning("admin_login_failed", user=username)
            return self._page(request, "login.html", 401, error="Wrong username or password.", username=username)
        self.throttle.succeeded(username)
        request.session.clear()
        request.session["user"] = username
        request.session["csrf"] = secrets.token_urlsafe(24)
        _log().info("admin_login", user=username)
        return RedirectResponse("/", status_code=303)

    async def logout(self, request: Request) -> Response:
        await self._form(request)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    async def queues(self, request: Request) -> Response:
        me = self._user(request)
        if me is None:
            return RedirectResponse("/login", status_code=303)
        _name, user = me
        totals = {q: n for q, n in (await self.store.counts()).items() if user.allowed(q)}
        for pattern in user.queues:  # an admin's own queue shows even while empty
            if valid_queue(pattern):
                totals.setdefault(pattern, 0)
        await self.index.refresh()
        open_counts: Counter[str] = Counter()
        stage_counts: dict[str, Counter[str]] = {}
        for entry in self.index.open.values():
            if entry.queue in totals:
                open_counts[entry.queue] += 1
                stage_counts.setdefault(entry.queue, Counter())[entry.stage] += 1
        queues = [{"name": q, "total": totals[q], "open": open_counts.get(q, 0),
                   "stages": stage_counts.get(q, Counter())} for q in sorted(totals)]
        return self._page(request, "queues.html", queues=queues, user=user)

    async def queue(self, request: Request) -> Response:
        me = self._user(request)
        if me is None:
            return RedirectResponse("/login", status_code=303)
        name, user = me
        queue = request.path_params["queue"]
        if not valid_queue(queue):
            raise ItemNotFound(f"{queue!r} is not a queue name")
        if not user.allowed(queue):
            raise Denied(f"admin {name!r} is not allowed on queue {queue!r}")
        await self.index.refresh()
        entries = self.index.queue(queue)
        show_all = request.query_params.get("all") == "1"
        wanted = [e for e in reversed(entries) if show_all or not e.handled]  # newest first
        rows: list[Row] = []
        while wanted and len(rows) < self.s.page_size:  # fill the page: some may be gone or handled meanwhile
            batch, wanted = wanted[: self.s.page_size - len(rows)], wanted[self.s.page_size - len(rows):]
            fetched = await self._rows(await self._fetch([e.seq for e in batch]))
            rows += [r for r in fetched if show_all or r.handling is None]
        entries = self.index.queue(queue)  # without those found gone
        return self._page(request, "queue.html", queue=queue, rows=rows, show_all=show_all,
                          total=len(entries), open=sum(not e.handled for e in entries))

    async def item(self, request: Request) -> Response:
        me = self._user(request)
        if me is None:
            return RedirectResponse("/login", status_code=303)
        name, user = me
        stored = await self._stored(request.path_params["seq"], name, user)
        it = stored.item
        await self.index.refresh()
        linked = [e for e in self.index.queue(stored.queue) if e.seq != stored.seq and (
            e.item_id == it.dedup.duplicate_of or e.duplicate_of == it.item_id
            or (it.dedup.incident_id and e.incident_id == it.dedup.incident_id))]
        row, *neighbours = await self._rows([stored, *await self._fetch([e.seq for e in linked])])
        first = next((r for r in neighbours if r.stored.item.item_id == it.dedup.duplicate_of), None)
        duplicates = [r for r in neighbours if r.stored.item.dedup.duplicate_of == it.item_id]
        follow_ups = [r for r in duplicates if r.stored.item.follow_up_of == it.item_id]  # what the reporter added
        duplicates = [r for r in duplicates if r.stored.item.follow_up_of is None]
        incident = [r for r in neighbours if it.dedup.incident_id
                    and r.stored.item.dedup.incident_id == it.dedup.incident_id]
        latest, _ = await self.store.latest_status(it.item_id)
        sends = await self._send_records(it.item_id)
        loc = it.envelope.location
        geo_svg = None
        if loc is not None and loc.lat is not None and loc.lon is not None and self.geo is not None:
            code = stored.queue.split(".", 1)[1] if stored.queue.startswith("kelurahan.") else None
            geo_svg = self.geo.svg(loc.lat, loc.lon, code)
        return self._page(request, "item.html", row=row, item=it, env=it.envelope, stored=stored, status=latest,
                          next_stage=next_stage(row.stage), location=location_line(it), map_svg=geo_svg,
                          first=first, duplicates=duplicates, incident=incident, sends=sends,
                          follow_ups=follow_ups)

    async def _send_records(self, item_id: str) -> list[SendRecord]:
        """What the reporter was told about this item, or why not (kept by the senders and the notifier)."""
        if self._outbound is None:
            self._outbound = await bus.ensure_kv(self.store.js, subjects.KV_OUTBOUND, history=5)
        try:
            return await sends.for_item(self._outbound, item_id)
        except Exception as err:  # the page still shows; the gap is logged
            _log().warning("send_records_unavailable", item_id=item_id, error=repr(err))
            return []

    async def act(self, request: Request) -> Response:
        me = self._user(request)
        if me is None:
            return RedirectResponse("/login", status_code=303)
        name, user = me
        form = await self._form(request)
        seq = request.path_params["seq"]
        stored = await self._stored(seq, name, user)
        action = request.path_params["action"]
        try:
            if action == "stage":
                update = await change_stage(self.store, stored, form.get("stage", ""), username=name, user=user,
                                            note=form.get("note", "").strip() or None)
                self._flash(request, "ok", f"Stage changed to {stage_info(update.stage).label}.")
            elif action == "reroute":
                to_queue = form.get("to_queue", "").strip()
                reason = form.get("reason", "").strip()
                if not valid_queue(to_queue):
                    raise InboxError(f"{to_queue!r} is not a queue name (e.g. kecamatan.317101)")
                if not reason:
                    raise InboxError("a reroute needs a reason: the next admin reads it")
                if to_queue == stored.queue:
                    raise InboxError(f"the item is already in {to_queue}")
                moved = await reroute(self.store, stored, to_queue, reason, by=name, user=user)
                self._flash(request, "ok", f"Rerouted to {to_queue} (now #{moved.seq}).")
            elif action == "ack":
                await self.store.record(stored.item.item_id, Handling(seq=stored.seq, queue=stored.queue, action="ack",
                                                                      by=name, at=datetime.now(UTC)))
                self._flash(request, "ok", "Acknowledged.")
            else:
                raise ItemNotFound(f"no action {action!r}")
        except StatusRefused as err:
            self._flash(request, "error", f"Refused: {err.reason}")
        except InboxError as err:
            self._flash(request, "error", f"Refused: {err}")
        _log().info("admin_action", user=name, action=action, seq=seq, queue=stored.queue)
        return RedirectResponse(f"/item/{seq}", status_code=303)

    async def attachment(self, request: Request) -> Response:
        me = self._user(request)
        if me is None:
            return PlainTextResponse("sign in first", status_code=401)
        name, user = me
        stored = await self._stored(request.path_params["seq"], name, user)
        attachments = stored.item.envelope.attachments
        index = request.path_params["index"]
        if index >= len(attachments) or not attachments[index].object_key:
            raise ItemNotFound("no stored attachment there")
        att = attachments[index]
        try:
            data = (await self.media.get(att.object_key)).data or b""
        except NotFoundError as err:
            raise ItemNotFound(f"attachment {att.object_key} is not in the object store") from err
        media_type = att.media_type or "application/octet-stream"
        inline = media_type in {"image/jpeg", "image/png", "image/gif", "image/webp"}
        filename = att.name or f"attachment-{index}"
        fallback = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "")
        return Response(data, media_type=media_type if inline else "application/octet-stream", headers={
            # RFC 6266: an ASCII fallback plus the real (UTF-8) name, so Indonesian or emoji names never break it
            "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{fallback}"; '
                                   f"filename*=UTF-8''{quote(filename, safe='')}",
            "Cache-Control": "private, max-age=300"})


async def build(config: Config, settings: AdminSettings, nc: NATS) -> Console:
    """A Console over an open connection (streams provisioned)."""
    store = await ItemStore.open(nc, settings.items_bucket, config.nats.replicas)
    media = await bus.ensure_object_store(nc.jetstream(), subjects.OBJ_MEDIA, config.nats.replicas)
    geo = await asyncio.to_thread(load_map, config, settings.boundaries, settings.code_property,
                                  settings.name_property)
    return Console(settings, store, media, geo)


async def serve(config: Config, settings: AdminSettings) -> int:
    """Run the console until SIGTERM/SIGINT."""
    if not settings.users:
        _log().error("no_admins", hint="add [admin.users.<name>] with password_hash (kanal admin hash-password) "
                     "and queues to kanal.toml")
        return 2
    if settings.session_secret is None:
        _log().warning("session_secret_generated", hint="set [admin] session_secret (or session_secret_file) so "
                       "sign-ins survive a restart")
    nc = await bus.connect(config.nats, name="kanal-admin")
    js = nc.jetstream()
    await bus.provision(js, config)
    console = await build(config, settings, nc)
    server, task = await http.start(console.app(), settings.host, settings.port)
    print(f"admin: console at http://{settings.host}:{http.bound_port(server)}/", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await http.stop(server, task)
    await nc.close()
    return 0

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
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from admin import assign, disposition, finder, i18n
from admin.auth import authenticate
from admin.dispositionmap import DispositionMap
from admin.dispositionmap import load_map as load_disposition_map
from admin.geomap import GeoMap, load_map
from admin.inbox import InboxError, reroute
from admin.index import QueueIndex
from admin.metrics import ConsoleMetrics
from admin.office import DESK_ACTIONS, Denied, OfficePages, Row, SignInFirst
from admin.reason import Reason
from admin.render import location_line
from admin.settings import AdminSettings, AdminUser
from admin.status import StatusRefused, change_stage, current_stage, next_stage, stage_info
from admin.store import Handling, ItemNotFound, ItemStore, StoredItem, valid_queue
from admin.why import routing_reason
from kanal import bus, http, log, sends, wilayah
from kanal.config import Config
from kanal.throttle import LoginThrottle
from kanal.throttle import open_bucket as open_logins
from schemas import subjects
from schemas.outbound import SendRecord
from schemas.privacy import ANONYMOUS_LABEL, HIDDEN_LABEL, UNKNOWN_LABEL, reporter_view
from schemas.status import STAGES

CSP = ("default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def _log() -> Any:
    return log.get("admin")


class Console(OfficePages):
    """The console's state: settings, the item store, the media bucket and the map."""

    disposition_map: DispositionMap | None = None  # set by build() from [admin] disposition

    def __init__(self, settings: AdminSettings, store: ItemStore, media: Any, geo: GeoMap | None,
                 names: wilayah.Names | None = None, now: Callable[[], datetime] | None = None) -> None:
        self.s = settings
        self.names = names or wilayah.Names()
        self.deadlines = finder.Deadlines({k: v.total_seconds() for k, v in settings.deadlines.items()})
        self._metrics = ConsoleMetrics()
        self.now = now or (lambda: datetime.now(UTC))  # tests move the clock; the console reads it through here
        self.store = store
        self.index = QueueIndex(store)  # what the pages list and count, read incrementally
        self._outbound: KeyValue | None = None
        self.throttle = LoginThrottle(lambda: open_logins(store.js), scope="console")
        self.media = media
        self.geo = geo

    # ---- plumbing -------------------------------------------------------------------------------------------
    def app(self) -> Starlette:
        """The ASGI app."""
        secret = self.s.session_secret.reveal() if self.s.session_secret else secrets.token_urlsafe(32)
        routes = [
            Route("/healthz", self.healthz),
            Route("/metrics", self.metrics),
            Route("/login", self.login, methods=["GET", "POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/", self.queues),
            Route("/q/{queue}", self.queue),
            Route("/mine", self.mine),
            Route("/overview", self.overview),
            Route("/incident/{incident}", self.incident),
            Route("/lang", self.switch_language, methods=["POST"]),
            Route("/item/{seq:int}", self.item),
            *disposition.routes(self),
            Route("/item/{seq:int}/{action}", self.act, methods=["POST"]),
            Route("/media/{seq:int}/{index:int}", self.attachment),
        ]
        middleware = [Middleware(SessionMiddleware, secret_key=secret, session_cookie="kanal_admin",
                                 max_age=int(self.s.session_max_age.total_seconds()), same_site="strict",
                                 https_only=self.s.https_only)]
        app = Starlette(routes=routes, middleware=middleware,
                        exception_handlers={Denied: self._denied, ItemNotFound: self._missing,
                                            SignInFirst: self._sign_in})

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
        lang = self._lang(request)
        now = self.now()
        context.update(csrf=session["csrf"], me=session.get("user"), flash=flash, stages=STAGES,
                       place=self.names.queue, ago=lambda moment: i18n.ago(moment, now, lang), now=now)
        return i18n.templates(lang).TemplateResponse(request, name, context, status_code=status_code)

    def _lang(self, request: Request) -> str:
        """The signed-in admin's language: their switch, else their configured one, else Indonesian."""
        chosen = request.session.get("lang")
        if chosen is None:
            me = self._user(request)
            chosen = me[1].language if me is not None else None
        return i18n.language(chosen)

    def tr(self, request: Request, text: str, **values: Any) -> str:
        """`text` in the admin's language, with %(name)s values filled in."""
        translated = i18n.translations(self._lang(request)).gettext(text)
        return translated % values if values else translated

    def _why(self, request: Request, reason: object) -> str:
        """A refusal's reason in the admin's language (a plain string stays as it is)."""
        if isinstance(reason, Reason):
            return self.tr(request, reason.template, **reason.values)
        return str(reason)

    def _user(self, request: Request) -> tuple[str, AdminUser] | None:
        name = request.session.get("user")
        user = self.s.users.get(name) if isinstance(name, str) else None
        return (name, user) if user is not None and isinstance(name, str) else None

    @staticmethod
    async def _form(request: Request) -> dict[str, str]:
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        token = request.session.get("csrf")
        if not token or not hmac.compare_digest(str(token).encode(), values.get("csrf", "").encode()):
            raise Denied("the form is stale or did not come from this console (CSRF check failed); reload the page")
        return values

    async def _denied(self, request: Request, exc: Exception) -> Response:
        _log().warning("admin_access_denied", path=request.url.path, user=request.session.get("user"),
                       reason=str(exc))
        return self._page(request, "error.html", 403, title=self.tr(request, "Not allowed"), message=str(exc))

    async def _sign_in(self, _request: Request, _exc: Exception) -> Response:
        return RedirectResponse("/login", status_code=303)

    async def _missing(self, request: Request, exc: Exception) -> Response:
        return self._page(request, "error.html", 404, title=self.tr(request, "Not found"), message=str(exc))

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

    async def metrics(self, _request: Request) -> Response:
        """Open and late items per queue for Prometheus (counts only)."""
        await self.index.refresh()
        body = self._metrics.render(self.index, self.deadlines, self.now().timestamp())
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return self._page(request, "login.html")
        form = await self._form(request)
        username = form.get("username", "").strip()
        address = request.client.host if request.client else "unknown"
        known = username if username in self.s.users else None  # anything else may be a mistyped password
        wait = await self.throttle.delay(username, address)
        if wait > 0:
            seconds = max(1, round(wait))
            _log().warning("admin_login_throttled", user=known, client=address, retry_in_s=seconds)
            error = self.tr(request, "Too many failed sign-ins from this address; try again in {seconds} s.")
            response = self._page(request, "login.html", 429, username=username,
                                  error=error.format(seconds=seconds))
            response.headers["Retry-After"] = str(seconds)
            return response
        if authenticate(self.s, username, form.get("password", "")) is None:
            await self.throttle.failed(username, address)
            _log().warning("admin_login_failed", user=known, known_user=known is not None, client=address)
            return self._page(request, "login.html", 401, error=self.tr(request, "Wrong username or password."),
                              username=username)
        await self.throttle.succeeded(username, address)
        lang = request.session.get("lang")
        request.session.clear()
        request.session["user"] = username
        lang = lang or await i18n.remembered(self.store.kv, username)
        if lang is not None:  # a language chosen on the sign-in page, or the admin's last choice
            request.session["lang"] = lang
        request.session["csrf"] = secrets.token_urlsafe(24)
        _log().info("admin_login", user=username)
        return RedirectResponse("/", status_code=303)

    async def logout(self, request: Request) -> Response:
        await self._form(request)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    async def queues(self, request: Request) -> Response:
        _name, user = self._signed_in(request)
        totals = {q: n for q, n in (await self.store.counts()).items() if user.allowed(q)}
        for pattern in user.queues:  # an admin's own queue shows even while empty
            if valid_queue(pattern):
                totals.setdefault(pattern, 0)
        await self.index.refresh()
        open_counts: Counter[str] = Counter()
        late: Counter[str] = Counter()
        stage_counts: dict[str, Counter[str]] = {}
        now = self.now().timestamp()
        for entry in self.index.open.values():
            if entry.queue in totals and not self.index.attached(entry):
                open_counts[entry.queue] += 1
                stage_counts.setdefault(entry.queue, Counter())[entry.stage] += 1
                late[entry.queue] += self.deadlines.overdue(entry, now)
        queues = [{"name": q, "total": totals[q], "open": open_counts.get(q, 0), "overdue": late.get(q, 0),
                   "stages": stage_counts.get(q, Counter())} for q in sorted(totals)]
        return self._page(request, "queues.html", queues=queues, user=user)

    async def queue(self, request: Request) -> Response:
        name, user = self._signed_in(request)
        queue = self._queue_param(request, name, user)
        await self.index.refresh()
        return await self._list(request, name, self.index.queue(queue), queue=queue)

    async def switch_language(self, request: Request) -> Response:
        """Indonesian or English for this admin's session (chosen on any page, the sign-in page included)."""
        form = await self._form(request)
        lang = request.session["lang"] = i18n.language(form.get("lang"))
        me = self._user(request)
        if me is not None:  # kept for this admin's next sign-in, on any replica
            await i18n.remember(self.store.kv, me[0], lang)
        back = form.get("back", "/")
        return RedirectResponse(back if back.startswith("/") and not back.startswith("//") else "/", status_code=303)

    async def item(self, request: Request) -> Response:
        name, user = self._signed_in(request)
        stored = await self._stored(request.path_params["seq"], name, user)
        it = stored.item
        await self.index.refresh()
        linked = [e for e in self.index.queue(stored.queue) if e.seq != stored.seq and (
            e.item_id == it.dedup.duplicate_of or e.duplicate_of == it.item_id)]
        # the incident's reports across queues (its first report included: admin/index.py), one each
        here = next((e for e in self.index.queue(stored.queue) if e.seq == stored.seq), None)
        incident_id = it.dedup.incident_id or (here.incident_id if here is not None else None)
        members = self.index.incident_members(incident_id) if incident_id else []
        shown = [e for e in members if e.item_id != it.item_id and user.allowed(e.queue)]
        seqs = list(dict.fromkeys(e.seq for e in [*linked, *shown]))
        row, *fetched = await self._rows([stored, *await self._fetch(seqs)])
        linked_seqs, shown_seqs = {e.seq for e in linked}, {e.seq for e in shown}
        neighbours = [r for r in fetched if r.stored.seq in linked_seqs]
        incident = [r for r in fetched if r.stored.seq in shown_seqs]
        first = next((r for r in neighbours if r.stored.item.item_id == it.dedup.duplicate_of), None)
        duplicates = [r for r in neighbours if r.stored.item.dedup.duplicate_of == it.item_id]
        follow_ups = [r for r in duplicates if r.stored.item.follow_up_of == it.item_id]  # what the reporter added
        duplicates = [r for r in duplicates if r.stored.item.follow_up_of is None]
        latest, _ = await self.store.latest_status(it.item_id)
        sends = await self._send_records(it.item_id)
        held, _ = await assign.get(self.store, it.item_id)
        entry = next((e for e in self.index.queue(stored.queue) if e.seq == stored.seq), None)
        due = self.deadlines.due(entry) if entry is not None and row.handling is None else None
        late = due is not None and self.now().timestamp() > due
        loc = it.envelope.location
        geo_svg = None
        if loc is not None and loc.lat is not None and loc.lon is not None and self.geo is not None:
            code = stored.queue.split(".", 1)[1] if stored.queue.startswith("kelurahan.") else None
            geo_svg = self.geo.svg(loc.lat, loc.lon, code)
        # the page is only served to admins allowed on the item's queue (`_stored` checked it)
        view = reporter_view(it.envelope, "queue_admin")
        return self._page(request, "item.html", row=row, item=it, env=it.envelope, stored=stored, status=latest,
                          reporter=view, reporter_label=self._reporter_label(request, view.label),
                          next_stage=next_stage(row.stage), location=location_line(it), map_svg=geo_svg,
                          reroute_targets=self.names.queues(),
                          why=self._why(request, routing_reason(it, self.names.queue)),
                          first=first, duplicates=duplicates, incident=incident, sends=sends, held=held,
                          incident_id=incident_id, incident_count=max(len(members), 1 if incident_id else 0),
                          incident_hidden=sum(not user.allowed(e.queue) for e in members),
                          colleagues=assign.colleagues(self.s, stored.queue, name), late=late,
                          merged_seq=self._open_seq(held.merged_into) if held.merged_into else None,
                          due=datetime.fromtimestamp(due, UTC) if due is not None else None,
                          follow_ups=follow_ups, **await disposition.context(self, stored, user))

    def _reporter_label(self, request: Request, label: str) -> str:
        """The words schemas/privacy.py puts for a reporter who has no name to show, in the admin's language."""
        words = {ANONYMOUS_LABEL: self.tr(request, "anonymous"), UNKNOWN_LABEL: self.tr(request, "unknown"),
                 HIDDEN_LABEL: self.tr(request, "hidden")}
        return words.get(label, label)

    def _open_seq(self, item_id: str) -> int | None:
        """The stream sequence of the item's open message (its current queue), if the index has one."""
        return next((e.seq for entries in self.index.by_queue.values() for e in entries
                     if e.item_id == item_id and not e.handled), None)

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
        name, user = self._signed_in(request)
        form = await self._form(request)
        seq = request.path_params["seq"]
        stored = await self._stored(seq, name, user)
        action = request.path_params["action"]
        try:
            if action == "stage":
                update = await change_stage(self.store, stored, form.get("stage", ""), username=name, user=user,
                                            note=form.get("note", "").strip() or None)
                self._flash(request, "ok", self.tr(request, "Stage changed to %(stage)s.",
                                                  stage=stage_info(update.stage).label))
            elif action == "reroute":
                to_queue = form.get("to_queue", "").strip()
                reason = form.get("reason", "").strip()
                if not valid_queue(to_queue):  # a name typed instead of picked: "Kec. Gambir"
                    meant = self.names.find(to_queue)
                    if len(meant) > 1:
                        raise InboxError(self.tr(request, "%(typed)s could be %(queues)s: pick one from the list",
                                                typed=to_queue, queues=", ".join(map(self.names.queue, meant))))
                    if not meant:
                        raise InboxError(self.tr(request, "%(queue)r is not a queue name (e.g. kecamatan.317101)",
                                                queue=to_queue))
                    to_queue = meant[0]
                if not reason:
                    raise InboxError(self.tr(request, "a reroute needs a reason: the next admin reads it"))
                if to_queue == stored.queue:
                    raise InboxError(self.tr(request, "the item is already in %(queue)s", queue=to_queue))
                moved = await reroute(self.store, stored, to_queue, reason, by=name, user=user)
                self._flash(request, "ok", self.tr(request, "Rerouted to %(queue)s (now #%(seq)s).",
                                                  queue=self.names.queue(to_queue), seq=moved.seq))
            elif action == "ack":
                await self.store.record(stored.item.item_id, Handling(seq=stored.seq, queue=stored.queue, action="ack",
                                                                      by=name, at=datetime.now(UTC)))
                self._flash(request, "ok", self.tr(request, "Acknowledged."))
            elif action in DESK_ACTIONS:
                await self._desk(request, action, form, stored, name, user)
            else:
                raise ItemNotFound(f"no action {action!r}")
        except StatusRefused as err:
            self._flash(request, "error", self.tr(request, "Refused: %(why)s", why=self._why(request, err.reason)))
        except (InboxError, assign.AssignRefused) as err:
            why = err.args[0] if err.args else str(err)
            self._flash(request, "error", self.tr(request, "Refused: %(why)s", why=self._why(request, why)))
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
    names = await asyncio.to_thread(wilayah.load, config, settings.wilayah, settings.queue_labels,
                                    settings.boundaries)
    console = Console(settings, store, media, geo, names)
    console.disposition_map = load_disposition_map(config.path(settings.disposition) if settings.disposition else None)
    if console.disposition_map is not None:  # dinas / suku dinas queues by their names (a configured label wins)
        for queue, label in console.disposition_map.labels().items():
            names.labels.setdefault(queue, label)
    return console


async def serve(config: Config, settings: AdminSettings) -> int:
    """Run the console until SIGTERM/SIGINT."""
    if not settings.users:
        _log().error("no_admins", hint="add [admin.users.<name>] with password_hash (kanal admin hash-password) "
                     "and queues to kanal.toml")
        return 2
    from kanal.ops.safety import is_demo_hash, is_loopback

    demo = sorted(name for name, user in settings.users.items() if is_demo_hash(user.password_hash.reveal()))
    if demo and not is_loopback(settings.host):
        _log().error("demo_password_exposed", host=settings.host, users=demo,
                     hint="these admins use a demo password from the README: give each a new password_hash "
                     "(kanal admin hash-password), or keep [admin] host = 127.0.0.1")
        return 2
    if settings.session_secret is None:
        _log().warning("session_secret_generated", hint="set [admin] session_secret (or session_secret_file) so "
                       "sign-ins survive a restart")
    nc = await bus.connect(config.nats, name="kanal-admin")
    js = nc.jetstream()
    await bus.provision(js, config)
    console = await build(config, settings, nc)
    server, task = await http.start(console.app(), settings.host, settings.port, http.limits_of(config))
    print(f"admin: console at http://{settings.host}:{http.bound_port(server)}/", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await http.stop(server, task)
    await nc.close()
    return 0

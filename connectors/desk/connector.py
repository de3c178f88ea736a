"""The walk-in desk page Kanal serves: officers log in, type a complaint, and print the report reference.

Server-rendered (Jinja2), no JavaScript needed. Sessions are signed cookies (Starlette SessionMiddleware,
itsdangerous) named per instance and bound to this desk's instance and office, so a cookie from another
desk is refused; every form carries a CSRF token kept in the session. The office is this instance's
config, never a form field.
"""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from python_multipart.exceptions import MultipartParseError
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.templating import Jinja2Templates

from connectors.app import form, images
from connectors.app.connector import replayed
from connectors.base import Context
from connectors.desk.settings import REGIONS, DeskSettings
from connectors.desk.submission import DeskSubmission, encode
from connectors.errors import PermanentError
from connectors.media import MediaTooLarge
from connectors.webhook import BodyTooLarge, WebhookConnector
from kanal import passwords
from kanal.throttle import LoginThrottle
from kanal.throttle import open_bucket as open_logins
from schemas import Attachment

PREFIX = "/desk"
_KEY = re.compile(r"^[0-9a-f]{32}$")
MESSAGES = {
    "name": "Nama pelapor wajib diisi (atau centang 'rahasiakan identitas').",
    "nik": "NIK harus tepat 16 angka.",
    "contact": "Kontak harus nomor telepon (mis. 081234567890) atau alamat e-mail.",
    "description": "Uraian pengaduan wajib diisi.",
    "address": "Alamat terlalu panjang (maks. 500 karakter).",
    "region": "Pilih wilayah kota/kabupaten yang diadukan.",
    "category": "Pilih kategori dari daftar.",
    "anonymous": "Nilai tidak dikenal.",
}


class DeskConnector(WebhookConnector[DeskSettings]):
    """One desk instance = one office; its officers and office come from the instance's config."""

    def __init__(self, ctx: Context[DeskSettings]) -> None:
        super().__init__(ctx)
        self.templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
        secret = self.settings.session_secret
        self.session_secret = secret.reveal() if secret else secrets.token_urlsafe(32)
        self.cookie = f"kanal_desk_{ctx.instance}"
        self.tz = ZoneInfo("UTC")
        # per (officer, address) growing delays, shared in NATS KV under this instance's own key prefix
        self.throttle = LoginThrottle(self._logins, scope=ctx.instance)

    async def _logins(self) -> Any:
        """The login-throttle bucket once NATS is connected (before that the throttle counts in memory)."""
        if self.ctx.media.js is None:
            raise ConnectionError("NATS not connected yet")
        return await open_logins(self.ctx.media.js)

    async def start(self) -> None:
        """Refuse to start with a config that could not log anyone in or would print wrong times."""
        settings = self.settings
        if not settings.officers:
            raise PermanentError("no officers configured", hint="add officers = { <user> = \"<hash>\" }; make a "
                                                                "hash with kanal admin hash-password")
        bad = [user for user, hashed in settings.officers.items() if not passwords.well_formed(hashed.reveal())]
        if bad:
            raise PermanentError(f"officers {', '.join(sorted(bad))} have no valid password hash",
                                 hint="put the output of kanal admin hash-password, never a password")
        try:
            self.tz = ZoneInfo(settings.timezone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise PermanentError(f"unknown timezone {settings.timezone!r}", hint="use e.g. Asia/Jakarta") from err
        if settings.session_secret is None:
            self.log.warning("session_secret_generated", hint="set session_secret so officers stay logged in "
                                                              "across restarts and replicas")

    def routes(self) -> list[BaseRoute]:
        """`/` redirects to the desk page under /desk (health and metrics stay at the root)."""
        desk = Starlette(
            routes=[
                Route("/", self.page, methods=["GET"]),
                Route("/login", self.login_page, methods=["GET"]),
                Route("/login", self.login, methods=["POST"]),
                Route("/logout", self.logout, methods=["POST"]),
                Route("/reports", self.guard(self.submit), methods=["POST"]),
                Route("/receipt/{ref}", self.receipt, methods=["GET"]),
            ],
            middleware=[Middleware(SessionMiddleware, secret_key=self.session_secret, session_cookie=self.cookie,
                                   max_age=int(self.settings.session_max_age.total_seconds()), same_site="strict",
                                   https_only=self.settings.secure_cookie)],
        )
        return [Route("/", lambda _request: RedirectResponse(PREFIX + "/", status_code=303)),
                Mount(PREFIX, app=desk)]

    # -- sessions ---------------------------------------------------------------------------------------------

    def officer(self, request: Request) -> str | None:
        """The logged-in officer of THIS desk, or None (a cookie made by another desk is dropped)."""
        session = request.session
        user = session.get("user")
        if not user:
            return None
        if (session.get("desk") != self.ctx.instance or session.get("office") != self.settings.office_code
                or user not in self.settings.officers):
            self.log.warning("desk_session_refused", reason="other_desk_or_unknown_officer",
                             session_desk=session.get("desk"))
            session.clear()
            return None
        return str(user)

    def csrf(self, request: Request) -> str:
        """This session's CSRF token (made on first use)."""
        token = request.session.get("csrf")
        if not isinstance(token, str):
            token = secrets.token_urlsafe(24)
            request.session["csrf"] = token
        return token

    def csrf_ok(self, request: Request, values: dict[str, str]) -> bool:
        """The form's token equals the session's."""
        expected = request.session.get("csrf")
        return isinstance(expected, str) and hmac.compare_digest(expected.encode(), values.get("csrf", "").encode())

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        """A page with the office and CSRF token every template needs."""
        context.update(office=self.settings, prefix=PREFIX, csrf=self.csrf(request), regions=REGIONS,
                       needs_region=self.settings.office_kind == "balai_kota")
        return self.templates.TemplateResponse(request, template, context, status_code=status)

    # -- pages ------------------------------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        """The login form."""
        return self.render(request, "login.html", error=None, username="")

    async def login(self, request: Request) -> Response:
        """Check the officer's password; a new session (and CSRF token) on success."""
        values = await self._small_form(request)
        if not self.csrf_ok(request, values):
            return self.render(request, "login.html", 403, error="Sesi kedaluwarsa; silakan coba lagi.",
                               username=values.get("username", ""))
        username = values.get("username", "").strip()
        hashed = self.settings.officers.get(username)
        address = request.client.host if request.client else "unknown"
        wait = await self.throttle.delay(username, address)
        if wait > 0:
            seconds = max(1, round(wait))
            self.log.warning("desk_login_throttled", officer=username if hashed else None, client=address,
                             retry_in_s=seconds)
            response = self.render(request, "login.html", 429, username=username,
                                   error=f"Terlalu banyak percobaan gagal; coba lagi dalam {seconds} detik.")
            response.headers["Retry-After"] = str(seconds)
            return response
        if not passwords.verify_password(values.get("password", ""), hashed.reveal() if hashed else None):
            await self.throttle.failed(username, address)
            self.ctx.metrics.rejected.labels(reason="login_failed").inc()
            # the typed name only when it is an officer's: anything else may be a password typed in the wrong box
            self.log.warning("desk_login_failed", officer=username if hashed else None, client=address)
            return self.render(request, "login.html", 401, error="Nama pengguna atau kata sandi salah.",
                               username=username)
        await self.throttle.succeeded(username, address)
        request.session.clear()
        request.session.update(desk=self.ctx.instance, office=self.settings.office_code, user=username,
                               csrf=secrets.token_urlsafe(24), receipts=[])
        self.log.info("desk_login", officer=username)
        return RedirectResponse(PREFIX + "/", status_code=303)

    async def logout(self, request: Request) -> Response:
        """End the session (CSRF-checked, so another site cannot log an officer out)."""
        values = await self._small_form(request)
        if self.csrf_ok(request, values):
            request.session.clear()
        return RedirectResponse(PREFIX + "/login", status_code=303)

    async def page(self, request: Request) -> Response:
        """The complaint form, with a fresh submission key (a resubmitted form gives the same report)."""
        user = self.officer(request)
        if user is None:
            return RedirectResponse(PREFIX + "/login", status_code=303)
        return self.render(request, "form.html", user=user, values={"key": uuid.uuid4().hex}, errors={})

    async def receipt(self, request: Request) -> Response:
        """The reference in large print, for a report this session submitted."""
        user = self.officer(request)
        if user is None:
            return RedirectResponse(PREFIX + "/login", status_code=303)
        ref = str(request.path_params["ref"])
        found = next((r for r in request.session.get("receipts", []) if r.get("ref") == ref), None)
        if found is None:
            return self.render(request, "form.html", 404, user=user, values={"key": uuid.uuid4().hex},
                               errors={"_form": "Tanda terima tidak ditemukan di sesi ini."})
        status_url = self.settings.status_url.replace("{ref}", ref) if self.settings.status_url else None
        return self.render(request, "receipt.html", user=user, ref=ref, at=found.get("at", ""),
                           status_url=status_url)

    async def submit(self, request: Request) -> Response:
        """Validate, store attachments, publish; then show the reference (POST-redirect-GET)."""
        user = self.officer(request)
        if user is None:
            self.ctx.metrics.rejected.labels(reason="no_session").inc()
            return self.render(request, "login.html", 403, error="Silakan masuk sebagai petugas meja ini.",
                               username="")
        submitted_at = datetime.now(UTC)
        try:
            body = await self.read_body(request)
        except BodyTooLarge:
            return self.render(request, "form.html", 413, user=user, values={"key": uuid.uuid4().hex},
                               errors={"attachments": "Lampiran terlalu besar untuk satu pengiriman; kirim lebih "
                                                      "sedikit atau lebih kecil."})
        try:
            parsed = await replayed(request, body).form(max_files=self.settings.max_files, max_fields=40,
                                                         max_part_size=64 * 1024)
        except (HTTPException, MultipartParseError):
            return self.render(request, "form.html", 422, user=user, values={"key": uuid.uuid4().hex},
                               errors={"attachments": f"Maksimal {self.settings.max_files} lampiran."})
        values = {k: v for k, v in parsed.multi_items() if isinstance(v, str)}
        if not self.csrf_ok(request, values):
            self.ctx.metrics.rejected.labels(reason="csrf").inc()
            return self.render(request, "login.html", 403, error="Sesi kedaluwarsa; silakan masuk lagi.",
                               username=user)
        uploads = [v for k, v in parsed.multi_items()
                   if isinstance(v, UploadFile) and k == "attachments" and (v.filename or v.size)]
        if not _KEY.match(values.get("key", "")):
            values["key"] = uuid.uuid4().hex
        errors = form.Errors()
        fields = self._fields(values, errors)
        files, too_large = await self._files(uploads, errors, anonymous=bool(fields["anonymous"]))
        if errors:
            self.log.info("desk_report_refused", fields=sorted(errors.fields), officer=user)
            shown = {name: MESSAGES.get(name, message) if name != "attachments" else message
                     for name, message in errors.fields.items()}
            return self.render(request, "form.html", 413 if too_large else 422, user=user, values=values,
                               errors=shown)
        stored: list[Attachment] = []
        try:
            for data, media_type, name in files:
                stored.append(await self.ctx.media.put(data, media_type, name))
        except MediaTooLarge as err:
            return self.render(request, "form.html", 413, user=user, values=values,
                               errors={"attachments": f"Lampiran terlalu besar: {err}"})
        settings = self.settings
        submission = DeskSubmission(
            key=values["key"], submitted_at=submitted_at, officer=user, office_code=settings.office_code,
            office_name=settings.office_name, office_kind=settings.office_kind, attachments=tuple(stored),
            **fields,
        )
        accepted = await self.take(encode(submission), settings.office_code, "application/json")
        envelope = accepted.envelopes[0]
        at = submitted_at.astimezone(self.tz).strftime("%d-%m-%Y %H:%M %Z")
        receipts = [r for r in request.session.get("receipts", []) if r.get("ref") != envelope.ref][-9:]
        request.session["receipts"] = [*receipts, {"ref": envelope.ref, "at": at}]
        self.log.info("desk_report_received", ref=envelope.ref, officer=user, attachments=len(stored),
                      anonymous=submission.anonymous)
        return RedirectResponse(f"{PREFIX}/receipt/{envelope.ref}", status_code=303)

    def _fields(self, values: dict[str, str], errors: form.Errors) -> dict[str, Any]:
        settings = self.settings
        anonymous = form.flag(values, "anonymous", errors)
        name = form.text(values, "name", errors, required=not anonymous, max_chars=200)
        region_code = (values.get("region") or "").strip() or None
        if settings.office_kind == "balai_kota" and region_code not in REGIONS:
            errors.add("region", "choose a region")
        region_code = region_code if settings.office_kind == "balai_kota" and region_code in REGIONS else None
        category = form.text(values, "category", errors, max_chars=100)
        if category and settings.categories and category not in settings.categories:
            errors.add("category", "unknown category")
        return {
            "name": name, "nik": form.nik(values, "nik", errors), "contact": form.contact(values, "contact", errors),
            "anonymous": anonymous, "category": category,
            "description": form.text(values, "description", errors, required=True,
                                     max_chars=settings.max_description_chars) or "",
            "address": form.text(values, "address", errors, max_chars=500),
            "region_code": region_code, "region_name": REGIONS.get(region_code or ""),
        }

    async def _files(self, uploads: list[UploadFile], errors: form.Errors,
                     anonymous: bool) -> tuple[list[tuple[bytes, str, str]], bool]:
        """Read and sniff each attachment: an image Pillow can open, or a PDF. An anonymous report's photos lose
        what identifies the phone or its owner (make, model, serials, owner name), as in the app."""
        found: list[tuple[bytes, str, str]] = []
        limit = self.settings.max_file_bytes
        read, too_large = await form.read_uploads(
            uploads, limit, errors, "attachments", "Lampiran {index} ({name})",
            lambda label, size: f"{label} berukuran {size} byte; batasnya {limit} byte per berkas.")
        for label, name, data in read:
            if data.startswith(b"%PDF-") and b"%%EOF" in data[-2048:]:
                found.append((data, "application/pdf", name))
                continue
            try:
                photo = images.inspect(data, self.tz)
            except images.NotAnImage:
                errors.add("attachments", f"{label} bukan gambar ({images.accepted_formats()}) atau PDF.")
                continue
            media_type = photo.media_type
            if anonymous:
                data, media_type = images.scrubbed(data, photo, gps=False, device=True)
            found.append((data, media_type, name))
        return found, too_large

    async def _small_form(self, request: Request) -> dict[str, str]:
        """A url-encoded form (login, logout), size-limited."""
        try:
            parsed = await request.form(max_files=0, max_fields=10, max_part_size=8 * 1024)
        except (HTTPException, MultipartParseError):
            return {}
        return {k: v for k, v in parsed.multi_items() if isinstance(v, str)}

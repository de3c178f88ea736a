"""The citizen app API Kanal serves: POST /api/v1/reports (multipart photos + fields), GET a report's status.

A refused request (4xx) publishes no report, only a dead letter with the reason and the bytes; photos are
stored (GPS removed for public reports, the phone's make, model and serials for anonymous ones) only after
every field and photo passed its checks, then the validated submission is published as the raw payload.
A client `Idempotency-Key` makes a retried submission answer with the same reference.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from python_multipart.exceptions import MultipartParseError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.app import form, images, status
from connectors.app.openapi import document
from connectors.app.settings import AppSettings
from connectors.app.submission import AppPoint, AppReporter, AppSubmission, encode
from connectors.base import Context
from connectors.errors import PermanentError
from connectors.media import MediaTooLarge
from connectors.webhook import BodyTooLarge, WebhookConnector
from kanal import wilayah
from kanal.references import References, normalise_ref
from schemas import Attachment, envelope_id, report_ref

REPORTS = "/api/v1/reports"
_REF = re.compile(r"^KNL-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$")
# The citizen's page: nothing from elsewhere, never framed, never indexed, never cached by a shared cache.
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
                "X-Robots-Tag": "noindex"}
MAX_FIELDS = 40
MAX_FIELD_BYTES = 64 * 1024


def errors_response(errors: dict[str, str], status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one error shape of this API: {"errors": {"<field>": "<what to change>"}}."""
    return JSONResponse({"errors": errors}, status_code=status, headers=headers)


def replayed(request: Request, body: bytes) -> Request:
    """The same request with its (already read, size-checked) body, so Starlette can parse the form."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


class AppConnector(WebhookConnector[AppSettings]):
    """Serves the app API; validation and photo handling here, mapping in `normalise`."""

    def __init__(self, ctx: Context[AppSettings]) -> None:
        super().__init__(ctx)
        self.refs = References()  # the router's reference index: every channel's references
        self.tz: tzinfo = UTC
        self.page_limit = status.RateLimit(self.settings.status_page_limit)
        self.names = wilayah.Names()

    async def start(self) -> None:
        """Check the settings that would otherwise fail on the first report."""
        try:
            self.tz = ZoneInfo(self.settings.timezone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise PermanentError(f"unknown timezone {self.settings.timezone!r}",
                                 hint="set [connectors.<instance>] timezone to an IANA name, e.g. Asia/Jakarta"
                                 ) from err
        if self.settings.wilayah:
            try:
                self.names = wilayah.Names(places=wilayah.from_csv(Path(self.settings.wilayah)))
            except (OSError, ValueError) as err:
                self.log.warning("place_names_unreadable", path=self.settings.wilayah, error=str(err),
                                 hint="the status page shows kelurahan codes until [connectors.<instance>] "
                                      "wilayah names a readable code list")
        need = self.settings.max_photos * self.settings.max_photo_bytes
        if self.ctx.common.max_body_bytes < self.settings.max_photo_bytes:
            self.log.warning("body_limit_below_photo_limit", max_body_bytes=self.ctx.common.max_body_bytes,
                             max_photo_bytes=self.settings.max_photo_bytes,
                             hint=f"set max_body_bytes to about {need} so full-size photos fit")

    def unavailable(self) -> Response:
        """503 in this API's one error shape: the client retries with the same Idempotency-Key."""
        return errors_response({"_service": "temporarily unavailable: retry later (a report: with the same "
                                            "Idempotency-Key)"}, 503, headers={"Retry-After": "5"})

    def routes(self) -> list[BaseRoute]:
        """The API's endpoints."""
        return [
            Route(REPORTS, self.guard(self.submit), methods=["POST"]),
            Route(REPORTS + "/{ref}", self.guard(self.status), methods=["GET"]),
            Route("/laporan/{ref}", self.guard(self.page), methods=["GET"]),
            Route("/api/v1/openapi.json", self.openapi, methods=["GET"]),
        ]

    async def openapi(self, _request: Request) -> Response:
        """The OpenAPI document (also committed as docs/openapi/app.json)."""
        return JSONResponse(document())

    def status_url(self, request: Request, ref: str) -> str:
        """Where the citizen app polls this report's stage."""
        base = self.ctx.common.public_url or str(request.base_url)
        return base.rstrip("/") + f"{REPORTS}/{ref}"

    async def submit(self, request: Request) -> Response:
        """Validate everything, store photos, publish once; answer the reference and its status URL."""
        submitted_at = datetime.now(UTC)
        key = request.headers.get("idempotency-key")
        account = self.settings.account
        if key is not None and form.IDEMPOTENCY_KEY.match(key):
            ref = report_ref(envelope_id(self.ctx.channel, account, key))
            if await self.refs.lookup(self.ctx.media.js, ref) is not None:
                self.log.info("report_retry_answered", ref=ref)
                return JSONResponse({"ref": ref, "status_url": self.status_url(request, ref)}, status_code=200)
        try:
            body = await self.read_body(request)
        except BodyTooLarge:  # not read whole, so not kept: the app must send less
            limit = self.ctx.common.max_body_bytes
            return errors_response({"_request": f"the request is larger than {limit} bytes; send fewer or "
                                                f"smaller photos"}, 413)
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return await self.refused({"_request": "send multipart/form-data with photos and fields"}, 415, body,
                                      request)
        if key is not None and not form.IDEMPOTENCY_KEY.match(key):
            return await self.refused(
                {"Idempotency-Key": "use 8 to 128 letters, digits or . _ : - (a UUID is best)"}, 422, body, request)
        try:
            parsed = await replayed(request, body).form(max_files=self.settings.max_photos, max_fields=MAX_FIELDS,
                                                         max_part_size=MAX_FIELD_BYTES)
        except (HTTPException, MultipartParseError) as err:
            detail = getattr(err, "detail", None) or str(err)
            field = "photos" if "files" in detail.lower() else "_request"
            if field == "photos":
                detail = f"send at most {self.settings.max_photos} photos"
            return await self.refused({field: detail}, 422, body, request)
        values = {k: v for k, v in parsed.multi_items() if isinstance(v, str)}
        uploads = [v for k, v in parsed.multi_items() if isinstance(v, UploadFile) and k in ("photos", "photo")]
        errors = form.Errors()
        fields = self._fields(values, errors)
        photos, too_large = await self._photos(uploads, submitted_at, errors)
        if errors:
            self.log.info("report_refused", fields=sorted(errors.fields), status=413 if too_large else 422)
            return await self.refused(errors.fields, 413 if too_large else 422, body, request)
        visibility = fields["visibility"]
        strip = visibility == "public" or self.settings.strip_private_gps
        anonymous = fields["reporter"].anonymous  # an anonymous report's photos must not name the phone either
        location = fields["location"]
        if location is None:
            location = next((AppPoint(lat=p.lat, lon=p.lon, source="exif")
                             for _, p, _ in photos if p.lat is not None and p.lon is not None), None)
        stored: list[Attachment] = []
        try:
            for data, photo, name in photos:
                media_type = photo.media_type
                if strip or anonymous:
                    data, media_type = images.scrubbed(data, photo, gps=strip, device=anonymous)
                stored.append(await self.ctx.media.put(data, media_type, name))
        except MediaTooLarge as err:
            return errors_response({"photos": f"{err}; send smaller photos"}, 413)
        key = key or uuid.uuid4().hex
        submission = AppSubmission(
            key=key, submitted_at=submitted_at, description=fields["description"], category=fields["category"],
            visibility=visibility, reporter=fields["reporter"], location=location, address=fields["address"],
            photos=tuple(stored), taken_at=photos[0][1].taken_at if photos else None,
        )
        accepted = await self.take(encode(submission), account, "application/json")
        envelope = accepted.envelopes[0]
        self.log.info("report_received", ref=envelope.ref, photos=len(stored), visibility=visibility,
                      location_source=location.source if location else None, anonymous=submission.reporter.anonymous)
        return JSONResponse({"ref": envelope.ref, "status_url": self.status_url(request, envelope.ref)},
                            status_code=201)

    async def refused(self, errors: dict[str, str], status: int, body: bytes, request: Request) -> Response:
        """Answer a sender's mistake (4xx) and keep what was sent on KANAL_DLQ with the reason."""
        detail = "; ".join(f"{field}: {text}" for field, text in sorted(errors.items()))
        await self.ctx.publisher.dead_letter("invalid_submission", detail[:2000], body,
                                             headers={"content-type": request.headers.get("content-type", "")})
        return errors_response(errors, status)

    def _fields(self, values: dict[str, str], errors: form.Errors) -> dict[str, Any]:
        settings = self.settings
        description = form.text(values, "description", errors, required=True,
                                max_chars=settings.max_description_chars, label="description")
        category = form.text(values, "category", errors, max_chars=100)
        if category and settings.categories and category not in settings.categories:
            errors.add("category", "unknown category; one of: " + ", ".join(settings.categories))
        lat = form.number(values, "lat", errors, -90, 90)
        lon = form.number(values, "lon", errors, -180, 180)
        accuracy = form.number(values, "accuracy_m", errors, 0, 1_000_000)
        if (lat is None) != (lon is None) and "lat" not in errors.fields and "lon" not in errors.fields:
            errors.add("lon" if lon is None else "lat", "send both lat and lon, or neither")
        location = (AppPoint(lat=lat, lon=lon, source="gps", accuracy_m=accuracy)
                    if lat is not None and lon is not None else None)
        reporter = AppReporter(
            name=form.text(values, "name", errors, max_chars=200),
            phone=form.phone(values.get("phone") or "", "phone", errors),
            email=form.email(values.get("email") or "", "email", errors),
            nik=form.nik(values, "nik", errors),
            user_id=form.text(values, "user_id", errors, max_chars=128),
            anonymous=form.flag(values, "anonymous", errors),
        )
        return {"description": description or "", "category": category, "location": location,
                "address": form.text(values, "address", errors, max_chars=500), "reporter": reporter,
                "visibility": form.visibility(values, "visibility", errors)}

    async def _photos(self, uploads: list[UploadFile], submitted_at: datetime, errors: form.Errors
                      ) -> tuple[list[tuple[bytes, images.Photo, str]], bool]:
        """Read and check each photo; returns (data, what it is, name) and whether one was too large."""
        if not uploads:
            errors.add("photos", f"attach at least one photo ({images.accepted_formats()})")
            return [], False
        checked: list[tuple[bytes, images.Photo, str]] = []
        oldest = submitted_at - self.settings.max_photo_age
        limit = self.settings.max_photo_bytes
        read, too_large = await form.read_uploads(
            uploads, limit, errors, "photos", "photo {index} ({name})",
            lambda label, size: f"{label} is {size} bytes; the limit is {limit} bytes per photo")
        for label, name, data in read:
            try:
                photo = images.inspect(data, self.tz)
            except images.NotAnImage as err:
                errors.add("photos", f"{label} is {err}")
                continue
            if photo.taken_at is not None and photo.taken_at < oldest:
                errors.add("photos", self._too_old(label, photo.taken_at, submitted_at))
                continue
            checked.append((data, photo, name))
        return checked, too_large

    def _too_old(self, label: str, taken_at: datetime, submitted_at: datetime) -> str:
        age = submitted_at - taken_at
        hours, minutes = divmod(int(age.total_seconds()) // 60, 60)
        days, hours = divmod(hours, 24)
        ago = (f"{days} d " if days else "") + f"{hours} h {minutes} min"
        limit = self.settings.max_photo_age
        limit_text = f"{limit.total_seconds() / 3600:g} hours" if limit >= timedelta(hours=1) else str(limit)
        local = taken_at.astimezone(self.tz).strftime("%Y-%m-%d %H:%M %Z")
        return (f"{label} was taken at {local}, {ago} before this report; photos must be taken within "
                f"{limit_text} of reporting: take a new photo of the problem")

    async def status(self, request: Request) -> Response:
        """Any channel's report by its reference: the stage and its history (`kanal.references.report_status`,
        the one public view: no reporter fields; the text only of a public, non-anonymous report, masked)."""
        raw = str(request.path_params["ref"])
        report = await self.refs.report_status(self.ctx.media.js, raw)
        if report is None:
            if normalise_ref(raw) is None:
                return errors_response({"ref": "not a report reference; they look like KNL-XXXX-XXXX-XXXX"}, 404)
            return errors_response({"ref": "unknown reference: check it was typed as given; a report that was "
                                           "just sent is known within a minute"}, 404)
        return Response(msgspec.json.encode(report), media_type="application/json")

    async def page(self, request: Request) -> Response:
        """The citizen's status page: the same look-up as the API, as Indonesian HTML; rate-limited per address."""
        client = request.client.host if request.client else "?"
        if not self.page_limit.allow(client):
            self.log.warning("status_page_rate_limited", client=client)
            return HTMLResponse("<!doctype html><html lang=\"id\"><meta charset=\"utf-8\"><title>Terlalu banyak "
                                "permintaan</title><p>Terlalu banyak permintaan; coba lagi sebentar lagi.</p></html>",
                                status_code=429, headers={"Retry-After": "60", **PAGE_HEADERS})
        ref = str(request.path_params["ref"]).strip().upper()
        found = await status.lookup(self.refs, self.ctx.media.js, ref, self.log) if _REF.match(ref) else None
        html = status.page(found, self.names, datetime.now(UTC), ref if _REF.match(ref) else "")
        return HTMLResponse(html, status_code=200 if found else 404, headers=PAGE_HEADERS)

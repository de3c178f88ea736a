"""A local stand-in for Twilio's side: media URLs behind basic auth, and requests signed as Twilio signs them.

Its Messages API keeps WhatsApp's rules on the fake's own clock (`now`): a free-form `Body` to `whatsapp:<n>`
only within 24 hours of that customer's latest message (`customer_wrote`), else error 63016; a Content template
(`ContentSid`) only when registered (`content`), approved for WhatsApp, and with as many `ContentVariables` as
it has variables (errors 21655, 63027, 63028). Twilio may accept such a message and report the error in its
status callback instead; the fake always answers at once, with Twilio's error body.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from tests.fakes.serve import serving

ACCOUNT_SID = "AC1a03647d811fab342c0ad608e382fab2"
AUTH_TOKEN = "twilio-auth-token-0123456789abcdef"


def sign(url: str, pairs: list[tuple[str, str]], token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature for a form POST to `url`, computed by the twilio library itself."""
    params: dict[str, list[str]] = {}
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    return str(RequestValidator(token).compute_signature(url, _Multi(params)))


class _Multi(dict[str, list[str]]):
    def getlist(self, name: str) -> list[str]:
        return self[name]


def form(pairs: list[tuple[str, str]] | dict[str, str]) -> bytes:
    """The form body as Twilio sends it (application/x-www-form-urlencoded, `+` for spaces)."""
    items = list(pairs.items()) if isinstance(pairs, dict) else pairs
    return urlencode(items).encode()


WINDOW = timedelta(hours=24)


@dataclass
class FakeContent:
    """A Content template of the account (HX...), with its number of variables and WhatsApp approval."""

    variables: int
    whatsapp: str = "approved"  # or "rejected", "paused", "pending"


@dataclass
class TwilioMedia:
    """Serves /2010-04-01/Accounts/{sid}/Messages/{msid}/Media/{id} like api.twilio.com (basic auth)."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    port: int = 0
    # Messages API (replies): every POST as received, and what to answer next (status, Twilio error body).
    sent: list[SentMessage] = field(default_factory=list)
    errors: list[tuple[int, dict[str, object]]] = field(default_factory=list)
    received: asyncio.Event = field(default_factory=asyncio.Event)
    hold: asyncio.Event | None = None  # when set, answers only after this event (a send "in flight")
    # WhatsApp's rules: the fake's clock (None: the real time), each customer's latest message
    # ("whatsapp:+62..." -> time), and the account's Content templates (HX... -> template).
    now: datetime | None = None
    last_inbound: dict[str, datetime] = field(default_factory=dict)
    contents: dict[str, FakeContent] = field(default_factory=dict)

    def customer_wrote(self, address: str, at: datetime) -> None:
        """The customer `whatsapp:<number>` wrote to the business at `at` (opens the 24-hour window)."""
        self.last_inbound[address] = max(at, self.last_inbound.get(address, at))

    def content(self, sid: str, variables: int, whatsapp: str = "approved") -> None:
        """Register a Content template."""
        self.contents[sid] = FakeContent(variables=variables, whatsapp=whatsapp)

    def whatsapp_refusal(self, fields: dict[str, str]) -> tuple[int, dict[str, object]] | None:
        """Twilio's answer when this WhatsApp message would not be sent, else None."""
        to = fields.get("To", "")
        if not to.startswith("whatsapp:"):
            return None
        sid = fields.get("ContentSid")
        if sid is None:
            last = self.last_inbound.get(to)
            if last is None or (self.now or datetime.now(UTC)) - last > WINDOW:
                return twilio_error(63016, "Failed to send freeform message because you are outside the allowed "
                                           "window. If you are using WhatsApp, please use a Message Template.")
            return None
        found = self.contents.get(sid)
        if found is None:
            return twilio_error(21655, "The ContentSid is Invalid")
        if found.whatsapp != "approved":
            return twilio_error(63027, "Template does not exist for a language and locale")
        try:
            variables = json.loads(fields.get("ContentVariables") or "{}")
        except ValueError:
            return twilio_error(21656, "The ContentVariables Parameter is invalid")
        if not isinstance(variables, dict) or len(variables) != found.variables:
            return twilio_error(63028, "Number of parameters provided does not match the expected number of "
                                       "parameters")
        return None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, message_sid: str, media_sid: str) -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages/{message_sid}/Media/{media_sid}"

    def app(self) -> Starlette:
        async def media(request: Request) -> Response:
            self.requests.append(request.url.path)
            expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
            if request.headers.get("authorization") != expected:
                return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401,
                                     "more_info": "https://www.twilio.com/docs/errors/20003"}, status_code=401)
            found = self.media.get(request.path_params["media_sid"])
            if found is None:
                return JSONResponse({"code": 20404, "message": "The requested resource was not found",
                                     "status": 404}, status_code=404)
            data, media_type = found
            return Response(data, media_type=media_type)

        async def messages(request: Request) -> Response:
            pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True)
            self.sent.append(SentMessage(method=request.method, path=request.url.path,
                                         authorization=request.headers.get("authorization", ""),
                                         content_type=request.headers.get("content-type", ""), form=pairs))
            self.received.set()
            if self.hold is not None:
                await self.hold.wait()
            expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
            if request.headers.get("authorization") != expected:
                return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401,
                                     "more_info": "https://www.twilio.com/docs/errors/20003"}, status_code=401)
            if self.errors:
                status, body = self.errors.pop(0)
                return JSONResponse(body, status_code=status)
            refused = self.whatsapp_refusal(dict(pairs))
            if refused is not None:
                return JSONResponse(refused[1], status_code=refused[0])
            return JSONResponse(created_message(self.account_sid, len(self.sent), dict(pairs)), status_code=201)

        return Starlette(routes=[
            Route("/2010-04-01/Accounts/{sid}/Messages/{message_sid}/Media/{media_sid}", media),
            Route("/2010-04-01/Accounts/{sid}/Messages.json", messages, methods=["POST"]),
        ])


@dataclass
class SentMessage:
    """One Messages API request as Twilio would receive it."""

    method: str
    path: str
    authorization: str
    content_type: str
    form: list[tuple[str, str]]

    @property
    def fields(self) -> dict[str, str]:
        return dict(self.form)


def created_message(account_sid: str, n: int, form: dict[str, str]) -> dict[str, object]:
    """Twilio's 201 body for a created Message resource (fields as in the API reference)."""
    sid = f"SM{n:032x}"
    return {
        "account_sid": account_sid, "api_version": "2010-04-01", "body": form.get("Body", ""),
        "date_created": "Tue, 24 Nov 2026 03:00:00 +0000", "date_sent": None,
        "date_updated": "Tue, 24 Nov 2026 03:00:00 +0000", "direction": "outbound-api", "error_code": None,
        "error_message": None, "from": form.get("From"), "messaging_service_sid": None, "num_media": "0",
        "num_segments": "1", "price": None, "price_unit": "USD", "sid": sid, "status": "queued",
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"},
        "to": form.get("To"), "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
    }


def twilio_error(code: int, message: str, status: int = 400) -> tuple[int, dict[str, object]]:
    """An error answer in Twilio's format (code, message, more_info, status)."""
    return status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": status}


@asynccontextmanager
async def twilio_media() -> AsyncIterator[TwilioMedia]:
    """Serve a TwilioMedia on a free loopback port."""
    async with serving(TwilioMedia()) as fake:
        yield fake

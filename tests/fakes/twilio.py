"""A local stand-in for Twilio's side: media URLs behind basic auth, and requests signed as Twilio signs them."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from kanal import http

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


@dataclass
class TwilioMedia:
    """Serves /2010-04-01/Accounts/{sid}/Messages/{msid}/Media/{id} like api.twilio.com (basic auth)."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    port: int = 0

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

        return Starlette(routes=[Route("/2010-04-01/Accounts/{sid}/Messages/{message_sid}/Media/{media_sid}",
                                       media)])


@asynccontextmanager
async def twilio_media() -> AsyncIterator[TwilioMedia]:
    """Serve a TwilioMedia on a free loopback port."""
    fake = TwilioMedia()
    server, task = await http.start(fake.app(), "127.0.0.1", 0)
    fake.port = http.bound_port(server)
    try:
        yield fake
    finally:
        await http.stop(server, task)

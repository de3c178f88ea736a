"""The one Graph API client the three Meta products share (WhatsApp media lookups today).

Graph errors come as {"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}; they are turned
into PermanentError (token rejected: fix the config) or TransientError (rate limit, outage: try again).
"""

from __future__ import annotations

import httpx
import msgspec

from connectors.errors import PermanentError, TransientError
from kanal.settings_types import Secret

# Graph error codes: 190 invalid/expired token, 10/200-299 permission; 4/17/32/613/80007 rate limits.
_TOKEN_CODES = {190, 102, 10}
_RATE_CODES = {4, 17, 32, 613, 80007, 130429}


class GraphErrorBody(msgspec.Struct, kw_only=True):
    message: str = ""
    type: str = ""
    code: int | None = None
    error_subcode: int | None = None
    fbtrace_id: str | None = None


class GraphErrorEnvelope(msgspec.Struct, kw_only=True):
    error: GraphErrorBody


class MediaInfo(msgspec.Struct, kw_only=True):
    """GET /{media-id} on the Cloud API: a short-lived download URL (needs the same token)."""

    url: str
    mime_type: str | None = None
    sha256: str | None = None
    file_size: int | None = None
    id: str | None = None


_error = msgspec.json.Decoder(GraphErrorEnvelope)
_media = msgspec.json.Decoder(MediaInfo)


class GraphClient:
    """Calls `{graph_url}/{api_version}/...` with a Bearer token; the base URL is configurable for tests."""

    def __init__(self, http: httpx.AsyncClient, graph_url: str, api_version: str) -> None:
        self.http = http
        self.base = f"{graph_url.rstrip('/')}/{api_version.strip('/')}"

    async def media(self, media_id: str, token: Secret) -> MediaInfo:
        """Where to download one WhatsApp media object."""
        body = await self._get(f"/{media_id}", token)
        try:
            return _media.decode(body)
        except msgspec.DecodeError as err:
            raise TransientError(f"Graph media lookup {media_id}: unexpected answer: {err}") from err

    def authorised(self, url: str) -> bool:
        """True for URLs that need the Graph token (Graph itself and WhatsApp's lookaside media host)."""
        return url.startswith(self.base + "/") or httpx.URL(url).host.endswith(".fbsbx.com")

    async def _get(self, path: str, token: Secret) -> bytes:
        try:
            response = await self.http.get(self.base + path, headers=bearer(token))
        except httpx.HTTPError as err:
            raise TransientError(f"Graph API unreachable: {err!r}") from err
        if response.status_code < 400:
            return response.content
        raise graph_error(response)


def bearer(token: Secret) -> dict[str, str]:
    """The Authorization header for a Graph token."""
    return {"Authorization": f"Bearer {token.reveal()}"}


def graph_error(response: httpx.Response) -> PermanentError | TransientError:
    """Classify a Graph error answer; the message names the Graph code and what to do."""
    try:
        body = _error.decode(response.content).error
    except msgspec.DecodeError:
        body = GraphErrorBody(message=response.text[:200])
    what = f"Graph API {response.status_code} ({body.type} code {body.code}): {body.message}"
    if body.code in _TOKEN_CODES or response.status_code == 401:
        return PermanentError(what, hint="renew the access token (access_token / access_tokens) of this "
                              "[connectors.<instance>] section; a system-user token does not expire",
                              credentials=True)
    if body.code in _RATE_CODES or response.status_code == 429:
        return TransientError(what)
    if response.status_code >= 500:
        return TransientError(what)
    return PermanentError(what, hint="the object is gone or this token may not read it")

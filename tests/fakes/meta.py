"""A local stand-in for Meta's Graph API and CDNs, speaking Graph's JSON (and its error format).

Serves WhatsApp Cloud API media the documented way (GET /{version}/{media-id} with a Bearer token ->
{"url": ...}; GET that URL with the same token -> bytes) and public CDN files as Messenger/Instagram use.
The connector's real httpx code calls it through `graph_url`.

WhatsApp sends keep Meta's rules on the fake's own clock (`now`): free-form messages only within 24 hours of
the customer's latest message (`customer_wrote`), else error 131047 "Re-engagement message"; templates only
when registered (`approve`) under that name and language code, approved (not paused or disabled) and with the
body's number of parameters (errors 132001, 132015, 132016, 132000). Meta may report some of these in a status
webhook instead of the answer; the fake always answers them at once.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.serve import serving

VERSION = "v21.0"


@dataclass
class Media:
    data: bytes
    mime_type: str


WINDOW = timedelta(hours=24)
RE_ENGAGEMENT = ("Message failed to send because more than 24 hours have passed since the customer last replied "
                 "to this number.")


@dataclass
class FakeTemplate:
    """A message template as the WhatsApp Business Account holds it."""

    body_params: int
    status: str = "APPROVED"  # or PAUSED, DISABLED


@dataclass
class FakeGraph:
    """Media by id (WhatsApp), files on a CDN path (Messenger/Instagram), and a record of every request."""

    token: str = "EAAG-fake-graph-token-123456"
    media: dict[str, Media] = field(default_factory=dict)
    cdn: dict[str, Media] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    port: int = 0
    # Replies: every POST /{version}/{node}/{edge} as received, and error answers to give next (status, error).
    sent: list[GraphPost] = field(default_factory=list)
    errors: list[tuple[int, dict[str, object]]] = field(default_factory=list)
    # WhatsApp's rules: the fake's clock (None: the real time), each customer's latest message (wa_id -> time),
    # and the account's templates ((name, language code) -> template).
    now: datetime | None = None
    last_inbound: dict[str, datetime] = field(default_factory=dict)
    templates: dict[tuple[str, str], FakeTemplate] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def customer_wrote(self, wa_id: str, at: datetime) -> None:
        """The customer `wa_id` sent the business a message at `at` (opens the 24-hour window)."""
        self.last_inbound[wa_id] = max(at, self.last_inbound.get(wa_id, at))

    def approve(self, name: str, language: str, body_params: int, status: str = "APPROVED") -> None:
        """Register a template of the business account."""
        self.templates[(name, language)] = FakeTemplate(body_params=body_params, status=status)

    def whatsapp_refusal(self, body: dict[str, object]) -> Response | None:
        """Meta's answer when the Cloud API would not send this message, else None."""
        to = str(body.get("to") or body.get("recipient") or "")
        if body.get("type") != "template":
            last = self.last_inbound.get(to)
            if last is None or (self.now or datetime.now(UTC)) - last > WINDOW:
                return whatsapp_error(131047, "Re-engagement message", RE_ENGAGEMENT)
            return None
        call = body.get("template")
        call = call if isinstance(call, dict) else {}
        language = call.get("language")
        code = str(language.get("code", "")) if isinstance(language, dict) else ""
        name = str(call.get("name", ""))
        template = self.templates.get((name, code))
        if template is None:
            return whatsapp_error(132001, "Template name does not exist in the translation",
                                  f"template name ({name}) does not exist in {code}")
        if template.status == "PAUSED":
            return whatsapp_error(132015, "Template is Paused", f"template ({name}) is paused due to low quality")
        if template.status == "DISABLED":
            return whatsapp_error(132016, "Template is Disabled", f"template ({name}) is disabled")
        given = 0
        components = call.get("components")
        for component in components if isinstance(components, list) else []:
            if isinstance(component, dict) and component.get("type") == "body":
                parameters = component.get("parameters")
                given += len(parameters) if isinstance(parameters, list) else 0
        if given != template.body_params:
            return whatsapp_error(132000, "Number of parameters does not match the expected number of params",
                                  f"body: number of localizable_params ({given}) does not match the expected "
                                  f"number of params ({template.body_params})")
        return None

    def cdn_url(self, name: str) -> str:
        """A public, signed-looking CDN URL like scontent.xx.fbcdn.net gives."""
        return f"{self.base_url}/cdn/{name}?_nc_ad=z-m&oh=e44af5a4c973541ef56333202f160720&oe=58ECF78B"

    def app(self) -> Starlette:
        def graph_error(status: int, message: str, kind: str, code: int, subcode: int | None = None) -> Response:
            error: dict[str, object] = {"message": message, "type": kind, "code": code,
                                        "fbtrace_id": "AbCdEfGhIjKlMnOpQrStUv"}
            if subcode is not None:
                error["error_subcode"] = subcode
            return JSONResponse({"error": error}, status_code=status,
                                headers={"www-authenticate": 'OAuth "Facebook Platform" "invalid_token"'}
                                if code == 190 else None)

        def authorised(request: Request) -> bool:
            return request.headers.get("authorization") == f"Bearer {self.token}"

        async def media_info(request: Request) -> Response:
            media_id = request.path_params["media_id"]
            self.requests.append(("lookup", media_id, request.headers.get("authorization")))
            if request.path_params["version"] != VERSION:
                return graph_error(400, f"Unknown path components: /{request.path_params['version']}",
                                   "OAuthException", 2500)
            if not authorised(request):
                return graph_error(401, "Invalid OAuth access token - Cannot parse access token",
                                   "OAuthException", 190)
            item = self.media.get(media_id)
            if item is None:
                return graph_error(400, f"(#100) Unsupported get request. Object with ID '{media_id}' does not "
                                   "exist, cannot be loaded due to missing permissions, or does not support "
                                   "this operation. Please read the Graph API documentation at "
                                   "https://developers.facebook.com/docs/graph-api", "GraphMethodException",
                                   100, 33)
            url = (f"{self.base_url}/whatsapp_business/attachments/?mid={media_id}&ext=1697043379"
                   f"&hash=ATtq3Yk0hUuZ5Bc")
            return JSONResponse({
                "url": url, "mime_type": item.mime_type,
                "sha256": hashlib.sha256(item.data).hexdigest(), "file_size": len(item.data), "id": media_id,
                "messaging_product": "whatsapp",
            })

        async def lookaside(request: Request) -> Response:
            media_id = request.query_params.get("mid", "")
            self.requests.append(("download", media_id, request.headers.get("authorization")))
            if not authorised(request):
                return Response(b"", status_code=401)
            item = self.media.get(media_id)
            if item is None:
                return Response(b"", status_code=404)
            return Response(item.data, media_type=item.mime_type)

        async def cdn(request: Request) -> Response:
            name = request.path_params["name"]
            self.requests.append(("cdn", name, request.headers.get("authorization")))
            item = self.cdn.get(name)
            if item is None:
                return Response(b"URL signature expired", status_code=403)
            return Response(item.data, media_type=item.mime_type)

        async def post_edge(request: Request) -> Response:
            node, edge = request.path_params["node"], request.path_params["edge"]
            body = json.loads(await request.body() or b"{}")
            self.sent.append(GraphPost(path=request.url.path, authorization=request.headers.get("authorization"),
                                       content_type=request.headers.get("content-type", ""), body=body))
            if request.path_params["version"] != VERSION:
                return graph_error(400, "Unknown path components", "OAuthException", 2500)
            if not authorised(request):
                return graph_error(401, "Invalid OAuth access token - Cannot parse access token",
                                   "OAuthException", 190)
            if self.errors:
                status, error = self.errors.pop(0)
                return JSONResponse({"error": {**error, "fbtrace_id": "AbCdEfGhIjKlMnOpQrStUv"}},
                                    status_code=status)
            n = len(self.sent)
            if edge == "messages" and body.get("messaging_product") == "whatsapp":
                refused = self.whatsapp_refusal(body)
                if refused is not None:
                    return refused
                return JSONResponse({"messaging_product": "whatsapp",
                                     "contacts": [whatsapp_contact(body)],
                                     "messages": [{"id": f"wamid.HBgNNjI4MTIzNDU2Nzg5MBEAIGVzdC{n:04d}=="}]})
            if edge == "messages":
                recipient = body.get("recipient", {})
                return JSONResponse({"recipient_id": recipient.get("id", "6253972964654299"),
                                     "message_id": f"m_reply-{n}"})
            if edge in ("comments", "replies"):
                return JSONResponse({"id": f"{node.split('_')[-1]}_{900 + n}"})
            return graph_error(400, f"(#100) Unknown edge {edge}", "OAuthException", 100)

        return Starlette(routes=[
            Route("/{version}/{node}/{edge}", post_edge, methods=["POST"]),
            Route("/whatsapp_business/attachments/", lookaside),
            Route("/cdn/{name}", cdn),
            Route("/{version}/{media_id}", media_info),
        ])


@dataclass
class GraphPost:
    """One Graph POST as Meta would receive it."""

    path: str
    authorization: str | None
    content_type: str
    body: dict[str, object]


def graph_failure(status: int, code: int, message: str, kind: str = "OAuthException",
                  subcode: int | None = None) -> tuple[int, dict[str, object]]:
    """An error answer in Graph's format, for FakeGraph.errors."""
    error: dict[str, object] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return status, error


def whatsapp_contact(body: dict[str, object]) -> dict[str, object]:
    """The Cloud API's `contacts[]` entry of a send: `wa_id` for a phone number (`to` wins when both are given),
    `user_id` for a business-scoped user id sent in `recipient`."""
    if body.get("to"):
        return {"input": body["to"], "wa_id": body["to"]}
    return {"input": body.get("recipient"), "user_id": body.get("recipient")}


def whatsapp_error(code: int, title: str, details: str) -> Response:
    """A Cloud API refusal: HTTP 400, Graph's error object with WhatsApp's `error_data.details`."""
    return JSONResponse({"error": {"message": f"(#{code}) {title}", "type": "OAuthException", "code": code,
                                   "error_data": {"messaging_product": "whatsapp", "details": details},
                                   "fbtrace_id": "AbCdEfGhIjKlMnOpQrStUv"}}, status_code=400)


def sha256_b64(data: bytes) -> str:
    """The base64 sha256 WhatsApp puts in webhook media objects."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@asynccontextmanager
async def fake_graph() -> AsyncIterator[FakeGraph]:
    """Serve a FakeGraph on a free loopback port."""
    async with serving(FakeGraph()) as graph:
        yield graph

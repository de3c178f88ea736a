"""A local Bot API server: getMe, getUpdates (offset confirms), getFile and file download, in real Bot API JSON."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.serve import FakeProvider, serving

BOT_ID = 7012345678
TOKEN = f"{BOT_ID}:AAHfake-Token_for-Kanal-tests-0123456789"
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Kanal Jakarta", "username": "kanal_jakarta_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False,
            "can_connect_to_business": False, "has_main_web_app": False}
DESCRIPTIONS = {400: "Bad Request: invalid offset", 401: "Unauthorized", 403: "Forbidden: bot was blocked",
                404: "Not Found", 409: "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first", 429: "Too Many Requests: retry after 1",
                500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def error(status: int) -> JSONResponse:
    """A Bot API error body, with `parameters.retry_after` for flood control as Telegram sends it."""
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": DESCRIPTIONS.get(status, "Error")}
    if status == 429:
        body["parameters"] = {"retry_after": 1}
    return JSONResponse(body, status_code=status)


@dataclass
class FakeBotApi(FakeProvider):
    """Holds pending updates and files; `fail(status)` answers every call with that error."""

    token: str = TOKEN
    updates: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    next_id: int = 815000001
    extra_settings: dict[str, Any] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    # sendMessage: each request as received (HTTP method, path with the token, params) and errors to give next.
    sent: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    send_errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def settings(self) -> dict[str, Any]:
        """A polling instance's config section pointing here."""
        return {"bot_token": self.token, "mode": "polling", "base_url": self.base_url,
                "long_poll_timeout": 0, **self.extra_settings}

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue one update (its update_id assigned here, sequentially, as Telegram does)."""
        update = {"update_id": self.next_id, **update}
        self.next_id += 1
        self.updates.append(update)
        self.arrived.set()
        return update

    def add(self, count: int) -> None:
        for _ in range(count):
            text = f"Pohon tumbang di Jl. Sudirman #{self.next_id}"
            self.push({"message": text_message(self.next_id % 100000, text)})

    def add_file(self, file_id: str, data: bytes, path: str) -> None:
        self.files[file_id] = (path, data)

    def app(self) -> Starlette:
        async def method(request: Request) -> Response:
            if request.path_params["token"] != self.token:
                return error(401)
            if self.status is not None:
                return error(self.status)
            params = await _params(request)
            name = request.path_params["method"]
            self.calls.append((name, params))
            if name == "getMe":
                return _ok(BOT_USER)
            if name == "getUpdates":
                offset = int(params.get("offset") or 0)
                limit = int(params.get("limit") or 100)
                if offset:
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
                if not self.updates and float(params.get("timeout") or 0) > 0:  # a long poll: hold the request
                    self.arrived.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.arrived.wait(), float(params["timeout"]))
                return _ok(self.updates[:limit])
            if name == "sendMessage":
                self.sent.append((request.method, request.url.path, params))
                if self.send_errors:
                    status, description = self.send_errors.pop(0)
                    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
                    if status == 429:
                        body["parameters"] = {"retry_after": 7}
                    return JSONResponse(body, status_code=status)
                reply = params.get("reply_parameters")
                result = {"message_id": 9000 + len(self.sent), "date": 1763953300, "from": BOT_USER,
                          "chat": {"id": int(params["chat_id"]), "type": "private"}, "text": params.get("text")}
                if isinstance(reply, dict):
                    result["reply_to_message"] = {"message_id": reply["message_id"], "date": 1763953200,
                                                  "chat": result["chat"]}
                return _ok(result)
            if name == "getFile":
                found = self.files.get(str(params.get("file_id")))
                if found is None:
                    return JSONResponse({"ok": False, "error_code": 400,
                                         "description": "Bad Request: invalid file_id"}, status_code=400)
                path, data = found
                return _ok({"file_id": params["file_id"], "file_unique_id": "AgADuq0xG", "file_size": len(data),
                            "file_path": path})
            return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, status_code=404)

        async def download(request: Request) -> Response:
            if request.path_params["token"] != self.token:
                return error(401)
            for path, data in self.files.values():
                if path == request.path_params["path"]:
                    return Response(data, media_type="application/octet-stream")
            return error(404)

        return Starlette(routes=[Route("/bot{token}/{method}", method, methods=["GET", "POST"]),
                                 Route("/file/bot{token}/{path:path}", download)])


async def _params(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("application/json"):
        body: dict[str, Any] = await request.json()
        return body
    form = await request.form()
    params: dict[str, Any] = dict(request.query_params)
    for key, value in form.items():
        text = value if isinstance(value, str) else ""
        try:
            params[key] = json.loads(text)
        except ValueError:
            params[key] = text
    return params


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def user(user_id: int = 5512345678, first: str = "Budi", last: str | None = "Santoso",
         username: str | None = "budisantoso") -> dict[str, Any]:
    found: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first, "language_code": "id"}
    if last:
        found["last_name"] = last
    if username:
        found["username"] = username
    return found


def message(message_id: int, sender: dict[str, Any] | None = None, chat_id: int | None = None,
            **content: Any) -> dict[str, Any]:
    """A Message in Bot API JSON: a private chat with the sender unless `chat_id` names a group."""
    sender = sender or user()
    chat: dict[str, Any] = ({"id": sender["id"], "first_name": sender["first_name"], "type": "private"}
                            if chat_id is None else {"id": chat_id, "title": "Warga RW 05 Kemang",
                                                     "type": "supergroup"})
    return {"message_id": message_id, "from": sender, "chat": chat, "date": 1763953200, **content}


def text_message(message_id: int, text: str, **content: Any) -> dict[str, Any]:
    return message(message_id, text=text, **content)


@asynccontextmanager
async def fake_bot_api() -> AsyncIterator[FakeBotApi]:
    """Serve a FakeBotApi on a free loopback port."""
    async with serving(FakeBotApi()) as fake:
        yield fake

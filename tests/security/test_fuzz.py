"""Property-based fuzzing of every HTTP endpoint: random bodies, headers and multipart parts never get a 5xx
or crash the process, and never publish half a report (every envelope has its raw payload and stored media).

Examples are drawn by hypothesis with a fixed budget and `derandomize=True`, so CI runs the same inputs every
time; the requests then go through the real app on a real nats-server (drawing first, then sending, keeps
each endpoint's set-up to one instance)."""

from __future__ import annotations

import json
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, urlencode

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client as NATS

from admin.console import Console
from connectors.app import spec as app_spec
from connectors.desk import spec as desk_spec
from connectors.meta import spec as meta_spec
from connectors.meta.signature import sign as meta_sign
from connectors.telegram import spec as telegram_spec
from connectors.testkit import Harness, harness
from connectors.twilio import spec as twilio_spec
from tests.connectors.desk.helpers import GAMBIR
from tests.connectors.telegram.cases import TEXT
from tests.fakes.telegram import TOKEN
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN
from tests.fakes.twilio import sign as twilio_sign

T = TypeVar("T")
BUDGET = 40  # examples per endpoint: the whole file stays well under a minute on a loaded machine


def draw(strategy: st.SearchStrategy[T], n: int = BUDGET) -> list[T]:
    """`n` examples of `strategy`, the same ones on every run."""
    found: list[T] = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(example: T) -> None:
        found.append(example)

    collect()
    return found


_header_name = st.sampled_from(["content-type", "content-length-x", "x-forwarded-for", "accept", "x-junk",
                                "content-encoding", "transfer-encoding-x", "idempotency-key", "cookie"])
_header_value = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
headers = st.dictionaries(_header_name, _header_value, max_size=4)
# raw header bytes (latin-1 on the server side): signatures and tokens compared as text must not crash
signature_bytes = st.one_of(st.binary(max_size=80), st.binary(max_size=64).map(lambda b: b"sha256=" + b))
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                  max_size=4), max_leaves=20)
bodies = st.one_of(
    st.binary(max_size=1500),
    _json.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 3000).map(lambda n: b"[" * n),
    st.sampled_from([TEXT, TEXT[:-7], TEXT.replace(b"815", b"-815"), b'{"update_id": 1e999}',
                     b'{"object": "page", "entry": [{"id": 1, "messaging": [{}]}]}', b"\xff\xfe{}"]),
)
form_pairs = st.lists(st.tuples(st.sampled_from(["Body", "From", "To", "MessageSid", "AccountSid", "NumMedia",
                                                 "MediaUrl0", "Latitude", "Longitude", "x"]),
                                st.text(max_size=40)), max_size=8)


async def no_half_reports(h: Harness) -> None:
    """Every published envelope has its raw payload and its stored attachments."""
    for env in await h.published():
        if env.raw is not None and env.raw.subject:
            assert await h.messages(env.raw.subject), f"{env.id} published without its raw payload"
        for attachment in env.attachments:
            if attachment.object_key:
                assert await h.instance.media.get(attachment.object_key), f"{env.id} lost {attachment.object_key}"


def client_of(h: Harness, base: str = "http://fuzz.test") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=h.instance.app()), base_url=base)


def ok(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:200]}"


async def test_telegram_webhook(nats_url: str) -> None:
    secret = "kanal-webhook-secret_0123456789"
    cases = draw(st.tuples(bodies, headers, st.one_of(st.booleans(), signature_bytes)))
    async with harness(telegram_spec, {"bot_token": TOKEN, "secret_token": secret}, nats_url) as h, \
            client_of(h) as client:
        for body, extra, signed in cases:
            token: str | bytes | None = secret if signed is True else (signed or None)
            sent: dict[str, Any] = {**extra, **({"X-Telegram-Bot-Api-Secret-Token": token} if token else {})}
            ok(await client.post("/telegram/webhook", content=body, headers=sent), f"telegram {body[:60]!r}")
        await no_half_reports(h)


async def test_meta_webhook(nats_url: str) -> None:
    secret = "meta-app-secret-123456"
    cases = draw(st.tuples(bodies, headers, st.one_of(st.booleans(), signature_bytes), st.dictionaries(
        st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge", "x"]), st.text(max_size=20), max_size=3)))
    async with harness(meta_spec, {"app_secret": secret, "verify_token": "verify-kanal-dki-123456"},
                       nats_url) as h, client_of(h) as client:
        for body, extra, signed, params in cases:
            value: str | bytes | None = meta_sign(secret, body) if signed is True else (signed or None)
            sent: dict[str, Any] = {**extra, **({"x-hub-signature-256": value} if value else {})}
            ok(await client.post("/webhook", content=body, headers=sent), f"meta {body[:60]!r}")
            ok(await client.get("/webhook", params=params, headers=extra), f"meta handshake {params}")
        await no_half_reports(h)


async def test_twilio_webhook(nats_url: str) -> None:
    public = "https://kanal.jakarta.go.id/hooks/twilio/inbound"
    settings_ = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "account": "+628111272206",
                 "public_url": "https://kanal.jakarta.go.id/hooks"}
    cases = draw(st.tuples(form_pairs, st.binary(max_size=300), headers, st.booleans(),
                           st.one_of(st.none(), signature_bytes)))
    async with harness(twilio_spec, settings_, nats_url) as h, client_of(h) as client:
        for pairs, junk, extra, as_form, forged in cases:
            body = urlencode([("AccountSid", ACCOUNT_SID), *pairs]).encode() if as_form else junk
            try:
                signature = twilio_sign(public, parse_qsl(body.decode(), keep_blank_values=True))
            except UnicodeDecodeError:
                signature = "x"
            sent: dict[str, Any] = {**extra, "content-type": "application/x-www-form-urlencoded",
                                    "X-Twilio-Signature": forged if forged is not None else signature}
            ok(await client.post("/twilio/inbound", content=body, headers=sent), f"twilio {body[:60]!r}")
        await no_half_reports(h)


_part = st.tuples(st.sampled_from(["description", "photos", "photo", "lat", "lon", "name", "phone", "email", "nik",
                                   "anonymous", "visibility", "category", "accuracy_m", "x"]),
                  st.one_of(st.text(max_size=60), st.binary(max_size=400)),
                  st.one_of(st.none(), st.text(max_size=20)),
                  st.sampled_from(["image/jpeg", "text/plain", "application/octet-stream", ""]))


async def test_app_api(nats_url: str) -> None:
    cases = draw(st.tuples(st.lists(_part, max_size=6), headers, st.binary(max_size=400), st.booleans(),
                           st.text(max_size=20)))
    async with harness(app_spec, {"max_body_bytes": 200_000}, nats_url) as h, client_of(h) as client:
        for parts, extra, junk, multipart, ref in cases:
            extra.pop("content-type", None)
            if multipart:
                files: list[tuple[str, Any]] = []
                data: list[tuple[str, str]] = []
                for name, value, filename, media_type in parts:
                    if filename is not None or isinstance(value, bytes):
                        raw = value if isinstance(value, bytes) else value.encode()
                        files.append((name, (filename or "f", raw, media_type or "application/octet-stream")))
                    else:
                        data.append((name, value))
                response = await client.post("/api/v1/reports", data=dict(data), files=files or None,
                                             headers=extra) if files else await client.post(
                    "/api/v1/reports", content=junk, headers={**extra, "content-type":
                                                              "multipart/form-data; boundary=kanal"})
            else:
                response = await client.post("/api/v1/reports", content=junk, headers=extra)
            ok(response, f"app {parts!r:.120}")
            ok(await client.get(f"/api/v1/reports/{quote(ref, safe='')}"), f"app status {ref!r}")
        await no_half_reports(h)


async def test_desk_pages(nats_url: str) -> None:
    cases = draw(st.tuples(st.dictionaries(st.sampled_from(["username", "password", "csrf", "key", "name", "nik",
                                                            "contact", "description", "x"]),
                                           st.text(max_size=40), max_size=6), headers,
                           st.sampled_from(["/desk/login", "/desk/", "/desk/logout", "/desk/x"])))
    async with harness(desk_spec, GAMBIR, nats_url, instance="desk-fuzz") as h, client_of(h) as client:
        for fields, extra, path in cases:
            extra.pop("content-type", None)
            ok(await client.post(path, data=fields, headers=extra), f"desk {path} {fields}")
        await no_half_reports(h)


async def test_console_pages(provisioned: NATS, console: Console) -> None:
    cases = draw(st.tuples(st.dictionaries(st.sampled_from(["username", "password", "csrf", "stage", "note",
                                                            "to_queue", "reason"]), st.text(max_size=40),
                                           max_size=5), headers,
                           st.sampled_from(["/login", "/logout", "/item/1/ack", "/item/99/stage", "/q/x"])))
    transport = httpx.ASGITransport(app=console.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for fields, extra, path in cases:
            extra.pop("content-type", None)
            extra.pop("cookie", None)
            ok(await client.post(path, data=fields, headers=extra), f"console {path} {fields}")
            ok(await client.get(path, headers=extra), f"console GET {path}")

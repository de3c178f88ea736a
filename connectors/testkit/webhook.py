"""Webhook cases in the style of courier's handlertest: each `testdata/<id>.json` is one whole HTTP request
(path, headers, body, the channel's signing step) with what it must give (status, envelopes, dead letters, log
lines), sent through the connector's real routes on a real nats-server, one test id per file.

A case file:

    {
      "description": "two messages in one delivery",
      "request": {"path": "/qlue/inbound", "body": {"events": [...]}},
      "status": 200,
      "response": "received",
      "envelopes": [{"external_id": "evt-1001", "reporter.contact": "+6281234567890"}],
      "dead_letters": [],
      "logs": ["envelope_accepted"]
    }

`request.body` is sent as is when it is a string, as compact JSON otherwise; `request.form` is sent
URL-encoded instead, or as multipart/form-data when the request has `files` (each `{"field", "name",
"content_type", "base64"}`: a photo or document upload). Each envelope expectation names fields by dotted
path and must match the published envelope at the same position; their number must match too.
`dead_letters` are the reasons on KANAL_DLQ in order, `logs` the event names that must be logged. With
`"sign": false` the test class's `sign` step is skipped (to prove an unsigned request is refused). The
request is sent again when it was accepted (a provider's retry): it must publish nothing new and get the
same status, or `repeat_status` when the channel answers a retry differently. A test class sets `instance`
when its signing step depends on the instance's name (a session bound to it).
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec

from connectors.testkit.harness import Harness, harness
from connectors.testkit.suite import Kit
from kanal import log
from schemas import Envelope
from schemas.deadletter import DeadLetter

BASE_URL = "http://kanal.test"
BOUNDARY = "kanal-kit-boundary-7MA4YWxkTrZu0gW"


class FilePart(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One uploaded file of a multipart request."""

    field: str
    name: str
    content_type: str
    base64: str


def multipart(fields: dict[str, str], files: list[FilePart]) -> bytes:
    """multipart/form-data (RFC 7578) with BOUNDARY: the fields, then the files."""
    out = bytearray()
    for name, value in fields.items():
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").encode()
    for part in files:
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{part.field}\"; "
                f"filename=\"{part.name}\"\r\nContent-Type: {part.content_type}\r\n\r\n").encode()
        out += base64.b64decode(part.base64) + b"\r\n"
    return bytes(out + f"--{BOUNDARY}--\r\n".encode())


class HttpRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The request as the provider sends it, before the signing step."""

    method: str = "POST"
    path: str
    headers: dict[str, str] = {}
    body: Any = None
    form: dict[str, str] | None = None
    files: list[FilePart] = []
    sign: bool = True

    def content(self) -> bytes:
        """The exact body bytes."""
        if self.files:
            return multipart(self.form or {}, self.files)
        if self.form is not None:
            return urlencode(self.form).encode()
        if self.body is None:
            return b""
        if isinstance(self.body, str):
            return self.body.encode()
        return msgspec.json.encode(self.body)

    def content_type(self) -> str | None:
        """The Content-Type to send when the case does not set one."""
        if self.files:
            return f"multipart/form-data; boundary={BOUNDARY}"
        if self.form is not None:
            return "application/x-www-form-urlencoded"
        return None if self.body is None or isinstance(self.body, str) else "application/json"


class HttpCase(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One request and everything it must give."""

    description: str = ""
    request: HttpRequest
    status: int
    repeat_status: int | None = None  # what the provider's retry of an accepted request gets (default: `status`)
    response: str | None = None
    envelopes: list[dict[str, Any]] = []
    dead_letters: list[str] = []
    logs: list[str] = []
    settings: dict[str, Any] = {}   # this case's changes to the test class's instance settings


class SignedRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What a signing step sees: the method, the full URL the connector sees, the headers and the exact body."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def load_cases(directory: Path) -> list[tuple[str, HttpCase]]:
    """Every `*.json` in `directory`, named by file stem, sorted."""
    cases = []
    for path in sorted(directory.glob("*.json")):
        try:
            cases.append((path.stem, msgspec.json.decode(path.read_bytes(), type=HttpCase)))
        except msgspec.ValidationError as err:
            raise AssertionError(f"{path}: {err}") from err
    return cases


class Exchange(msgspec.Struct, frozen=True, kw_only=True):
    """What one case gave: the response, what reached the bus, and the log lines it wrote."""

    status: int
    text: str
    envelopes: list[Envelope]
    dead_letters: list[DeadLetter]
    logs: str
    repeat_status: int | None = None
    repeat_envelopes: list[Envelope] = []

    def events(self) -> list[str]:
        """The event names of the JSON log lines."""
        found = []
        for line in self.logs.splitlines():
            try:
                found.append(str(json.loads(line).get("event")))
            except ValueError:
                continue
        return found


class WebhookContract(Kit):
    """HTTP cases through the connector's real routes. Set `spec`, `settings`, `secrets`, `testdata` (the
    folder of case files) and, when the provider signs its requests, override `sign`."""

    def test_testdata_has_cases(self) -> None:
        assert self.testdata is not None, "set testdata to the folder of the channel's request cases"
        assert load_cases(self.testdata), f"no *.json request cases in {self.testdata}"

    async def test_request_as_declared(self, http_case: tuple[str, HttpCase], kanal_nats_url: str) -> None:
        name, case = http_case
        check(name, case, await self.exchange(case, kanal_nats_url))

    async def test_request_logs_keep_secrets_and_contacts_out(self, http_case: tuple[str, HttpCase],
                                                               kanal_nats_url: str) -> None:
        name, case = http_case
        check_logs(name, await self.exchange(case, kanal_nats_url), self.secrets)

    def sign(self, request: SignedRequest) -> dict[str, str]:
        """The headers the provider's signing step adds (none by default)."""
        return {}

    async def exchange(self, case: HttpCase, nats_url: str) -> Exchange:
        """Send the case's request (and, if it was accepted, the same request again, as a provider retry)."""
        out = io.StringIO()
        log.configure("debug", "json", stream=out)
        try:
            async with harness(self.spec, {**self.settings, **case.settings}, nats_url, self.instance) as h:
                first = await self._send(h, case)
                envelopes = await h.published()
                repeat: httpx.Response | None = None
                again: list[Envelope] = []
                if first.status_code < 300 and envelopes:
                    repeat = await self._send(h, case)
                    again = await h.published()
                letters = await h.dead_letters()
        finally:
            log.configure("debug", "json")
        return Exchange(status=first.status_code, text=first.text, envelopes=envelopes, dead_letters=letters,
                        logs=out.getvalue(), repeat_status=repeat.status_code if repeat is not None else None,
                        repeat_envelopes=again)

    async def _send(self, h: Harness, case: HttpCase) -> httpx.Response:
        request = case.request
        body = request.content()
        headers = dict(request.headers)
        content_type = request.content_type()
        if content_type and not any(k.lower() == "content-type" for k in headers):
            headers["content-type"] = content_type
        if request.sign:
            headers.update(self.sign(SignedRequest(method=request.method, url=BASE_URL + request.path,
                                                   headers=headers, body=body)))
        transport = httpx.ASGITransport(app=h.instance.app())
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            return await client.request(request.method, request.path, content=body, headers=headers)


def field(envelope: Envelope, path: str) -> Any:
    """The value at a dotted path of an envelope (`reporter.contact`, `location.lat`, `attachments.0.kind`), as
    its JSON wire form has it (so a case's `"flags": ["whatsapp"]` compares with the envelope's tuple)."""
    value: Any = msgspec.json.decode(msgspec.json.encode(envelope))
    for part in path.split("."):
        if isinstance(value, list):
            value = value[int(part)] if part.isdigit() and int(part) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def check(name: str, case: HttpCase, got: Exchange) -> None:
    """Assert everything the case declares, naming the case and the first difference."""
    assert got.status == case.status, f"{name}: status {got.status}, expected {case.status}: {got.text[:300]}"
    if case.response is not None:
        assert case.response in got.text, f"{name}: response {got.text[:300]!r} lacks {case.response!r}"
    assert len(got.envelopes) == len(case.envelopes), \
        f"{name}: {len(got.envelopes)} envelopes published, expected {len(case.envelopes)}"
    for n, (envelope, expected) in enumerate(zip(got.envelopes, case.envelopes, strict=True)):
        for path, value in expected.items():
            assert field(envelope, path) == value, \
                f"{name}: envelope {n} {path} = {field(envelope, path)!r}, expected {value!r}"
    reasons = [letter.reason for letter in got.dead_letters]
    assert reasons == case.dead_letters, f"{name}: dead letters {reasons}, expected {case.dead_letters}"
    for letter in got.dead_letters:
        assert letter.detail, f"{name}: a dead letter must say why"
    missing = [event for event in case.logs if event not in got.events()]
    assert not missing, f"{name}: log events {missing} not written (got {sorted(set(got.events()))})"
    if got.repeat_status is not None:
        again = case.status if case.repeat_status is None else case.repeat_status
        assert got.repeat_status == again, f"{name}: the provider's retry got {got.repeat_status}, expected {again}"
        assert [e.id for e in got.repeat_envelopes] == [e.id for e in got.envelopes], \
            f"{name}: a retried request published again"


def check_logs(name: str, got: Exchange, secrets: list[str]) -> None:
    """No configured secret and no reporter contact of this request in its logs."""
    assert got.logs, f"{name}: the request wrote no log lines to check"
    for secret in secrets:
        assert secret not in got.logs, f"{name}: a configured secret reached the logs"
    for envelope in got.envelopes:
        contact = envelope.reporter.contact
        if contact and len(contact) > 6:
            assert contact not in got.logs, f"{name}: the reporter's contact reached the logs"


__all__ = ["FilePart", "HttpCase", "HttpRequest", "SignedRequest", "WebhookContract", "check", "check_logs",
           "load_cases"]

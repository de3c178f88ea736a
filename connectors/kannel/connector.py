"""The Kannel endpoints: smsbox's sms-service calls `path` for every SMS received, `dlr_path` for delivery reports.

Both are refused (403, nothing published) unless the caller is in `allow_from` and shows the shared secret. An
SMS is answered only once its envelope is safe (JetStream ack or the spool); the answer is empty, so smsbox
sends the citizen nothing itself (the notifier acknowledges with the report's reference).
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.base import Context
from connectors.errors import BadPayload, PermanentError, SignatureError
from connectors.kannel.normalise import MEDIA_TYPE, canonical
from connectors.kannel.sender import KannelSender, scrub
from connectors.kannel.settings import KannelSettings
from connectors.webhook import WebhookConnector
from kanal import bus, sends
from kanal.phone import e164
from schemas import subjects
from schemas.outbound import DeliveryState, OutboundMessage

SECRET_HEADER = "x-kanal-secret"  # noqa: S105 (a header name)
_SECRET = re.compile(r"^[A-Za-z0-9._~-]{16,}$")  # URL-safe: Kannel pastes it into URLs unescaped
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
# Kannel's dlr-url %d: the report types of its dlr-mask.
DLR_TYPES: dict[str, DeliveryState] = {"1": "delivered", "2": "failed", "4": "buffered", "8": "accepted",
                                       "16": "rejected"}
# post-url headers -> our field names (the sender is not among them: kannel.conf puts %p in the URL).
POST_HEADERS = {"x-kannel-from": "from", "x-kannel-to": "to", "x-kannel-time": "time", "x-kannel-smsc": "smsc",
                "x-kannel-coding": "coding", "x-kannel-service": "service", "x-kannel-udh": "udh"}


class KannelConnector(WebhookConnector[KannelSettings]):
    """GET/POST {path}: one received SMS per request; GET {dlr_path}: one delivery report."""

    def __init__(self, ctx: Context[KannelSettings]) -> None:
        super().__init__(ctx)
        if not _SECRET.match(self.settings.secret.reveal()):
            raise PermanentError("the Kannel secret must be at least 16 URL-safe characters (A-Z a-z 0-9 . _ ~ -)",
                                 hint="generate one with: python -c 'import secrets; print(secrets.token_urlsafe(24))'")
        try:
            self.allowed = [ipaddress.ip_network(entry, strict=False) for entry in self.settings.allow_from]
        except ValueError as err:
            raise PermanentError(f"allow_from: {err}", hint="list addresses or networks, e.g. \"10.0.0.0/24\"") from err
        self.account = e164(self.settings.account, self.settings.region) or self.settings.account
        self.sender = KannelSender(self.settings, self.account, self._dlr_base())

    def _dlr_base(self) -> str | None:
        if self.settings.callback_url:
            return self.settings.callback_url.rstrip("/")
        common = self.ctx.common
        if not common.port:
            self.log.warning("kannel_no_delivery_reports", hint="port is 0: set port or callback_url so Kannel "
                             "can report deliveries")
            return None
        host = "127.0.0.1" if common.host in ("0.0.0.0", "::", "") else common.host  # noqa: S104 (a wildcard bind)
        return f"http://{host}:{common.port}"

    def routes(self) -> list[BaseRoute]:
        """The sms-service endpoint (get-url or post-url) and the delivery-report endpoint."""
        return [Route(self.settings.path, self.guard(self.inbound), methods=["GET", "POST"]),
                Route(self.settings.dlr_path, self.guard(self.delivery), methods=["GET", "POST"])]

    def authorise(self, request: Request) -> None:
        """403 unless the caller's address is allowed and it shows the shared secret (query or header)."""
        host = request.client.host if request.client else ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError as err:
            raise SignatureError("address_not_allowed") from err
        if not any(address in network for network in self.allowed):
            raise SignatureError("address_not_allowed")
        shown = request.headers.get(SECRET_HEADER) or request.query_params.get("secret") or ""
        if not shown:
            raise SignatureError("missing_secret")
        if not hmac.compare_digest(shown.encode(), self.settings.secret.reveal().encode()):
            raise SignatureError("bad_secret")

    async def form(self, request: Request) -> bytes:
        """The request as the normaliser's canonical form: URL fields (secret removed), POST body as `text`."""
        query = request.scope.get("query_string", b"").decode("latin-1")
        fields = [(k, v.encode("latin-1")) for k, v in parse_qsl(query, keep_blank_values=True, encoding="latin-1")
                  if k != "secret"]
        if request.method == "POST":
            body = await self.read_body(request)
            named = {name for name, _ in fields}
            for header, name in POST_HEADERS.items():
                value = request.headers.get(header)
                if value is not None and name not in named:
                    fields.append((name, value.encode("latin-1")))
            charset = request.headers.get("content-type", "").partition("charset=")[2].strip().strip('"')
            if charset and "charset" not in named:
                fields.append(("charset", charset.encode("latin-1")))
            fields = [(k, v) for k, v in fields if k != "text"] + [("text", body)]
        fields.append(("region", self.settings.region.encode()))
        return canonical(fields)

    async def inbound(self, request: Request) -> Response:
        """Check the caller, publish (or spool), and only then answer 200 with an empty body."""
        self.authorise(request)
        await self.take(await self.form(request), self.account, MEDIA_TYPE)
        return PlainTextResponse("")

    async def delivery(self, request: Request) -> Response:
        """Record one delivery report on the message's send record (what the admin sees on the item)."""
        self.authorise(request)
        query = request.query_params
        item, message_id, kind = query.get("item", ""), query.get("msg", ""), query.get("type", "")
        state = DLR_TYPES.get(kind)
        if not _HEX32.match(item) or not _HEX32.match(message_id) or state is None:
            raise BadPayload("bad_delivery_report", f"item/msg/type not as Kanal's dlr-url sets them (type={kind!r})")
        when = query.get("at", "")
        at = datetime.fromtimestamp(int(when), UTC) if when.isdigit() else datetime.now(UTC)
        detail = scrub(query.get("reply", ""))[:160] or None
        kv = await bus.ensure_kv(self.ctx.publisher.jetstream(), subjects.KV_OUTBOUND, history=5)
        record = await sends.record_delivery(kv, item, message_id, state, at, detail)
        if record is None:
            self.log.warning("delivery_report_unknown", item_id=item, message_id=message_id, delivery=state)
        else:
            self.log.info("delivery_report", item_id=item, purpose=record.purpose, delivery=state)
        return PlainTextResponse("ok")

    async def send(self, message: OutboundMessage) -> str | None:
        """Answer the reporter by SMS through smsbox's sendsms (see sender.py)."""
        return await self.sender.send(message)

    async def close(self) -> None:
        """Close the sendsms client."""
        await self.sender.close()

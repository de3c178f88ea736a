"""The Meta app webhook: GET handshake, X-Hub-Signature-256 over the raw body, then every event published.

One endpoint serves Facebook pages, Instagram accounts and WhatsApp numbers; each envelope's account is the
id the event was addressed to. Meta is answered 200 once everything is acked or spooled (events we cannot
use are dead-lettered first: a non-2xx makes Meta retry the whole batch).
"""

from __future__ import annotations

import hmac

import httpx
import msgspec
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.base import Context
from connectors.errors import ConnectorError, PermanentError, SignatureError
from connectors.meta import signature, statuses
from connectors.meta.client import GraphClient, bearer
from connectors.meta.collect import account_list
from connectors.meta.sender import MetaSender
from connectors.meta.settings import MetaSettings
from connectors.meta.wacontent import MEDIA_SCHEME
from connectors.outbound import late
from connectors.outbound.sender import Sent
from connectors.webhook import WebhookConnector
from schemas import Attachment, Envelope
from schemas.outbound import OutboundMessage


class MetaConnector(WebhookConnector[MetaSettings]):
    """`GET|POST {path}`: the callback URL of the Meta app (Messenger, Instagram and WhatsApp products)."""

    def __init__(self, ctx: Context[MetaSettings]) -> None:
        super().__init__(ctx)
        self.accounts = account_list(self.settings.accounts())
        self._secret = self.settings.app_secret.reveal()
        self.http = httpx.AsyncClient(timeout=30, follow_redirects=True)
        self.graph = GraphClient(self.http, self.settings.graph_url, self.settings.api_version)
        self.sender = MetaSender(self.http, self.settings)

    async def start(self) -> None:
        """Say which accounts this instance serves (none listed: every account that reaches it)."""
        self.log.info("meta_accounts", pages=len(self.settings.page_ids),
                      instagram=len(self.settings.instagram_ids), whatsapp=len(self.settings.phone_number_ids),
                      any_account=self.accounts == "*")

    async def close(self) -> None:
        await self.http.aclose()

    async def send(self, message: OutboundMessage) -> Sent:
        """Answer the reporter on Messenger, Instagram or WhatsApp, or on the comment (see sender.py)."""
        return await self.sender.send(message)

    def routes(self) -> list[BaseRoute]:
        path = self.settings.path
        return [Route(path, self.guard(self.handshake), methods=["GET"]),
                Route(path, self.guard(self.receive), methods=["POST"])]

    async def handshake(self, request: Request) -> Response:
        """Meta's subscription check: echo hub.challenge if hub.verify_token is ours."""
        params = request.query_params
        if params.get("hub.mode") != "subscribe":
            raise SignatureError("handshake_not_subscribe")
        token = params.get("hub.verify_token", "")
        if not hmac.compare_digest(token.encode(), self.settings.verify_token.reveal().encode()):
            raise SignatureError("bad_verify_token")
        challenge = params.get("hub.challenge")
        if challenge is None:
            return PlainTextResponse("hub.challenge missing", status_code=400)
        self.log.info("webhook_verified")
        return PlainTextResponse(challenge)

    async def receive(self, request: Request) -> Response:
        """An event batch: signature first, then normalise + publish; 200 only once all of it is safe."""
        body = await self.read_body(request)
        problem = signature.problem(self._secret, body, request.headers.get(signature.HEADER))
        if problem is not None:
            raise SignatureError(problem)
        await self.take(body, self.accounts, "application/json")
        await late.record(self.ctx, statuses.read(body))  # WhatsApp's word on messages Kanal sent
        return PlainTextResponse("EVENT_RECEIVED")

    async def enrich(self, envelope: Envelope) -> Envelope:
        """Download media: Messenger/Instagram CDN URLs directly, WhatsApp media by id through the Graph API.

        Shared links ("other") are kept as links. A failure is recorded on the attachment, never dropped.
        """
        if not any(_wanted(a) for a in envelope.attachments):
            return envelope
        stored = [await self._fetch(envelope.account, a) if _wanted(a) else a for a in envelope.attachments]
        return msgspec.structs.replace(envelope, attachments=tuple(stored))

    async def _fetch(self, account: str, attachment: Attachment) -> Attachment:
        source = attachment.source_url or ""
        headers: dict[str, str] | None = None
        url = source
        if source.startswith(MEDIA_SCHEME) or self.graph.authorised(source):
            token = self.settings.token_for(account)
            if token is None:
                return msgspec.structs.replace(attachment, error="download failed: no access_token configured "
                                               f"for account {account}")
            headers = bearer(token)
            if source.startswith(MEDIA_SCHEME):
                media_id = source.removeprefix(MEDIA_SCHEME)
                try:
                    url = (await self.graph.media(media_id, token)).url
                except ConnectorError as err:
                    if isinstance(err, PermanentError) and err.credentials:
                        self.ctx.health.set_credentials(False, str(err))
                    self.log.warning("media_lookup_failed", media_id=media_id, account=account, error=str(err))
                    return msgspec.structs.replace(attachment, error=f"graph lookup failed: {err}")
        fetched = await self.ctx.media.fetch(url, media_type=attachment.media_type, name=attachment.name,
                                             headers=headers)
        return msgspec.structs.replace(fetched, kind=attachment.kind, source_url=source)


def _wanted(attachment: Attachment) -> bool:
    return bool(attachment.source_url) and not attachment.object_key and not attachment.error \
        and attachment.kind != "other"

"""What every connector gets from the runtime: its settings, a publisher, media, metrics and health state."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import msgspec

from connectors.errors import BadPayload
from connectors.media import MediaStore
from connectors.metrics import Metrics
from connectors.publisher import Delivery, Publisher
from connectors.spec import ChannelSpec, InstanceSettings, NormaliseContext, Normaliser, Outcome
from kanal import log
from schemas import Attachment, Envelope, jsondepth

S = TypeVar("S", bound=msgspec.Struct)


@dataclass
class Health:
    """Credential and silence state, reported by /readyz, metrics and one log event per change."""

    metrics: Metrics
    silence_after: float | None
    credentials_ok: bool = True
    credentials_error: str = ""
    last_success: float = field(default_factory=time.time)
    silent: bool = False
    stopping: bool = False  # set when shutdown begins: /readyz answers 503 from then on
    _log: Any = None

    def success(self, credentials_used: bool = False) -> None:
        """A receive or poll worked: the instance is alive.

        Only a call that used our credentials against the provider (a poll) proves them; a webhook receipt
        does not, so it never clears a credentials_rejected state that a media lookup or send set.
        """
        self.last_success = time.time()
        self.metrics.last_receive.set(self.last_success)
        if credentials_used and not self.credentials_ok:
            self.set_credentials(True)
        if self.silent:
            self.silent = False
            self.metrics.silent.set(0)
            self._event("instance_heard_again")

    def set_credentials(self, ok: bool, error: str = "") -> None:
        """Record whether the provider accepts our credentials; logs only when it changes."""
        if ok != self.credentials_ok:
            self.credentials_ok = ok
            self.credentials_error = error
            self.metrics.credentials_ok.set(1 if ok else 0)
            self._event("credentials_accepted" if ok else "credentials_rejected", error=error)

    def check_silence(self) -> bool:
        """True (and logged once) when nothing was received for longer than `silence_after`."""
        if self.silence_after is None:
            return False
        silent = time.time() - self.last_success > self.silence_after
        if silent != self.silent:
            self.silent = silent
            self.metrics.silent.set(1 if silent else 0)
            if silent:
                self._event("instance_silent", silent_for_s=round(time.time() - self.last_success),
                            silence_after_s=self.silence_after)
        return silent

    def _event(self, name: str, **fields: Any) -> None:
        logger = self._log or log.get("health")
        logger.warning(name, **fields) if name in ("instance_silent", "credentials_rejected") else logger.info(
            name, **fields)


@dataclass
class Accepted:
    """What one raw input became after publishing."""

    envelopes: list[Envelope]
    deliveries: list[Delivery]
    rejected: int = 0
    ignored: int = 0

    @property
    def spooled(self) -> bool:
        return "spooled" in self.deliveries


class Context(Generic[S]):
    """Handed to a connector: everything it needs besides its provider's API."""

    def __init__(self, spec: ChannelSpec, instance: str, common: InstanceSettings, settings: S,
                 publisher: Publisher, media: MediaStore, metrics: Metrics, health: Health,
                 notifier_answers: bool = False) -> None:
        self.spec = spec
        self.channel = spec.id
        self.instance = instance
        self.common = common
        self.settings = settings
        self.publisher = publisher
        self.media = media
        self.metrics = metrics
        self.health = health
        # The notifier ([outbound]) acknowledges this channel's reporters, so the connector must not too.
        self.notifier_answers = notifier_answers
        # (channel, instance) taking as SMS the WhatsApp messages that cannot go (`whatsapp_fallback`)
        self.fallback: tuple[str, str] | None = None
        self.normaliser: Normaliser = spec.load_normaliser()
        self.log = log.get(f"connector.{spec.id}", channel=spec.id, instance=instance)

    def normalise(self, raw: bytes, account: str) -> Outcome:
        """Run the channel's pure normaliser with this instance's context.

        Every raw input passes here, so this is where hostile JSON is refused (BadPayload, never a 5xx): a
        body nested deeper than MAX_DEPTH never reaches a decoder, and a normaliser that still fails on the
        bytes (it is pure: retrying cannot help) dead-letters them instead of answering 503 forever.
        """
        nested = jsondepth.too_deep(raw)
        if nested is not None:
            raise BadPayload("too_deeply_nested", f"JSON nested {nested} deep; the limit is {jsondepth.MAX_DEPTH}")
        context = NormaliseContext(channel=self.channel, instance=self.instance, account=account,
                                   received_at=datetime.now(UTC))
        try:
            return self.normaliser(raw, context)
        except BadPayload:
            raise
        except (RecursionError, OverflowError, ValueError, TypeError, KeyError, IndexError, UnicodeError) as err:
            self.log.error("normaliser_failed", error=repr(err)[:300],
                           hint="the input is dead-lettered; report it with the dead letter if it is valid")
            raise BadPayload("unreadable_payload", f"{type(err).__name__}: {str(err)[:300]}") from err


class Connector(Generic[S]):
    """Base of both connector kinds. Subclasses talk to the provider; the runtime does the rest."""

    def __init__(self, ctx: Context[S]) -> None:
        self.ctx = ctx
        self.settings: S = ctx.settings
        self.log = ctx.log

    async def start(self) -> None:
        """Called once before intake starts (open clients, check credentials)."""

    async def close(self) -> None:
        """Called once after intake stopped."""

    def media_request(self, url: str) -> dict[str, Any]:
        """Keyword arguments (auth, headers) for downloading one of this provider's media URLs."""
        return {}

    async def enrich(self, envelope: Envelope) -> Envelope:
        """Download linked media into the object store; override for providers that need a lookup first."""
        if not any(a.source_url and not a.object_key and not a.error for a in envelope.attachments):
            return envelope
        stored: list[Attachment] = []
        for attachment in envelope.attachments:
            if attachment.source_url and not attachment.object_key and not attachment.error:
                fetched = await self.ctx.media.fetch(attachment.source_url, media_type=attachment.media_type,
                                                     name=attachment.name,
                                                     **self.media_request(attachment.source_url))
                attachment = msgspec.structs.replace(fetched, kind=attachment.kind)
            stored.append(attachment)
        return msgspec.structs.replace(envelope, attachments=tuple(stored))

    async def take(self, raw: bytes, account: str, media_type: str, require_ack: bool = False) -> Accepted:
        """The one intake path: normalise one raw input, publish its envelopes, dead-letter its bad events,
        count the rest, and return what was accepted.

        A wholly unusable input is dead-lettered with its reason and re-raised as BadPayload (a webhook's
        guard answers 400, a poller moves on). With `require_ack`, an unacknowledged publish raises
        TransientError (pollers read again, never spool); otherwise the spool keeps it through an outage.
        """
        try:
            return await self._accept(raw, account, media_type, require_ack)
        except BadPayload as err:
            await self.ctx.publisher.dead_letter(err.reason, err.detail, raw)
            raise

    async def _accept(self, raw: bytes, account: str, media_type: str, require_ack: bool) -> Accepted:
        self.ctx.metrics.received.inc()
        outcome = self.ctx.normalise(raw, account)
        deliveries: list[Delivery] = []
        for envelope in outcome.envelopes:
            enriched = await self.enrich(envelope)
            deliveries.append(
                await self.ctx.publisher.publish(enriched, raw, media_type, allow_spool=not require_ack)
            )
            self.log.info("envelope_accepted", envelope_id=envelope.id, ref=envelope.ref,
                          external_id=envelope.external_id, delivery=deliveries[-1])
        for rejected in outcome.rejected:
            await self.ctx.publisher.dead_letter(rejected.reason, rejected.detail, rejected.data or raw)
        for ignored in outcome.ignored:
            self.ctx.metrics.ignored.labels(reason=ignored.reason).inc()
            self.log.info("event_ignored", reason=ignored.reason, detail=ignored.detail)
        self.ctx.health.success()
        return Accepted(list(outcome.envelopes), deliveries, len(outcome.rejected), len(outcome.ignored))

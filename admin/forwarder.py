"""The CRM forwarder: every routed item is POSTed to the CRM of record, and acked only once the CRM took it.

Durable consumer `crm-forwarder` on KANAL_ADMIN. 2xx and 409 (the CRM already has that Idempotency-Key)
ack; 5xx, 429, timeouts and connection errors are retried with exponential backoff (nak with delay); after
`max_attempts` deliveries, or at once for a 4xx that no retry can fix, the item goes to `kanal.dlq.forwarder`
with the last error and the original bytes, then is acked. 401/403 stop the forwarder loudly (exit 78): the
credentials are wrong for every item, so dead-lettering them all would be worse.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from admin.settings import ForwarderSettings
from kanal import bus, log
from kanal.config import Config
from schemas import subjects
from schemas.deadletter import DeadLetter
from schemas.envelope import encode
from schemas.errors import SchemaError
from schemas.privacy import redacted
from schemas.routed import RoutedItem, decode_routed

STAGE = "forwarder"
EXIT_CREDENTIALS = 78


def _log() -> Any:
    return log.get("forwarder")


class CredentialsRejected(Exception):
    """The CRM answered 401/403: fix `[forwarder] auth_value` (or the URL) and restart."""


@dataclass(frozen=True)
class Outcome:
    """What the CRM said about one item."""

    verdict: Literal["accepted", "retry", "reject", "credentials"]
    detail: str
    retry_after: float | None = None


def classify(status: int | None, error: str | None = None, retry_after: str | None = None) -> Outcome:
    """Map a response status (or a transport error) to what the forwarder does with the item."""
    if status is None:
        return Outcome("retry", error or "no response")
    if 200 <= status < 300:
        return Outcome("accepted", f"http_{status}")
    if status == 409:
        return Outcome("accepted", "http_409: the CRM already has this item")
    if status in (401, 403):
        return Outcome("credentials", f"http_{status}")
    if status in (408, 425, 429) or status >= 500:
        seconds = float(retry_after) if retry_after and retry_after.isdigit() else None
        return Outcome("retry", f"http_{status}", seconds)
    return Outcome("reject", f"http_{status}")


def crm_body(item: RoutedItem, data: bytes) -> bytes:
    """What the CRM receives: the routed item, its reporter cut to what the CRM may see (anonymous: nobody)."""
    envelope = redacted(item.envelope, "crm")
    if envelope == item.envelope:
        return data  # unchanged: forward the exact bytes
    return encode(msgspec.structs.replace(item, envelope=envelope))


class Forwarder:
    """One forwarder process; several may share the durable consumer."""

    def __init__(self, config: Config, settings: ForwarderSettings, nc: NATS,
                 client: httpx.AsyncClient | None = None) -> None:
        if not settings.url:
            raise ValueError("[forwarder] url is empty: set the CRM endpoint that receives routed items")
        self.config = config
        self.s = settings
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.http = client or httpx.AsyncClient(timeout=settings.timeout.total_seconds())
        self.stopping = asyncio.Event()
        self.sub: Any = None
        self.forwarded = 0
        self.dead = 0

    async def start(self) -> None:
        """Provision and bind the durable consumer."""
        await bus.provision(self.js, self.config)
        subject = f"{subjects.ADMIN_PREFIX}.{self.s.queues}"
        consumer = ConsumerConfig(durable_name=self.s.consumer, ack_policy=AckPolicy.EXPLICIT,
                                  deliver_policy=DeliverPolicy.ALL, filter_subject=subject, max_deliver=-1,
                                  ack_wait=max(self.s.ack_wait.total_seconds(), 2 * self.s.timeout.total_seconds()),
                                  max_ack_pending=max(4 * self.s.batch, 256))
        self.sub = await self.js.pull_subscribe(subject, durable=self.s.consumer, stream=subjects.STREAM_ADMIN,
                                                config=consumer)
        _log().info("forwarder_started", url=self.s.url, consumer=self.s.consumer, subject=subject)

    async def run(self) -> None:
        """Forward batches until `stopping` is set; raises CredentialsRejected on 401/403."""
        while not self.stopping.is_set():
            try:
                msgs = await self.sub.fetch(self.s.batch, timeout=self.s.fetch_wait.total_seconds())
            except TimeoutError:
                continue
            except Exception as err:  # connection trouble: the client reconnects
                _log().warning("fetch_failed", error=repr(err))
                await asyncio.sleep(0.5)
                continue
            await self.handle(msgs)

    async def handle(self, msgs: list[Msg]) -> None:
        """Forward one batch concurrently; each message is settled on its own outcome."""
        results = await asyncio.gather(*(self._one(m) for m in msgs), return_exceptions=True)
        for result in results:
            if isinstance(result, CredentialsRejected):
                raise result
            if isinstance(result, BaseException):
                raise result

    async def post(self, key: str, body: bytes) -> Outcome:
        """POST one item to the CRM; never raises for HTTP or transport trouble."""
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        if self.s.auth_value is not None:
            headers[self.s.auth_header] = self.s.auth_value.reveal()
        try:
            response = await self.http.post(self.s.url, content=body, headers=headers,
                                            timeout=self.s.timeout.total_seconds())
        except httpx.TimeoutException as err:
            return classify(None, f"timeout after {self.s.timeout.total_seconds():g}s ({type(err).__name__})")
        except httpx.HTTPError as err:
            return classify(None, f"network: {err!r}")
        outcome = classify(response.status_code, retry_after=response.headers.get("retry-after"))
        if outcome.verdict != "accepted":
            return Outcome(outcome.verdict, f"{outcome.detail}: {response.text[:300]}", outcome.retry_after)
        return outcome

    async def _one(self, msg: Msg) -> None:
        try:
            item = decode_routed(msg.data)
        except SchemaError as err:
            await self._dead_letter(msg, "invalid_item", str(err))
            return
        # A reroute is a new fact for the CRM: its own key, so the CRM does not answer 409 and miss the move.
        # A follow-up is an update of its report: keyed under the report, so the CRM adds it to the same item.
        key = item.item_id if not item.reroutes else f"{item.item_id}:reroute-{len(item.reroutes)}"
        if item.follow_up_of is not None:
            key = f"{item.follow_up_of}:follow-up-{item.item_id}"
        outcome = await self.post(key, crm_body(item, msg.data))
        deliveries = msg.metadata.num_delivered or 1
        if outcome.verdict == "accepted":
            await msg.ack()
            self.forwarded += 1
            _log().info("item_forwarded", item_id=item.item_id, queue=item.decision.queue, result=outcome.detail,
                        deliveries=deliveries)
        elif outcome.verdict == "credentials":
            await msg.nak(delay=self.s.max_backoff.total_seconds())
            _log().error("crm_credentials_rejected", url=self.s.url, result=outcome.detail,
                         hint="check [forwarder] auth_header / auth_value, then restart `kanal admin forward`")
            raise CredentialsRejected(outcome.detail)
        elif outcome.verdict == "reject":
            await self._dead_letter(msg, "crm_rejected", outcome.detail)
        elif deliveries >= self.s.max_attempts:
            await self._dead_letter(msg, "crm_unavailable", f"after {deliveries} attempts: {outcome.detail}")
        else:
            delay = outcome.retry_after or self.s.backoff.total_seconds() * 2 ** (deliveries - 1)
            delay = min(delay, self.s.max_backoff.total_seconds())
            await msg.nak(delay=delay)
            _log().warning("item_forward_retry", item_id=item.item_id, error=outcome.detail, deliveries=deliveries,
                           retry_in_s=round(delay, 3))

    async def _dead_letter(self, msg: Msg, reason: str, detail: str) -> None:
        seq = msg.metadata.sequence.stream if msg.metadata.sequence else 0
        letter = DeadLetter(stage=STAGE, reason=reason, detail=detail[:2000], at=datetime.now(UTC), data=msg.data,
                            subject=msg.subject, headers={k: str(v) for k, v in (msg.headers or {}).items()},
                            deliveries=msg.metadata.num_delivered)
        try:
            await self.js.publish(subjects.dlq(STAGE), encode(letter),
                                  headers={"Nats-Msg-Id": f"forwarder-dlq-{subjects.STREAM_ADMIN}-{seq}"})
        except Exception as err:  # DLQ not writable: keep the item for redelivery rather than lose it
            _log().error("dead_letter_failed", reason=reason, error=repr(err))
            await msg.nak(delay=5.0)
            return
        await msg.ack()
        self.dead += 1
        _log().warning("item_dead_lettered", reason=reason, detail=detail[:300], subject=msg.subject, stream_seq=seq)

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()


async def serve(config: Config, settings: ForwarderSettings) -> int:
    """Run until SIGTERM/SIGINT (exit 0), or exit 78 when the CRM rejects the credentials."""
    from kanal.config import secret_values

    log.register_secrets(secret_values(settings))
    nc = await bus.connect(config.nats, name="kanal-forwarder")
    try:
        forwarder = Forwarder(config, settings, nc)
    except ValueError as err:
        _log().error("forwarder_misconfigured", error=str(err))
        await nc.close()
        return 2
    await forwarder.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, forwarder.stopping.set)
    print(f"forwarder: forwarding to {settings.url}", flush=True)
    code = 0
    try:
        await forwarder.run()
    except CredentialsRejected:
        code = EXIT_CREDENTIALS
    finally:
        await forwarder.close()
        await nc.close()
    return code

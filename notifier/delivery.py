"""How the notifier's subscribers settle a message: FastStream acks it when the handler returns; `DeadLetters`
turns a failure into a retry with backoff, or a dead letter with the reason (nothing is dropped).

- A body that does not decode (SchemaError: bad JSON, a missing field, an unknown contract version) is
  dead-lettered at once and acked: no later delivery can fix it.
- Any other failure (NATS, KV) is nacked with a growing delay; at the MAX_DELIVER-th delivery the message is
  dead-lettered and acked instead.
- If the dead letter itself cannot be published, the message is nacked and comes back: never lost.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from faststream import BaseMiddleware
from faststream.exceptions import AckMessage, NackMessage

from kanal import log
from schemas import DeadLetter, SchemaError

if TYPE_CHECKING:
    from faststream._internal.basic_types import AsyncFuncAny
    from faststream._internal.context.repository import ContextRepo
    from faststream.message import StreamMessage
    from faststream.nats.publisher.usecase import LogicPublisher

_log = log.get("notifier")


def backoff(deliveries: int) -> float:
    """Seconds before the next delivery after `deliveries` failed ones: 2, 4, 8, 16, then 30."""
    return min(30.0, 2.0**deliveries)


class DeadLetters:
    """A FastStream subscriber middleware factory: one `_Settle` per message, publishing to `dead_letters`."""

    def __init__(self, dead_letters: LogicPublisher, max_deliver: int) -> None:
        self.dead_letters = dead_letters
        self.max_deliver = max_deliver

    def __call__(self, msg: Any | None, /, *, context: ContextRepo) -> _Settle:
        return _Settle(msg, context=context, guard=self)


class _Settle(BaseMiddleware):
    def __init__(self, msg: Any | None, /, *, context: ContextRepo, guard: DeadLetters) -> None:
        super().__init__(msg, context=context)
        self.guard = guard

    async def consume_scope(self, call_next: AsyncFuncAny, msg: StreamMessage[Any]) -> Any:
        raw = msg.raw_message  # nats.aio.msg.Msg: subject, data and JetStream metadata, all public
        deliveries = raw.metadata.num_delivered if raw.metadata else 1
        try:
            return await call_next(msg)
        except SchemaError as err:  # decoding runs inside this scope (the subscriber's typed decoder)
            await self._dead_letter(raw, "invalid_message", str(err), deliveries)
            raise AckMessage from err
        except Exception as err:
            if deliveries >= self.guard.max_deliver:
                await self._dead_letter(raw, "notifier_failed", repr(err), deliveries)
                raise AckMessage from err
            _log.warning("notifier_retry", subject=raw.subject, error=repr(err), deliveries=deliveries)
            raise NackMessage(delay=backoff(deliveries)) from err

    async def _dead_letter(self, raw: Any, reason: str, detail: str, deliveries: int) -> None:
        letter = DeadLetter(stage="notifier", reason=reason, detail=detail, at=datetime.now(UTC), data=raw.data,
                            subject=raw.subject, deliveries=deliveries)
        seq = raw.metadata.sequence.stream if raw.metadata and raw.metadata.sequence else 0
        try:
            await self.guard.dead_letters.publish(letter, headers={"Nats-Msg-Id": f"notifier-dlq-{raw.subject}-{seq}"})
        except Exception as err:
            _log.warning("dead_letter_failed", reason=reason, subject=raw.subject, error=repr(err))
            raise NackMessage(delay=backoff(deliveries)) from err
        _log.warning("message_dead_lettered", reason=reason, detail=detail, subject=raw.subject)


class _IdleFetchTimeout(logging.Filter):
    """FastStream's report of a pull fetch that timed out on an idle stream: one line, not an error.

    nats-py raises a plain `asyncio.TimeoutError` (not its own `nats.errors.TimeoutError`) when the server's
    expiry of an empty pull request beats the client's timer; FastStream 0.7 suppresses only the latter, so
    its supervisor logged "raised an exception, retrying..." with a traceback and restarted the fetch loop
    (nothing is lost: no message was fetched). Any other exception passes through unchanged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if type(exc) is TimeoutError and "raised an exception" in str(record.msg):  # its task supervisor's report
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args, record.exc_info = "idle pull fetch timed out; FastStream restarted it", (), None
        return True


def faststream_logger() -> logging.Logger:
    """The logger FastStream writes to: rendered like Kanal's own events (kanal.log), per-message lines at debug."""
    logger = logging.getLogger("notifier.faststream")
    if not any(isinstance(f, _IdleFetchTimeout) for f in logger.filters):
        logger.addFilter(_IdleFetchTimeout())
    # "waiting for messages" and task callbacks are start/stop chatter: shown when Kanal logs at debug.
    logger.setLevel(logging.NOTSET if logging.getLogger().level <= logging.DEBUG else logging.WARNING)
    return logger

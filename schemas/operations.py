"""The subjects the notifier reads and writes, declared once as data.

The notifier's FastStream app (notifier/service.py) makes its subscribers and publishers from these, and
`kanal schema asyncapi` (kanal/asyncapi.py) describes them, so neither imports the other.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from schemas import subjects
from schemas.deadletter import DeadLetter
from schemas.envelope import Envelope
from schemas.outbound import OutboundMessage
from schemas.routed import RoutedItem
from schemas.status import StatusUpdate


class Operation(msgspec.Struct, frozen=True, kw_only=True):
    """One subject a service receives from (a durable pull consumer on `stream`) or sends to."""

    action: Literal["receive", "send"]
    subject: str  # a filter (`kanal.admin.>`) or, for a send, a template (`kanal.out.{channel}.{instance}`)
    stream: str
    title: str
    description: str
    payload: type[msgspec.Struct]
    durable: str | None = None  # the consumer's name, for a receive
    deliver_new: bool = False  # a new consumer starts at the stream's end rather than its start


NOTIFIER_ROUTED = Operation(
    action="receive", subject=f"{subjects.ADMIN_PREFIX}.>", stream=subjects.STREAM_ADMIN,
    durable=subjects.NOTIFIER_CONSUMER, title="kanal.admin (notifier)",
    description="Routed items: acknowledge each new item to its reporter", payload=RoutedItem)
NOTIFIER_STATUS = Operation(
    action="receive", subject=f"{subjects.STATUS_PREFIX}.>", stream=subjects.STREAM_STATUS,
    durable=subjects.NOTIFIER_CONSUMER, title="kanal.status (notifier)",
    description="Stage changes: tell the reporter in the same thread", payload=StatusUpdate)
NOTIFIER_INBOUND = Operation(
    action="receive", subject=f"{subjects.IN_PREFIX}.>", stream=subjects.STREAM_IN,
    durable=f"{subjects.NOTIFIER_CONSUMER}-optout", deliver_new=True, title="kanal.in (notifier)",
    description="Inbound envelopes: record opt-out and opt-in words, answer status questions", payload=Envelope)
NOTIFIER_OUT = Operation(
    action="send", subject=f"{subjects.OUT_PREFIX}.{{channel}}.{{instance}}", stream=subjects.STREAM_OUT,
    title="kanal.out", description="OutboundMessage for one reporter, Nats-Msg-Id = message id",
    payload=OutboundMessage)
NOTIFIER_DLQ = Operation(
    action="send", subject=subjects.dlq("notifier"), stream=subjects.STREAM_DLQ, title="kanal.dlq.notifier",
    description="What the notifier could not use (undecodable, or still failing after its last delivery), "
                "with the reason; Nats-Msg-Id = notifier-dlq-<subject>-<stream sequence>",
    payload=DeadLetter)

NOTIFIER: tuple[Operation, ...] = (NOTIFIER_ROUTED, NOTIFIER_STATUS, NOTIFIER_INBOUND, NOTIFIER_OUT, NOTIFIER_DLQ)

"""Every NATS subject, stream, KV bucket and object store Kanal uses, named in one place."""

from __future__ import annotations

import re
from datetime import timedelta

from msgspec import Struct

IN_PREFIX = "kanal.in"
ADMIN_PREFIX = "kanal.admin"
DLQ_PREFIX = "kanal.dlq"
STATUS_PREFIX = "kanal.status"
OUT_PREFIX = "kanal.out"
RAW_PREFIX = "kanal.raw"
EVENT_PREFIX = "kanal.event"

STREAM_IN = "KANAL_IN"
STREAM_ADMIN = "KANAL_ADMIN"
STREAM_DLQ = "KANAL_DLQ"
STREAM_STATUS = "KANAL_STATUS"
STREAM_OUT = "KANAL_OUT"
STREAM_RAW = "KANAL_RAW"

KV_CHECKPOINTS = "kanal_checkpoints"
KV_LEASES = "kanal_leases"
KV_DEDUP = "kanal_dedup"
KV_DEDUP_INDEX = "kanal_dedup_index"
KV_OUTBOUND = "kanal_outbound"  # SendRecord per `<item_id>.<message_id>`
KV_REPORTERS = "kanal_reporters"  # opt-outs and rate-limit counters per reporter
KV_THREADS = "kanal_threads"  # item id -> the reporter's reply address, for status updates
KV_ITEMS = "kanal_items"  # item id -> what admins did with it (acks, reroutes)
KV_REFS = "kanal_refs"  # report reference (KNL-...) -> item id, for citizens' status look-ups
KV_LOGINS = "kanal_logins"  # failed sign-ins per (user, address) hash, for login throttling
KV_CONVERSATIONS = "kanal_conversations"  # per conversation: control messages (and fragments being assembled)
OBJ_MEDIA = "kanal_media"

ROUTER_CONSUMER = "router"
NOTIFIER_CONSUMER = "notifier"
FORWARDER_CONSUMER = "crm-forwarder"

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


def _token(value: str, what: str) -> str:
    if not _TOKEN.match(value):
        raise ValueError(f"{what} {value!r} cannot be a NATS subject token: use letters, digits, '_' or '-'")
    return value


def inbound(channel: str, instance: str) -> str:
    """`kanal.in.<channel>.<instance>`: where one connector instance publishes envelopes."""
    return f"{IN_PREFIX}.{_token(channel, 'channel')}.{_token(instance, 'instance')}"


def admin(queue: str) -> str:
    """`kanal.admin.<level>.<code>` (or `kanal.admin.triage`): an admin's queue."""
    for part in queue.split("."):
        _token(part, "queue part")
    return f"{ADMIN_PREFIX}.{queue}"


def queue_of(subject: str) -> str:
    """The queue name of an admin subject (`kanal.admin.kelurahan.3171011001` -> `kelurahan.3171011001`)."""
    if not subject.startswith(ADMIN_PREFIX + "."):
        raise ValueError(f"{subject!r} is not an admin subject")
    return subject[len(ADMIN_PREFIX) + 1 :]


def dlq(stage: str) -> str:
    """`kanal.dlq.<stage>`: dead letters of one stage (connector, router, forwarder ...)."""
    return f"{DLQ_PREFIX}.{_token(stage, 'stage')}"


def status(item_id: str) -> str:
    """`kanal.status.<item_id>`: stage changes of one report."""
    return f"{STATUS_PREFIX}.{_token(item_id, 'item id')}"


def outbound(channel: str, instance: str) -> str:
    """`kanal.out.<channel>.<instance>`: messages to send back to reporters through one instance."""
    return f"{OUT_PREFIX}.{_token(channel, 'channel')}.{_token(instance, 'instance')}"


def raw(instance: str, envelope_id: str) -> str:
    """`kanal.raw.<instance>.<envelope_id>`: the provider's original payload for one envelope.

    The instance is in the subject so NATS can confine each connector to its own raw payloads. Envelopes
    written before it was (contract 1.0) point at `kanal.raw.<envelope_id>`: readers follow `RawRef.subject`.
    """
    return f"{RAW_PREFIX}.{_token(instance, 'instance')}.{_token(envelope_id, 'envelope id')}"


class StreamSpec(Struct, frozen=True, kw_only=True):
    """What a stream holds and for how long; provisioning turns these into JetStream configs."""

    name: str
    subjects: tuple[str, ...]
    max_age: timedelta | None
    duplicate_window: timedelta
    description: str
    max_msgs_per_subject: int = -1
    batched: bool = False  # takes JetStream fast-ingest batches (nats-server >= 2.14)


DAY = timedelta(days=1)


def streams(duplicate_window: timedelta = DAY, retention: timedelta = timedelta(days=90)) -> list[StreamSpec]:
    """The streams Kanal needs; `duplicate_window` applies to KANAL_IN and KANAL_ADMIN."""
    return [
        StreamSpec(
            name=STREAM_IN,
            subjects=(f"{IN_PREFIX}.>",),
            max_age=retention,
            duplicate_window=duplicate_window,
            description="Envelopes from connectors, one subject per channel instance",
        ),
        StreamSpec(
            name=STREAM_ADMIN,
            subjects=(f"{ADMIN_PREFIX}.>",),
            max_age=None,
            duplicate_window=duplicate_window,
            description="Routed items, one subject per admin queue",
            batched=True,  # the router stores a batch's items with one acknowledgement
        ),
        StreamSpec(
            name=STREAM_DLQ,
            subjects=(f"{DLQ_PREFIX}.>",),
            max_age=None,
            duplicate_window=DAY,  # the same bad input, retried by a provider or re-read by a poller, once
            description="Dead letters with reason and original bytes",
        ),
        StreamSpec(
            name=STREAM_STATUS,
            subjects=(f"{STATUS_PREFIX}.>",),
            max_age=None,
            duplicate_window=timedelta(minutes=2),
            description="Status changes of reports",
        ),
        StreamSpec(
            name=STREAM_OUT,
            subjects=(f"{OUT_PREFIX}.>",),
            max_age=timedelta(days=30),
            duplicate_window=DAY,
            description="Outbound messages to reporters",
        ),
        StreamSpec(
            name=STREAM_RAW,
            subjects=(f"{RAW_PREFIX}.>",),
            max_age=retention,
            duplicate_window=duplicate_window,
            description="Original provider payloads, one subject per instance and envelope id",
            max_msgs_per_subject=1,
        ),
    ]

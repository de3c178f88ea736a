"""The router's side of the one reference index: each routed report's reference, recorded once, by the router.

Written after the item is stored and before its delivery record, so a kill in between leaves the input
unacked and unrecorded: the redelivery is published again (the stream drops the repeat) and recorded then.
kanal/references.py holds the record and the readers (status API, status page, follow-ups).
"""

from __future__ import annotations

from nats.aio.client import Client as NATS
from nats.js.client import JetStreamContext

from kanal.incidents import member_writes
from kanal.references import record_for
from router.followups import thread_writes
from router.pipeline import Pipeline
from router.similarity import reporter_keys
from router.store import KvIndex
from schemas import subjects
from schemas.envelope import encode
from schemas.routed import RoutedItem


def reference_writes(item: RoutedItem) -> list[tuple[str, bytes]]:
    """The (reference, record) pair of a routed item, for an e-mail report its thread keys, and for a member of
    an incident its membership and the first report's (kanal/incidents.py) (pure; a redelivery writes the same)."""
    record = encode(record_for(item.envelope, item_id=item.item_id, kind=item.kind, queue=item.decision.queue,
                               at=item.routed_at, duplicate_of=item.dedup.duplicate_of,
                               incident=item.dedup.incident_id, reporters=reporter_keys(item.envelope)))
    return [(item.ref, record), *thread_writes(item, record), *member_writes(item)]


async def open_index(nc: NATS, js: JetStreamContext, replicas: int, pipeline: Pipeline) -> KvIndex:
    """The `kanal_refs` bucket as the router writes it: kept without age limit (citizens ask months later)."""
    return await KvIndex.open(nc, js, subjects.KV_REFS, 0, replicas, pipeline, fast=True)

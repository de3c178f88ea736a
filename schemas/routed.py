"""A routed item: the envelope plus the router's decision and dedup links, as admins read it on KANAL_ADMIN."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from schemas._decode import strict_decode
from schemas.envelope import Envelope, EnvelopeId, UtcTime

RuleType = Literal["flags", "geo", "channel", "gazetteer", "fallback", "reroute"]
ItemKind = Literal["item", "duplicate"]
# Queue names are the subject tail after `kanal.admin.`: `<level>.<code>` or `triage`.
QueueName = Annotated[str, Meta(pattern=r"^[a-z_]+(\.[A-Za-z0-9_-]+)?$")]


class RuleTrace(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One rule the router tried, in order, and why it matched or passed."""

    rule_id: str
    matched: bool
    reason: str


CategoryId = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class Decision(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which rule chose the queue and why; `matched` holds the polygon code or phrase that decided.

    `category` is what the report is about (docs/categories.md), read from its text by the router when the
    rules file names a categories file: its `category_confidence` in [0, 1] and the `category_cues` (cues of
    the data file, as written there) that decided it. Absent (None, empty) from routers without categories.
    """

    rule_id: str
    rule_type: RuleType
    queue: QueueName
    reason: str
    matched: str | None = None
    trail: tuple[RuleTrace, ...] = ()
    category: CategoryId | None = None
    category_confidence: Annotated[float, Meta(ge=0.0, le=1.0)] | None = None
    category_cues: tuple[str, ...] = ()


class Dedup(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Links to earlier items: `duplicate_of` for a repeat of the same report, `incident_id` for a cluster."""

    duplicate_of: EnvelopeId | None = None
    duplicate_reason: Literal["same_reporter", "same_text"] | None = None
    incident_id: str | None = None
    incident_size: Annotated[int, Meta(ge=1)] | None = None
    similarity: float | None = None


# `Reroute.by` when the router itself moved a report (the reporter's answer to a location request).
BY_ROUTER = "router"


class Reroute(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An admin (or the router: `BY_ROUTER`) moved the item to another queue; always recorded, never silent."""

    from_queue: QueueName
    to_queue: QueueName
    reason: Annotated[str, Meta(min_length=1)]
    by: str
    at: UtcTime


class RoutedItem(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What lands on `kanal.admin.<queue>`; `kind="duplicate"` is a notice linked to the first item."""

    v: Literal[1] = 1
    kind: ItemKind
    item_id: EnvelopeId
    ref: str
    envelope: Envelope
    decision: Decision
    dedup: Dedup = Dedup()
    routed_at: UtcTime
    reroutes: tuple[Reroute, ...] = ()
    # Set on a follow-up (the reporter adds to their report): the report's item id. Such a message is a
    # `duplicate` notice of that report (dedup.duplicate_of is the same id) in its queue, never an open item.
    follow_up_of: EnvelopeId | None = None
    # Set on a report assembled from several chat messages (contract v1.3): the envelope ids of its fragments in
    # order, the first being `item_id` (its envelope carries their text, attachments and location together).
    fragments: tuple[EnvelopeId, ...] = ()
    # What the report lacks and the reporter is asked for (since v1.3): `location` for a chat report that
    # reached `triage` for want of a place. Their answer re-routes it (docs/conversations.md).
    missing: tuple[Literal["location"], ...] = ()


def decode_routed(data: bytes | str) -> RoutedItem:
    """Strictly decode a routed item from KANAL_ADMIN."""
    return strict_decode(data, RoutedItem, "routed item")

"""Incident membership: every report of an incident, its first one included, findable from any member.

Dedup names an incident after its first report (router/dedup.py: `incident_id` = the first item's id), but that
first report was routed before anyone knew it would have company, so its own RoutedItem carries no incident
id. The router therefore records membership in the reference index (bucket `kanal_refs`), when it routes a
member: `inc.<incident>.<item id>` for the member and `inc.<incident>.<incident>` for the first report (the
same idempotent write each time a member arrives). Readers list an incident's members with one batched
direct get (`inc.<incident>.*`), and learn whether a report started an incident from its own id.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
from msgspec import Struct
from nats.aio.client import Client as NATS

from kanal import direct
from kanal.references import RefRecord
from schemas import subjects
from schemas.envelope import UtcTime, report_ref
from schemas.routed import RoutedItem


class Member(Struct, frozen=True, kw_only=True):
    """One report of an incident, as the router routed it (the first report: only its id and reference)."""

    id: str
    ref: str
    queue: str | None = None  # where the router put it (an admin may have moved it since)
    at: UtcTime | None = None


MAX_MEMBERS = 500  # members read per incident (and at most 1,000 per request)


def member_key(incident: str, item_id: str) -> str:
    """The reference-index key recording that `item_id` belongs to `incident`."""
    return f"inc.{incident}.{item_id}"


def member_writes(item: RoutedItem) -> list[tuple[str, bytes]]:
    """For a routed report that joins an incident: its own member record and the first report's (pure)."""
    incident = item.dedup.incident_id
    if incident is None or item.kind != "item" or item.follow_up_of is not None:
        return []  # a repeat or a follow-up is not another witness
    me = Member(id=item.item_id, ref=item.ref, queue=item.decision.queue, at=item.routed_at)
    first = Member(id=incident, ref=report_ref(incident))
    out = [(member_key(incident, item.item_id), msgspec.json.encode(me))]
    if incident != item.item_id:
        out.append((member_key(incident, incident), msgspec.json.encode(first)))
    return out


_member = msgspec.json.Decoder(Member)
_record = msgspec.json.Decoder(RefRecord)


async def members(nc: NATS, incidents: Iterable[str]) -> dict[str, list[Member]]:
    """The members of each incident (absent: none recorded), oldest record first; one request per 1,000."""
    wanted = list(dict.fromkeys(i for i in incidents if i))
    prefix = f"$KV.{subjects.KV_REFS}."
    subjects_ = [f"{prefix}{member_key(i, '*')}" for i in wanted]
    found = await direct.last_per_subject(nc, f"KV_{subjects.KV_REFS}", subjects_,
                                          batch=min(direct.MULTI_LAST_MAX, MAX_MEMBERS * max(1, len(wanted))))
    out: dict[str, list[Member]] = {}
    for subject, msg in sorted(found.items(), key=lambda kv: int((kv[1].headers or {}).get("Nats-Sequence", 0))):
        value = direct.kv_value(msg)
        if not value:
            continue
        incident = subject.removeprefix(prefix).split(".")[1]
        try:
            out.setdefault(incident, []).append(_member.decode(value))
        except msgspec.DecodeError:
            continue  # not ours: skipped, the rest still counts
    return await _placed(nc, out)


async def _placed(nc: NATS, found: dict[str, list[Member]]) -> dict[str, list[Member]]:
    """First reports are recorded by id and reference only: their queue and time from their reference record."""
    refs = [m.ref for group in found.values() for m in group if m.queue is None]
    if not refs:
        return found
    records = await direct.kv_values(nc, subjects.KV_REFS, refs)
    placed = {ref: _record.decode(value) for ref, value in records.items() if value}
    return {incident: [msgspec.structs.replace(m, queue=placed[m.ref].queue, at=placed[m.ref].at)
                       if m.queue is None and m.ref in placed else m for m in group]
            for incident, group in found.items()}


async def incidents_of(nc: NATS, items: Iterable[RoutedItem]) -> dict[str, tuple[str, list[Member]]]:
    """For each item that belongs to an incident (as a member, or as its first report): the incident id and
    its recorded members, by item id. One batched read for the lot."""
    items = list(items)
    found = await members(nc, [it.dedup.incident_id or it.item_id for it in items])
    out: dict[str, tuple[str, list[Member]]] = {}
    for it in items:
        incident = it.dedup.incident_id or it.item_id
        group = found.get(incident, [])
        if it.dedup.incident_id or group:  # a report that is no member has no `inc.<its id>.*` records
            out[it.item_id] = (incident, group)
    return out

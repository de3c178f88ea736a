"""Plain-text rendering of routed items for the inbox CLI: what an admin needs to decide, on a few lines."""

from __future__ import annotations

from typing import Any

import msgspec

from admin.dispose import current_category
from admin.i18n import wib
from admin.inbox import Entry, Incident
from admin.status import current_stage, stage_info
from admin.store import ItemState
from kanal.localtime import WIB
from schemas.envelope import report_ref
from schemas.privacy import redacted, reporter_view
from schemas.routed import RoutedItem


def location_line(item: RoutedItem) -> str | None:
    """`-6.17520, 106.82720 (gps, ±10 m) Jl. Medan Merdeka` or None."""
    loc = item.envelope.location
    if loc is None:
        return None
    parts = []
    if loc.lat is not None and loc.lon is not None:
        parts.append(f"{loc.lat:.5f}, {loc.lon:.5f}")
    detail = loc.source + (f", ±{loc.accuracy_m:.0f} m" if loc.accuracy_m is not None else "")
    parts.append(f"({detail})")
    if loc.address:
        parts.append(loc.address)
    return " ".join(parts)


def links(item: RoutedItem, incident: Incident | None = None) -> list[str]:
    """Duplicate and incident links, and every reroute, as short lines; with `incident` (read live), the count
    and every report of it, across queues."""
    out = []
    if item.kind == "duplicate" and item.dedup.duplicate_of:
        why = item.dedup.duplicate_reason or "similar"
        out.append(f"DUPLICATE of {item.dedup.duplicate_of} ({why.replace('_', ' ')})")
    if incident is not None:
        size = len(incident.members)
        others = [f"{m.ref} ({m.queue or '?'})" for m in incident.members if m.id != item.item_id]
        out.append(f"incident {incident.id}: {size} report{'s' if size != 1 else ''} of this"
                   + (f": {', '.join(others)}" if others else ""))
    elif item.dedup.incident_id:
        size = item.dedup.incident_size or 1
        out.append(f"incident {item.dedup.incident_id}: {size} report{'s' if size != 1 else ''} of this")
    for move in item.reroutes:
        out.append(f"rerouted {move.from_queue} → {move.to_queue} by {move.by} at "
                   f"{wib(move.at)}: {move.reason}")
    return out


def entry_text(entry: Entry) -> str:
    """An inbox entry as a block of text."""
    item = entry.stored.item
    env = item.envelope
    stage = stage_info(current_stage(entry.status))
    head = (f"#{entry.stored.seq}  {item.ref}  [{stage.label}]  {wib(item.routed_at)}  "
            f"{env.channel}/{env.instance} ({env.kind})")
    if item.follow_up_of is not None:
        head += f"  FOLLOW-UP of {report_ref(item.follow_up_of)}"
    elif item.kind == "duplicate":
        head += "  DUPLICATE"
    lines = [head, f"    id: {item.item_id}"]
    if len(item.fragments) > 1:
        lines.append(f"    assembled from {len(item.fragments)} messages")
    who = reporter_view(env, "queue_admin")  # the inbox only opens a queue its admin is allowed on
    contact = f" ({who.contact})" if who.contact and who.contact != who.label else ""
    lines.append(f"    from: {who.label}{contact}" + (f", NIK {who.nik}" if who.nik else ""))
    text = " ".join((env.subject + ": " if env.subject else "").split() + env.text.split())
    lines.append(f"    {text[:400]}{'…' if len(text) > 400 else ''}")
    where = location_line(item)
    if where:
        lines.append(f"    location: {where}")
    elif "location" in item.missing:
        lines.append("    location: asked the reporter (their answer moves the report where it says)")
    if env.attachments:
        kinds = ", ".join(a.kind + (" (failed)" if a.error else "") for a in env.attachments)
        lines.append(f"    attachments: {kinds}")
    d = item.decision
    lines.append(f"    routed by rule {d.rule_id} ({d.rule_type}): {d.reason}")
    if d.category is not None:
        lines.append(f"    category: {d.category} ({d.category_confidence or 0:.2f}"
                     f"{': ' + ', '.join(d.category_cues) if d.category_cues else ''})")
    lines.extend(f"    {line}" for line in links(item, entry.incident) if item.follow_up_of is None)
    for added in entry.follow_ups:
        more = added.item.envelope
        extra = f" (+{len(more.attachments)} attachment(s))" if more.attachments else ""
        extra += " (+location)" if more.location is not None else ""
        lines.append(f"    + follow-up {more.received_at.astimezone(WIB):%Y-%m-%d %H:%M %Z}: "
                     f"{' '.join(more.text.split())[:300]}{extra}")
    if entry.handling is not None:
        h = entry.handling
        done = f"acknowledged by {h.by}" if h.action == "ack" else f"rerouted to {h.to_queue} by {h.by}: {h.reason}"
        lines.append(f"    {done} at {wib(h.at)}")
    return "\n".join(lines)


def entry_json(entry: Entry, state: ItemState) -> dict[str, Any]:
    """An inbox entry as one JSON object (`kanal inbox <queue> --json`): what a script needs, times in WIB;
    the reporter as the queue's admin may see them (schemas.privacy)."""
    item = entry.stored.item
    env = item.envelope
    loc = env.location
    return {
        "id": item.item_id, "ref": item.ref, "seq": entry.stored.seq, "queue": entry.stored.queue,
        "stage": current_stage(entry.status), "kind": item.kind, "channel": env.channel,
        "instance": env.instance, "text": env.text, "subject": env.subject,
        "reporter": msgspec.to_builtins(redacted(env, "queue_admin").reporter),
        "location": {"lat": loc.lat, "lon": loc.lon} if loc is not None else None,
        "missing": list(item.missing),
        "fragments": len(item.fragments) or 1,
        "attachments": len(env.attachments),
        "received_at": env.received_at.astimezone(WIB).isoformat(),
        "follow_ups": [{"text": f.item.envelope.text, "received_at": f.item.envelope.received_at.astimezone(WIB)
                        .isoformat(), "attachments": len(f.item.envelope.attachments),
                        "location": ({"lat": f.item.envelope.location.lat, "lon": f.item.envelope.location.lon}
                                     if f.item.envelope.location is not None else None)}
                       for f in entry.follow_ups],
        "follow_up_of": item.follow_up_of,
        "incident": entry.incident.id if entry.incident is not None else item.dedup.incident_id,
        "incident_members": ([{"id": m.id, "ref": m.ref, "queue": m.queue} for m in entry.incident.members]
                             if entry.incident is not None else []),
        "duplicate_of": item.dedup.duplicate_of if item.follow_up_of is None else None,
        "category": current_category(item, state),
        "category_corrections": msgspec.to_builtins(state.categories),
        "decision": msgspec.to_builtins(item.decision),
        "reroutes": msgspec.to_builtins(item.reroutes),
        "handled": entry.handling.action if entry.handling is not None else None,
        "handling": msgspec.to_builtins(entry.handling) if entry.handling else None,
    }

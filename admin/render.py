"""Plain-text rendering of routed items for the inbox CLI: what an admin needs to decide, on a few lines."""

from __future__ import annotations

from typing import Any

import msgspec

from admin.dispose import current_category
from admin.i18n import wib
from admin.inbox import Entry
from admin.status import current_stage, stage_info
from admin.store import ItemState
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


def links(item: RoutedItem) -> list[str]:
    """Duplicate and incident links, and every reroute, as short lines."""
    out = []
    if item.kind == "duplicate" and item.dedup.duplicate_of:
        why = item.dedup.duplicate_reason or "similar"
        out.append(f"DUPLICATE of {item.dedup.duplicate_of} ({why.replace('_', ' ')})")
    if item.dedup.incident_id:
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
    if item.kind == "duplicate":
        head += "  DUPLICATE"
    lines = [head, f"    id: {item.item_id}"]
    who = reporter_view(env, "queue_admin")  # the inbox only opens a queue its admin is allowed on
    contact = f" ({who.contact})" if who.contact and who.contact != who.label else ""
    lines.append(f"    from: {who.label}{contact}" + (f", NIK {who.nik}" if who.nik else ""))
    text = " ".join((env.subject + ": " if env.subject else "").split() + env.text.split())
    lines.append(f"    {text[:400]}{'…' if len(text) > 400 else ''}")
    where = location_line(item)
    if where:
        lines.append(f"    location: {where}")
    if env.attachments:
        kinds = ", ".join(a.kind + (" (failed)" if a.error else "") for a in env.attachments)
        lines.append(f"    attachments: {kinds}")
    d = item.decision
    lines.append(f"    routed by rule {d.rule_id} ({d.rule_type}): {d.reason}")
    if d.category is not None:
        lines.append(f"    category: {d.category} ({d.category_confidence or 0:.2f}"
                     f"{': ' + ', '.join(d.category_cues) if d.category_cues else ''})")
    lines.extend(f"    {line}" for line in links(item))
    if entry.handling is not None:
        h = entry.handling
        done = f"acknowledged by {h.by}" if h.action == "ack" else f"rerouted to {h.to_queue} by {h.by}: {h.reason}"
        lines.append(f"    {done} at {wib(h.at)}")
    return "\n".join(lines)


def entry_json(entry: Entry, state: ItemState) -> dict[str, Any]:
    """An inbox entry for `kanal inbox --json`: the item without reporter details, its stage and category."""
    item = entry.stored.item
    env = item.envelope
    return {
        "seq": entry.stored.seq, "queue": entry.stored.queue, "item_id": item.item_id, "ref": item.ref,
        "kind": item.kind, "channel": env.channel, "instance": env.instance, "created_at": env.created_at.isoformat(),
        "reporter": msgspec.to_builtins(redacted(env, "queue_admin").reporter),
        "subject": env.subject, "text": env.text,
        "location": msgspec.to_builtins(env.location) if env.location else None,
        "stage": current_stage(entry.status),
        "category": current_category(item, state),
        "decision": msgspec.to_builtins(item.decision),
        "category_corrections": msgspec.to_builtins(state.categories),
        "handling": msgspec.to_builtins(entry.handling) if entry.handling else None,
        "dedup": msgspec.to_builtins(item.dedup),
        "reroutes": msgspec.to_builtins(item.reroutes),
    }

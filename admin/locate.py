"""`kanal admin find <ref>`: where a report is now, for an operator holding only its reference.

It reads the router's reference index (`kanal_refs`), the admins' actions on the item (`kanal_items`: a reroute
moves it) and its stage history; it prints no reporter field and no text, so it is safe to paste into a ticket.
"""

from __future__ import annotations

from msgspec import Struct

from admin.store import ItemStore
from kanal import bus, wilayah
from kanal.config import Config
from kanal.localtime import wib
from kanal.references import PublicReport, References, RefRecord, normalise_ref


class Located(Struct, frozen=True, kw_only=True):
    """A reference's record, the queue its item is in now, and its public status."""

    ref: str
    record: RefRecord
    queue_now: str | None
    status: PublicReport | None


async def locate(config: Config, raw_ref: str, items_bucket: str) -> Located | None:
    """Look `raw_ref` up; None when it is not a reference or no routed report has it."""
    ref = normalise_ref(raw_ref)
    if ref is None:
        return None
    nc = await bus.connect(config.nats, name="kanal-find")
    try:
        js = nc.jetstream()
        refs = References()
        record = await refs.lookup(js, ref)
        if record is None:
            return None
        store = await ItemStore.open(nc, items_bucket, config.nats.replicas)
        state, _ = await store.state(record.duplicate_of or record.id)
        moves = [h.to_queue for h in state.handled if h.action == "reroute" and h.to_queue]
        return Located(ref=ref, record=record, queue_now=moves[-1] if moves else record.queue,
                       status=await refs.report_status(js, ref))
    finally:
        await nc.close()


def describe(found: Located, names: wilayah.Names) -> list[str]:
    """The lines `kanal admin find` prints (Indonesian, times in WIB)."""
    rec = found.record
    kind = "pemberitahuan duplikat" if rec.kind == "duplicate" else "laporan"
    lines = [f"{found.ref}: {kind} lewat {rec.channel}, diteruskan {wib(rec.at)}"]
    if rec.queue:
        lines.append(f"antrean awal: {rec.queue} ({names.queue(rec.queue)})")
    if found.queue_now and found.queue_now != rec.queue:
        lines.append(f"antrean kini: {found.queue_now} ({names.queue(found.queue_now)}), dialihkan admin")
    if found.status is not None:
        lines.append(f"tahap: {found.status.label} (sejak {wib(found.status.updated_at)})")
    if rec.duplicate_of:
        lines.append(f"duplikat dari item {rec.duplicate_of}")
    if rec.incident:
        lines.append(f"insiden: {rec.incident}")
    if found.queue_now:
        lines.append(f"buka: kanal inbox {found.queue_now} --all --q {found.ref}")
    return lines

"""Dedup decisions for a batch: exact repeats, the same report again, and reports of the same incident.

Per-message cost does not grow with the window: each envelope reads a fixed set of keys (its id, its
reporter's identities, its text fingerprint, four geo cells) in one batched KV read per bucket, and each key
holds a bounded list. Keys:

- `id.<envelope id>` (bucket `kanal_dedup`, kept for the horizon, 30 days): routed already -> not routed
  again.

The near-duplicate index (bucket `kanal_dedup_index`, kept for the longest window, 48 h):

- `rep.<identity hash>`: the reporter's recent first items -> `duplicate` (same_reporter) when the text is
  similar or an attachment is the same.
- `txt.<text+attachments hash>`: the first item with this normalised text *and these attachments* (two
  photos with the same caption are not a repeat) -> `duplicate` (same_text).
- `cell.<x>.<y>`: recent located items in a square of twice the incident radius -> shared incident id.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
from msgspec import Struct

from router.geo import KX, KY
from router.settings import DedupSettings
from router.similarity import (
    attachment_hashes,
    b64,
    digest,
    norm_text,
    reporter_keys,
    signature,
    signatures,
    similarity,
    unb64,
)
from schemas.envelope import Envelope
from schemas.routed import Dedup


class IdRecord(Struct, kw_only=True):
    """An envelope the router has delivered, and where."""

    queue: str
    kind: str
    at: float


class Recent(Struct, kw_only=True):
    """A first item remembered for same-report checks."""

    id: str
    queue: str
    at: float
    sig: str = ""
    shas: list[str] = []
    incident: str = ""
    xy: tuple[float, float] | None = None  # projected metres, when the item was located


class CellItem(Struct, kw_only=True):
    """A located item remembered for incident clustering."""

    id: str
    queue: str
    at: float
    x: float
    y: float
    sig: str = ""
    reps: list[str] = []
    incident: str = ""
    size: int = 1


class ReporterRecord(Struct, kw_only=True):
    items: list[Recent] = []


class CellRecord(Struct, kw_only=True):
    items: list[CellItem] = []


@dataclass(slots=True)
class Verdict:
    """What dedup decided for one envelope, and the KV writes that record it."""

    kind: str  # "exact", "duplicate" or "item"
    dedup: Dedup = field(default_factory=Dedup)
    queue: str | None = None  # for duplicates: the first item's queue
    reason: str = ""
    index_writes: dict[str, bytes] = field(default_factory=dict)  # near-duplicate index: key -> value
    id_write: tuple[str, bytes] | None = None  # the delivery record: key, value


@dataclass(slots=True)
class _Probe:
    env: Envelope
    at: float
    reps: list[str]
    text_key: str | None
    sig: bytes | None
    shas: list[str]
    cell: tuple[int, int] | None
    xy: tuple[float, float] | None
    cells: list[tuple[int, int]]


_enc = msgspec.json.Encoder()
_reporters = msgspec.json.Decoder(ReporterRecord)
_cells = msgspec.json.Decoder(CellRecord)


class Deduper:
    """Plans dedup for a batch of envelopes against the KV index, in envelope order."""

    def __init__(self, settings: DedupSettings) -> None:
        self.s = settings
        self.cell_m = 2 * settings.incident_radius_m
        # Index values decoded once: a cell is read by its neighbours' decisions and by the write that follows.
        # Keyed by KV key, valid while the value is the very same bytes object (a write replaces it).
        self._decoded: dict[str, tuple[bytes, list[Recent] | list[CellItem]]] = {}
        signature("warm up")  # builds the MinHash tables (~0.1 s) now rather than in the first batch

    def probe_many(self, envs: Sequence[Envelope], plains: Sequence[str | None]) -> list[_Probe]:
        """`probe` for a batch, with the batch's text signatures computed together; a batch starts here."""
        self._decoded.clear()  # decoded records are reused within a batch; held longer they only cost memory
        texts = [norm_text(env, p) for env, p in zip(envs, plains, strict=True)]
        return [self._probe(env, text, sig) for env, text, sig in zip(envs, texts, signatures(texts), strict=True)]

    def probe(self, env: Envelope, text: str | None = None) -> _Probe:
        """The fingerprints of one envelope and the keys it needs to read (`text`: see `norm_text`)."""
        text = norm_text(env, text)
        return self._probe(env, text, signature(text))

    def _probe(self, env: Envelope, text: str, sig: bytes | None) -> _Probe:
        shas = attachment_hashes(env)
        text_key = None
        if len(text) >= self.s.min_text_chars or shas:
            text_key = digest("text", text, *shas)
        cell = xy = None
        cells: list[tuple[int, int]] = []
        if env.location is not None:
            x, y = env.location.lon * KX, env.location.lat * KY
            xy = (x, y)
            cx, cy = math.floor(x / self.cell_m), math.floor(y / self.cell_m)
            cell = (cx, cy)
            # With cells twice the radius, every point within the radius lies in these four cells.
            dx = 1 if x - cx * self.cell_m >= self.cell_m / 2 else -1
            dy = 1 if y - cy * self.cell_m >= self.cell_m / 2 else -1
            cells = [(cx, cy), (cx + dx, cy), (cx, cy + dy), (cx + dx, cy + dy)]
        return _Probe(env=env, at=env.received_at.timestamp(), reps=reporter_keys(env), text_key=text_key,
                      sig=sig, shas=shas, cell=cell, xy=xy, cells=cells)

    @staticmethod
    def id_key(p: _Probe) -> str:
        """The key of the envelope's delivery record (bucket `kanal_dedup`)."""
        return f"id.{p.env.id}"

    @staticmethod
    def index_keys(p: _Probe) -> list[str]:
        """The near-duplicate index keys the decision reads (bucket `kanal_dedup_index`)."""
        keys = [*(f"rep.{r}" for r in p.reps), *(f"cell.{cx}.{cy}" for cx, cy in p.cells)]
        if p.text_key:
            keys.append(f"txt.{p.text_key}")
        return keys

    def decide(self, p: _Probe, queue: str, view: dict[str, bytes]) -> Verdict:
        """The verdict for one envelope routed to `queue` by the rules; updates `view` with its writes."""
        env = p.env
        seen = view.get(f"id.{env.id}")
        if seen is not None:
            rec = msgspec.json.decode(seen, type=IdRecord)
            return Verdict(kind="exact", queue=rec.queue, reason=f"envelope already delivered as {rec.kind} "
                           f"to {rec.queue}")
        if not self.s.enabled:
            return self._item(p, queue, Dedup(), view, index=False)
        window = self.s.same_report_window.total_seconds()
        for rep in p.reps:
            raw = view.get(f"rep.{rep}")
            for prior in self._reporter(f"rep.{rep}", raw):
                if prior.id == env.id or abs(p.at - prior.at) > window:
                    continue
                same_file = bool(set(prior.shas) & set(p.shas))
                conflict = bool(prior.shas and p.shas and not same_file)
                sim = similarity(p.sig, unb64(prior.sig))
                if same_file or (not conflict and sim >= self.s.same_reporter_similarity):
                    why = "same attachment" if same_file else f"similar text ({sim:.2f})"
                    return self._duplicate(p, prior, "same_reporter", sim, f"same reporter, {why}", view)
        if p.text_key:
            raw = view.get(f"txt.{p.text_key}")
            if raw:
                prior = msgspec.json.decode(raw, type=Recent)
                # The same words about two places far apart are two reports (each kelurahan must see its own).
                apart = (prior.xy is not None and p.xy is not None and
                         math.dist(prior.xy, p.xy) > self.s.incident_radius_m)
                if prior.id != env.id and abs(p.at - prior.at) <= window and not apart:
                    return self._duplicate(p, prior, "same_text", 1.0, "same normalised text and attachments",
                                           view)
        return self._item(p, queue, self._incident(p, view), view, index=True)

    def _incident(self, p: _Probe, view: dict[str, bytes]) -> Dedup:
        if p.xy is None or p.sig is None:
            return Dedup()
        best: tuple[float, float, CellItem] | None = None
        window = self.s.incident_window.total_seconds()
        radius = self.s.incident_radius_m
        x, y = p.xy
        reps = set(p.reps)
        for cx, cy in p.cells:
            key = f"cell.{cx}.{cy}"
            for item in self._cell(key, view.get(key)):
                # Distance first: most of four cells' items lie outside the radius.
                dist = math.hypot(item.x - x, item.y - y)
                if dist > radius or item.id == p.env.id or abs(p.at - item.at) > window:
                    continue
                if not reps.isdisjoint(item.reps):  # the same reporter again is not a second witness
                    continue
                sim = similarity(p.sig, unb64(item.sig))
                if sim >= self.s.incident_similarity and (best is None or (sim, -dist) > (best[0], -best[1])):
                    best = (sim, dist, item)
        if best is None:
            return Dedup()
        sim, _, item = best
        incident = item.incident or item.id
        size = 1 + max([item.size] + [c.size for c in self._cell_items(p, view) if c.incident == incident])
        return Dedup(incident_id=incident, incident_size=size, similarity=round(sim, 3))

    def _reporter(self, key: str, raw: bytes | None) -> list[Recent]:
        """The reporter record's items (decoded once per value and batch)."""
        return self._items(key, raw, _reporters)  # type: ignore[return-value]

    def _cell(self, key: str, raw: bytes | None) -> list[CellItem]:
        """The cell record's items (decoded once per value and batch)."""
        return self._items(key, raw, _cells)  # type: ignore[return-value]

    def _items(self, key: str, raw: bytes | None,
               decoder: msgspec.json.Decoder[ReporterRecord] | msgspec.json.Decoder[CellRecord],
               ) -> list[Recent] | list[CellItem]:
        if not raw:
            return []
        hit = self._decoded.get(key)
        if hit is not None and hit[0] is raw:
            return hit[1]
        items = decoder.decode(raw).items
        self._decoded[key] = (raw, items)
        return items

    def _cell_items(self, p: _Probe, view: dict[str, bytes]) -> list[CellItem]:
        items: list[CellItem] = []
        for cx, cy in p.cells:
            raw = view.get(f"cell.{cx}.{cy}")
            items += self._cell(f"cell.{cx}.{cy}", raw)
        return items

    def _duplicate(self, p: _Probe, prior: Recent, why: str, sim: float, words: str,
                   view: dict[str, bytes]) -> Verdict:
        dedup = Dedup(duplicate_of=prior.id, duplicate_reason=why, similarity=round(sim, 3),  # type: ignore[arg-type]
                      incident_id=prior.incident or None)
        verdict = Verdict(kind="duplicate", dedup=dedup, queue=prior.queue,
                          reason=f"duplicate of {prior.id} ({words}); delivered to its queue {prior.queue}")
        self._record_id(verdict, p, prior.queue, view)
        return verdict

    def _item(self, p: _Probe, queue: str, dedup: Dedup, view: dict[str, bytes], index: bool) -> Verdict:
        verdict = Verdict(kind="item", dedup=dedup, queue=queue)
        if index:
            self._index(verdict, p, queue, dedup, view)
        self._record_id(verdict, p, queue, view)
        return verdict

    def _record_id(self, verdict: Verdict, p: _Probe, queue: str, view: dict[str, bytes]) -> None:
        value = _enc.encode(IdRecord(queue=queue, kind=verdict.kind, at=p.at))
        verdict.id_write = (f"id.{p.env.id}", value)
        view[f"id.{p.env.id}"] = value

    def _index(self, verdict: Verdict, p: _Probe, queue: str, dedup: Dedup, view: dict[str, bytes]) -> None:
        window = self.s.same_report_window.total_seconds()
        sig = b64(p.sig)
        recent = Recent(id=p.env.id, queue=queue, at=p.at, sig=sig, shas=p.shas, incident=dedup.incident_id or "",
                        xy=(round(p.xy[0], 1), round(p.xy[1], 1)) if p.xy is not None else None)
        writes = verdict.index_writes
        for rep in p.reps:
            key = f"rep.{rep}"
            raw = view.get(key)
            items = [r for r in self._reporter(key, raw)
                     if abs(p.at - r.at) <= window and r.id != p.env.id]
            items = [*items, recent][-self.s.reporter_capacity :]
            writes[key] = _enc.encode(ReporterRecord(items=items))
        if p.text_key:
            writes[f"txt.{p.text_key}"] = _enc.encode(recent)
        if p.cell is not None and p.xy is not None:
            iwin = self.s.incident_window.total_seconds()
            key = f"cell.{p.cell[0]}.{p.cell[1]}"
            raw = view.get(key)
            cell = [c for c in self._cell(key, raw)
                    if abs(p.at - c.at) <= iwin and c.id != p.env.id]
            mine = CellItem(id=p.env.id, queue=queue, at=p.at, x=round(p.xy[0], 1), y=round(p.xy[1], 1), sig=sig,
                            reps=p.reps, incident=dedup.incident_id or "", size=dedup.incident_size or 1)
            cell = [*cell, mine][-self.s.cell_capacity :]
            writes[key] = _enc.encode(CellRecord(items=cell))
        view.update(writes)

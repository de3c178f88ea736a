"""Place names as people say them ("Kelurahan Gambir, Kec. Gambir, Jakarta Pusat") for queue names and codes.

Officers and citizens read names, machines read codes. The names come from, in order: a code list given in
config (columns kode, level, nama, parent_kode, like ../shared/data/jakarta/wilayah.csv), the router's
gazetteer rule's code list, the boundaries GeoJSON of its geo rule (properties kelurahan, kecamatan, kota);
labels in config win for queues that are not places (`triage`, `gubernur`). With none of these readable (a
clone without ../shared) every label is the code itself: nothing breaks, it just reads like a machine.
"""

from __future__ import annotations

import csv
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kanal import log
from kanal.config import Config

_LEVEL_WORD = {"kelurahan": "Kelurahan", "kecamatan": "Kec.", "kota": ""}


@dataclass(frozen=True)
class Place:
    """One administrative area of the code list."""

    code: str
    level: str
    name: str
    parent: str | None = None


@dataclass
class Names:
    """Codes -> places, plus config labels for queues that are not places."""

    places: dict[str, Place] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    source: str | None = None

    def place(self, code: str) -> str | None:
        """`3171011001` -> "Kelurahan Gambir, Kec. Gambir, Jakarta Pusat" (None for an unknown code)."""
        found = self.places.get(code)
        if found is None:
            return None
        parts = []
        while found is not None and found.level in _LEVEL_WORD:
            word = _LEVEL_WORD[found.level]
            parts.append(f"{word} {found.name}".strip())
            found = self.places.get(found.parent) if found.parent else None
        return ", ".join(parts)

    def queues(self) -> list[tuple[str, str]]:
        """Every queue named after a place or labelled in config, as (queue, how people say it), by name:
        what an admin may reroute to."""
        named = {f"{p.level}.{p.code}": self.place(p.code) or p.code for p in self.places.values()
                 if p.level in ("kelurahan", "kecamatan")}
        named.update(self.labels)
        return sorted(named.items(), key=lambda pair: pair[1])

    def find(self, typed: str) -> list[str]:
        """The queues a name typed by an admin may mean: "Kec. Gambir", "kecamatan gambir", "Kelurahan Gambir",
        the whole label, or a bare "Gambir" (then both the kelurahan and the kecamatan); case and dots aside."""
        wanted = _folded(typed)
        if not wanted:
            return []
        found = []
        for queue, label in self.queues():
            own = label.split(",", 1)[0]  # "Kec. Gambir" of "Kec. Gambir, Jakarta Pusat"
            bare = own.split(" ", 1)[1] if queue.startswith(("kelurahan.", "kecamatan.")) and " " in own else own
            if wanted in (_folded(label), _folded(own), _folded(bare), queue):
                found.append(queue)
        return found

    def kelurahan(self, code: str) -> str | None:
        """Just the kelurahan's own name ("Gambir"), for a citizen's page."""
        found = self.places.get(code)
        return found.name if found is not None else None

    def queue(self, queue: str) -> str:
        """A queue as people say it: its configured label, its place's names, else the queue name itself."""
        if queue in self.labels:
            return self.labels[queue]
        _, _, code = queue.partition(".")
        return (self.place(code) if code else None) or queue

    def code_of(self, queue: str) -> str | None:
        """The place code a queue is named after (`kelurahan.3171011001` -> `3171011001`), if any."""
        level, _, code = queue.partition(".")
        return code if level in _LEVEL_WORD and code else None


_WORDS = {"kec": "kecamatan", "kel": "kelurahan", "kel.": "kelurahan", "kec.": "kecamatan"}


def _folded(text: str) -> str:
    """Lower case, "kec"/"kel" spelt out, dots and commas gone, single spaces."""
    words = text.lower().replace(",", " ").split()
    return " ".join(_WORDS.get(w, w).replace(".", "") for w in words)


def from_csv(path: Path) -> dict[str, Place]:
    """Places from a code list with columns kode, level, nama (parent_kode optional: derived from the code)."""
    out: dict[str, Place] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            code, level, name = (row.get("kode") or "").strip(), (row.get("level") or "").strip(), \
                (row.get("nama") or "").strip()
            if code and level and name:
                parent = (row.get("parent_kode") or "").strip() or _parent_code(code)
                out[code] = Place(code=code, level=level, name=name, parent=parent)
    return out


def from_geojson(path: Path, code_property: str = "kode") -> dict[str, Place]:
    """Kelurahan from boundaries (properties kelurahan, kecamatan, kota); kecamatan and kota by code prefix."""
    out: dict[str, Place] = {}
    for feature in json.loads(path.read_text(encoding="utf-8")).get("features", []):
        props = feature.get("properties") or {}
        code = str(props.get(code_property) or "")
        if not code or not props.get("kelurahan"):
            continue
        out[code] = Place(code=code, level="kelurahan", name=str(props["kelurahan"]), parent=_parent_code(code))
        if props.get("kecamatan") and len(code) >= 6:
            out.setdefault(code[:6], Place(code=code[:6], level="kecamatan", name=str(props["kecamatan"]),
                                           parent=code[:4]))
        if props.get("kota") and len(code) >= 4:
            out.setdefault(code[:4], Place(code=code[:4], level="kota", name=str(props["kota"]), parent=code[:2]))
    return out


def _parent_code(code: str) -> str | None:
    """Kemendagri codes nest: 31 > 3171 > 317101 > 3171011001."""
    return {10: code[:6], 6: code[:4], 4: code[:2]}.get(len(code))


def _rules_sources(config: Config) -> tuple[Path | None, Path | None]:
    """The code list of the router's gazetteer rule and the boundaries of its geo rule, as paths."""
    rules_path = config.path(str(config.router.get("rules", "deploy/rules/jakarta.toml")))
    try:
        rules = tomllib.loads(rules_path.read_text(encoding="utf-8")).get("rule", [])
    except (OSError, tomllib.TOMLDecodeError):
        return None, None
    names = next((r["names"] for r in rules if r.get("type") == "gazetteer" and r.get("names")), None)
    bounds = next((r["boundaries"] for r in rules if r.get("type") == "geo" and r.get("boundaries")), None)
    base = rules_path.parent
    return ((base / str(names)).resolve() if names else None), ((base / str(bounds)).resolve() if bounds else None)


def load(config: Config, code_list: str | None = None, labels: Mapping[str, str] | None = None,
         boundaries: str | None = None) -> Names:
    """Names from the first readable source (see the module's docstring); codes only when none is."""
    names_path, bounds_path = _rules_sources(config)
    candidates: list[tuple[Path, str]] = []
    if code_list:
        candidates.append((config.path(code_list), "csv"))
    if names_path is not None:
        candidates.append((names_path, "csv"))
    if boundaries:
        candidates.append((config.path(boundaries), "geojson"))
    if bounds_path is not None:
        candidates.append((bounds_path, "geojson"))
    for path, kind in candidates:
        if not path.exists():
            continue
        try:
            places = from_csv(path) if kind == "csv" else from_geojson(path)
        except (OSError, ValueError, UnicodeDecodeError) as err:
            log.get("wilayah").warning("place_names_unreadable", path=str(path), error=str(err))
            continue
        if places:
            return Names(places=places, labels=dict(labels or {}), source=str(path))
    log.get("wilayah").warning("place_names_missing", tried=[str(p) for p, _ in candidates],
                               hint="set [admin] wilayah to a code list (kode,level,nama,parent_kode) so queues "
                                    "show place names, not codes")
    return Names(labels=dict(labels or {}))

"""The disposition map (deploy/rules/disposition.toml): which dinas or suku dinas queue handles a category in
a kota, and how officers call it. Pure: loaded and validated once, then asked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from kanal.tomlfile import read_toml
from router.categories import CategoriesError, Classifier

UnitId = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
KotaCode = Annotated[str, Meta(pattern=r"^[0-9]{4}$")]
_AREA = re.compile(r"^(kelurahan|kecamatan|kota)\.([0-9]{4})[0-9]*$")


class DispositionError(ValueError):
    """The disposition map cannot be used; the message names the entry and what to change."""


class Unit(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A dinas; `per_kota`: each kota has its suku dinas (`sudin.<id>-<kota>`), else one `dinas.<id>`."""

    name: Annotated[str, Meta(min_length=1)]
    per_kota: bool = True


class Kota(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A kota's name and the categories another unit handles there."""

    name: Annotated[str, Meta(min_length=1)]
    override: dict[str, UnitId] = {}


class DispositionFile(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The file's top level."""

    version: Literal[1] = 1
    categories: str = "categories.toml"
    unit: dict[UnitId, Unit]
    default: dict[str, UnitId] = {}
    kota: dict[KotaCode, Kota] = {}


@dataclass(frozen=True)
class Target:
    """Where a category goes from a kota: the queue and the name officers read ("Suku Dinas Bina Marga ...")."""

    queue: str
    label: str
    category: str


class DispositionMap:
    """Category + the queue an item is in -> the dinas / suku dinas queue that handles it."""

    def __init__(self, spec: DispositionFile, classifier: Classifier, source: str = "<memory>") -> None:
        self.spec = spec
        self.classifier = classifier
        self.source = source

    @classmethod
    def load(cls, path: Path) -> DispositionMap:
        """Read and validate the map and the categories file it names (relative to the map)."""
        data = read_toml(path, "disposition map", DispositionError)
        try:
            spec = msgspec.convert(data, DispositionFile, strict=True)
        except msgspec.ValidationError as err:
            raise DispositionError(f"disposition map {path}: {err}") from err
        try:
            classifier = Classifier.load(path.resolve().parent / spec.categories)
        except CategoriesError as err:
            raise DispositionError(f"disposition map {path}: {err}") from err
        return cls.from_spec(spec, classifier, str(path))

    @classmethod
    def from_spec(cls, spec: DispositionFile, classifier: Classifier, source: str = "<memory>") -> DispositionMap:
        """Check every category and unit named against the categories file and the units."""
        where = f"disposition map {source}"
        known = set(classifier.ids)
        tables: list[tuple[str, dict[str, str]]] = [("[default]", spec.default)]
        tables += [(f"[kota.{code}.override]", kota.override) for code, kota in spec.kota.items()]
        for table, mapping in tables:
            for category, unit in mapping.items():
                if category not in known:
                    raise DispositionError(f"{where}: {table}: unknown category {category!r}; use one of "
                                           f"{', '.join(classifier.ids)}")
                if unit not in spec.unit:
                    raise DispositionError(f"{where}: {table}: {category} = {unit!r} is not a unit; add "
                                           f"[unit.{unit}] or use one of {', '.join(sorted(spec.unit))}")
        return cls(spec, classifier, source)

    @staticmethod
    def kota_of(queue: str) -> str | None:
        """The 4-digit kota code of a kelurahan / kecamatan / kota queue, else None."""
        found = _AREA.match(queue)
        return found.group(2) if found else None

    def target(self, queue: str, category: str | None) -> Target | None:
        """Where an item about `category` in `queue` goes; None when nobody is named (or `lainnya`)."""
        kota_code = self.kota_of(queue)
        if category is None or kota_code is None:
            return None
        kota = self.spec.kota.get(kota_code)
        unit_id = (kota.override.get(category) if kota else None) or self.spec.default.get(category)
        if unit_id is None:
            return None
        unit = self.spec.unit[unit_id]
        if not unit.per_kota:
            return Target(queue=f"dinas.{unit_id}", label=f"Dinas {unit.name}", category=category)
        place = kota.name if kota else f"kota {kota_code}"
        return Target(queue=f"sudin.{unit_id}-{kota_code}", label=f"Suku Dinas {unit.name} {place}",
                      category=category)

    def labels(self) -> dict[str, str]:
        """Every dinas / suku dinas queue of the map with its label (a unit per kota: one queue per kota named)."""
        out: dict[str, str] = {}
        for unit_id, unit in self.spec.unit.items():
            queues = [f"sudin.{unit_id}-{code}" for code in self.spec.kota] if unit.per_kota else [f"dinas.{unit_id}"]
            out.update((queue, self.label(queue)) for queue in queues)
        return out

    def label(self, queue: str) -> str:
        """How officers call a dinas / suku dinas queue; the queue itself for any other."""
        kind, _, rest = queue.partition(".")
        unit_id, _, code = rest.partition("-")
        unit = self.spec.unit.get(unit_id)
        if unit is None or kind not in ("dinas", "sudin"):
            return queue
        if kind == "dinas":
            return f"Dinas {unit.name}"
        kota = self.spec.kota.get(code)
        return f"Suku Dinas {unit.name} {kota.name if kota else code}"


def load_map(path: Path | None) -> DispositionMap | None:
    """The map at `path`, or None when no path is configured."""
    return DispositionMap.load(path) if path is not None else None




"""Place names in complaint text: Indonesian kelurahan/kecamatan/kota names and spellings -> an admin area.

Names are compared without spaces ("Pal Merah" = "Palmerah", "Kramat Jati" = "Kramatjati"), after the
markers "kel."/"kelurahan", "kec."/"kecamatan" and "kota"/"jakarta". A name shared by a kelurahan and a
kecamatan means the kecamatan unless "kel."/"kelurahan" stands before it. Names that are ordinary words
("Tengah", "Baru", "Gunung" ...) only count after a marker.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import Literal

from msgspec import Struct

Level = Literal["kelurahan", "kecamatan", "kota"]
_RANK: dict[str, int] = {"kelurahan": 0, "kecamatan": 1, "kota": 2}
MAX_WORDS = 5
_WORD = re.compile(r"[a-z0-9]+")
_SPACES = re.compile(rb"  +")
# ASCII -> lowercase letters and digits, everything else a space: `_WORD.findall(text.lower())` for ASCII text
# (a bytes table: bytes.translate is several times faster than str.translate).
_ASCII_WORDS = bytes(ord(chr(i).lower()) if re.fullmatch(r"[a-z0-9]", chr(i).lower()) else ord(" ")
                     for i in range(256))

KELURAHAN_MARKERS = frozenset({"kel", "kelurahan", "kelurhan", "desa"})
KECAMATAN_MARKERS = frozenset({"kec", "kecamatan", "kecamtan"})
KOTA_MARKERS = frozenset({"kota", "kotamadya", "jakarta", "kab", "kabupaten", "wilayah"})

# Spellings seen in other code lists and in ordinary text (from ../shared/data/jakarta/SOURCE.md).
DEFAULT_ALIASES: dict[str, str] = {
    "Halim Perdana Kusumah": "Halim Perdana Kusuma",
    "Harapan Mulya": "Harapan Mulia",
    "Kampung Tengah": "Tengah",
    "Pal Meriem": "Palmeriam",
    "Papango": "Papanggo",
    "Tanjung Priuk": "Tanjung Priok",
    "Wijaya Kesuma": "Wijaya Kusuma",
    "Jakbar": "Jakarta Barat",
    "Jaksel": "Jakarta Selatan",
    "Jakut": "Jakarta Utara",
    "Jaktim": "Jakarta Timur",
    "Jakpus": "Jakarta Pusat",
    "Kepulauan Seribu": "Kepulauan Seribu",
    "Pulau Seribu": "Kepulauan Seribu",
    "Priok": "Tanjung Priok",
}
# Kelurahan names that are also common words or parts of street names: matched only after a marker.
DEFAULT_NEED_MARKER = (
    "Tengah", "Baru", "Gunung", "Pulo", "Jati", "Kramat", "Karet", "Dukuh", "Gedong", "Kenari", "Bangka",
    "Galur", "Setu", "Kamal", "Kapuk", "Guntur", "Rambutan", "Kartini", "Selong", "Serdang", "Susukan",
    "Ceger", "Joglo", "Munjul", "Srengseng", "Cawang", "Kalibata", "Bintaro", "Kelapa Dua",
)


class Place(Struct, frozen=True, kw_only=True):
    """One named admin area."""

    code: str
    level: Level
    name: str


class PlaceMatch(Struct, frozen=True, kw_only=True):
    """A place found in text: the phrase as written, the area, and whether a level marker preceded it."""

    place: Place
    phrase: str
    marker: str | None = None


def normalise(text: str) -> list[str]:
    """Lowercase ASCII word tokens; punctuation and accents dropped ("Kel.Menteng" -> ["kel", "menteng"])."""
    if text.isascii():  # NFKD and the ASCII fold change nothing: lowercase and split in one pass (most texts)
        return text.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split()
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return _WORD.findall(folded)


def plain(text: str) -> str:
    """`normalise`d words joined by single spaces ("Kel.Menteng, Jakpus!" -> "kel menteng jakpus").

    What the router reads once per envelope: dedup hashes and fingerprints it whole, and only the rules that
    look for place names split it (`.split()` gives `normalise(text)`). For ASCII text no word list is built:
    a 1 KB complaint splits into ~150 strings, which cost more to make and free than the rest of this.
    """
    if not text.isascii():
        return " ".join(normalise(text))
    flat = text.encode("ascii").translate(_ASCII_WORDS)
    if b"  " in flat:
        flat = _SPACES.sub(b" ", flat)
    return flat.strip(b" ").decode("ascii")


def envelope_text(subject: str | None, text: str) -> str:
    """The text the rules and dedup read: subject, then body."""
    return f"{subject or ''}\n{text}"


def key_of(name: str) -> str:
    """A name's comparison key: its tokens joined without spaces."""
    return "".join(normalise(name))


@dataclass
class Gazetteer:
    """Names -> places, with the lookup that reads a complaint's text."""

    places: dict[str, list[Place]] = field(default_factory=dict)
    need_marker: frozenset[str] = frozenset()
    prefixes: set[str] = field(default_factory=set)

    def add(self, name: str, place: Place) -> None:
        """Register a name (or alias) for a place."""
        key = key_of(name)
        entries = self.places.setdefault(key, [])
        if place not in entries:
            entries.append(place)
        self.prefixes.update(key[:n] for n in range(1, len(key) + 1))

    @classmethod
    def build(cls, places: Iterable[Place], aliases: Mapping[str, str] | None = None,
              need_marker: Iterable[str] = DEFAULT_NEED_MARKER) -> Gazetteer:
        """A gazetteer from places, plus aliases (alias -> canonical name of any level)."""
        gaz = cls(need_marker=frozenset(key_of(n) for n in need_marker))
        for place in places:
            gaz.add(place.name, place)
        for alias, canonical in {**DEFAULT_ALIASES, **(aliases or {})}.items():
            for place in list(gaz.places.get(key_of(canonical), [])):
                gaz.add(alias, place)
        return gaz

    def find(self, text: str, words: Sequence[str] | None = None) -> list[PlaceMatch]:
        """Every place named in `text` (or its `normalise`d `words`, given), longest phrase first, in text order."""
        tokens = normalise(text) if words is None else words
        found: list[PlaceMatch] = []
        prefixes = self.prefixes
        free = 0  # tokens before this are part of an earlier match
        # Only a token that is a prefix of some name can start one: usually a handful of a complaint's words.
        for i in compress(range(len(tokens)), map(prefixes.__contains__, tokens)):  # in C, not a Python loop
            if i < free:
                continue
            joined, lengths = "", []
            for n in range(1, min(MAX_WORDS, len(tokens) - i) + 1):
                joined += tokens[i + n - 1]
                if joined not in prefixes:
                    break
                lengths.append((n, joined))
            for n, key in reversed(lengths):
                if key in self.places:
                    prev = tokens[i - 1] if i > 0 else None
                    match = self._resolve(key, " ".join(tokens[i : i + n]), prev)
                    if match is not None:
                        found.append(match)
                        free = i + n
                        break
        return found

    def _resolve(self, key: str, phrase: str, prev: str | None) -> PlaceMatch | None:
        candidates = self.places[key]
        marker = prev if prev in KELURAHAN_MARKERS | KECAMATAN_MARKERS | KOTA_MARKERS else None
        if marker is None and key in self.need_marker:
            return None
        if marker in KELURAHAN_MARKERS:
            wanted: tuple[str, ...] = ("kelurahan", "kecamatan", "kota")
        elif marker in KECAMATAN_MARKERS:
            wanted = ("kecamatan", "kelurahan", "kota")
        else:
            # A name shared by a kecamatan and a kelurahan means the kecamatan without a kelurahan marker.
            wanted = ("kota", "kecamatan", "kelurahan")
        for level in wanted:
            for place in candidates:
                if place.level == level:
                    return PlaceMatch(place=place, phrase=phrase, marker=marker)
        return None

    def best(self, text: str, words: Sequence[str] | None = None) -> tuple[PlaceMatch | None, list[PlaceMatch]]:
        """The most specific place named (kelurahan over kecamatan over kota; first in text on a tie)."""
        found = self.find(text, words)
        if not found:
            return None, found
        return min(found, key=lambda m: _RANK[m.place.level]), found


def places_from_csv(path: Path) -> list[Place]:
    """Places from a code list with columns kode, level, nama (like ../shared/data/jakarta/wilayah.csv)."""
    places: list[Place] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"kode", "level", "nama"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for row in reader:
            level = row["level"].strip()
            if level in _RANK:
                places.append(Place(code=row["kode"].strip(), level=level, name=row["nama"].strip()))  # type: ignore[arg-type]
    return places


def places_from_areas(areas: Iterable[tuple[str, str, str | None, str | None]]) -> list[Place]:
    """Kelurahan places from boundaries (code, kelurahan, kecamatan, kota); kecamatan/kota from code prefixes."""
    places: dict[tuple[str, str], Place] = {}
    for code, name, kecamatan, kota in areas:
        places[("kelurahan", code)] = Place(code=code, level="kelurahan", name=name)
        if kecamatan and len(code) >= 6:
            places[("kecamatan", code[:6])] = Place(code=code[:6], level="kecamatan", name=kecamatan)
        if kota and len(code) >= 4:
            places[("kota", code[:4])] = Place(code=code[:4], level="kota", name=kota)
    return list(places.values())

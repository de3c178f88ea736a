"""Place names in complaint text: Indonesian kelurahan/kecamatan/kota names and spellings -> an admin area.

Names are compared without spaces ("Pal Merah" = "Palmerah", "Kramat Jati" = "Kramatjati"), after the
markers "kel."/"kelurahan", "kec."/"kecamatan" and "kota"/"jakarta". A name shared by a kelurahan and a
kecamatan means the kecamatan unless "kel."/"kelurahan" stands before it. Names that are ordinary words
("Tengah", "Baru", "Gunung" ...) only count after a marker; common nouns ("pasar", "kali" ...) never alone.

Landmarks ("Stasiun Gambir", "GBK") name the kelurahan they lie in; names are also registered in their short
forms ("Ps. Minggu", "Tg. Priok", "Jkt Sel"), old spellings and chat style without vowels ("Djatinegara",
"Kbyrn Lama"); a name not found exactly is looked for with one or two typos (router/typos.py: after a word
that introduces a place, or more strictly anywhere). `read` ranks what it found: an explicit
"kel. X" > a landmark > a kelurahan named plainly > a misspelt kelurahan > a kecamatan > a kota, and says
why the others lost.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import Literal

import msgspec
from msgspec import Struct
from rapidfuzz.distance import OSA

from router import typos, wordnames
from router.fuzzy import FuzzyHit, FuzzyIndex, vowels_dropped
from router.places import (
    COMMON_NOUNS,
    CUES,
    DEFAULT_ALIASES,
    FUZZY_STOP,
    KECAMATAN_MARKERS,
    KELURAHAN_MARKERS,
    KOTA_MARKERS,
    STREET_MARKERS,
    Abbreviation,
    Landmark,
    PlacesError,
    abbreviation_table,
    ordinary_words,
    respellings,
    said_as_word,
    senses,
    short_forms,
)
from router.places import (
    DEFAULT_NEED_MARKER as DEFAULT_NEED_MARKER,  # re-exported: rules files default to it
)
from router.ranking import rank

Level = Literal["kelurahan", "kecamatan", "kota"]
_START, _CUE, _HEAD = 1, 2, 4
_RANK: dict[str, int] = {"kelurahan": 0, "kecamatan": 1, "kota": 2}
MAX_WORDS = 5
_WORD = re.compile(r"[a-z0-9]+")
_SPACES = re.compile(rb"  +")
# ASCII -> lowercase letters and digits, everything else a space: `_WORD.findall(text.lower())` for ASCII text
# (a bytes table: bytes.translate is several times faster than str.translate).
_ASCII_WORDS = bytes(ord(chr(i).lower()) if re.fullmatch(r"[a-z0-9]", chr(i).lower()) else ord(" ")
                     for i in range(256))


class Place(Struct, frozen=True, kw_only=True):
    """One named admin area."""

    code: str
    level: Level
    name: str


class PlaceMatch(Struct, frozen=True, kw_only=True):
    """A place found in text: the phrase as written, the area, and how it was read.

    `marker`: the level word before it ("kel"); `landmark`: the landmark the phrase names; `expanded`: the
    full name a short form or typo was read as; `edits`/`score`: a fuzzy match's edit count and similarity.
    """

    place: Place
    phrase: str
    marker: str | None = None
    at: int = 0
    landmark: str | None = None
    expanded: str | None = None
    edits: int | None = None
    score: float | None = None
    spelling: str | None = None  # "old spelling", "without vowels": how a respelt name was written
    before: str | None = None  # a name that is also a word, read as a place before this kecamatan/kota

    @property
    def names_area(self) -> bool:
        """A kecamatan or kota named exactly: what a misspelt name or a word name beside it must lie in."""
        return self.place.level in ("kecamatan", "kota") and self.edits is None


class Reading(Struct, frozen=True, kw_only=True):
    """What `Gazetteer.read` made of a text: the chosen place, everything found, candidates turned down."""

    best: PlaceMatch | None
    found: list[PlaceMatch]
    notes: list[str]


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
    landmarks: dict[str, tuple[Landmark, Place]] = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)  # a short-form key -> the full name it stands for
    respelt: dict[str, str] = field(default_factory=dict)  # written key -> "old spelling"/"without vowels"
    fuzzy: FuzzyIndex | None = None
    breaks: frozenset[str] = frozenset()  # ordinary words no name contains: a typo window ends before one
    name_words: frozenset[str] = frozenset()  # every word of a name in the typo index, spelt right
    spelled: dict[str, tuple[str, ...]] = field(default_factory=dict)  # a typo index key -> its name's words
    heads: frozenset[str] = frozenset()  # words a misspelt name may begin with, no cue needed (router/typos.py)
    cue_words: frozenset[str] = CUES
    word_names: frozenset[str] = frozenset()  # need-marker names readable before their kecamatan (wordnames)
    word_names_fuzzy: FuzzyIndex | None = None
    no_typo: frozenset[str] = CUES | FUZZY_STOP  # no typo window starts at one of these words after a cue
    # token -> what it may be (_START: begins a name, _CUE: a typo may follow it): one pass over a text's words
    # in C finds both; built at the end of `build` (or on first use).
    _marks: dict[str, int] | None = None

    def add(self, name: str, place: Place) -> None:
        """Register a name (or alias) for a place."""
        key = key_of(name)
        entries = self.places.setdefault(key, [])
        if place not in entries:
            entries.append(place)
        self.prefixes.update(key[:n] for n in range(1, len(key) + 1))

    def add_landmark(self, landmark: Landmark, place: Place) -> None:
        """Register a landmark's names; none may be an area's name (that name already means the area)."""
        for name in landmark.names:
            key = key_of(name)
            if key in self.places:
                taken = self.places[key][0]
                raise PlacesError(f"landmark {landmark.name}: {name!r} is the name of {taken.level} {taken.name}: "
                                  "remove the alias or make it longer")
            self.landmarks[key] = (landmark, place)
            self.prefixes.update(key[:n] for n in range(1, len(key) + 1))

    @classmethod
    def build(cls, places: Iterable[Place], aliases: Mapping[str, str] | None = None,
              need_marker: Iterable[str] = DEFAULT_NEED_MARKER, *, landmarks: Iterable[Landmark] = (),
              abbreviations: Iterable[Abbreviation] = (), fuzzy: bool = False) -> Gazetteer:
        """A gazetteer from places, plus aliases (alias -> canonical name of any level), landmarks (each in a
        kelurahan among `places`), short forms of every name, and a typo index (`fuzzy`)."""
        places = list(places)
        senses()  # read router/data/senses.txt now: a malformed line stops the start, not the first report
        gaz = cls(need_marker=frozenset(key_of(n) for n in need_marker) | COMMON_NOUNS)
        names: list[str] = []
        for place in places:
            gaz.add(place.name, place)
            names.append(place.name)
        for alias, canonical in {**DEFAULT_ALIASES, **(aliases or {})}.items():
            for place in list(gaz.places.get(key_of(canonical), [])):
                gaz.add(alias, place)
                names.append(alias)
        kelurahan = {p.code: p for p in places if p.level == "kelurahan"}
        for landmark in landmarks:
            if landmark.code not in kelurahan:
                raise PlacesError(f"landmark {landmark.name}: kelurahan {landmark.code} is not in the names list")
            gaz.add_landmark(landmark, kelurahan[landmark.code])
        marks = list({id(lm): lm for lm, _ in gaz.landmarks.values()}.values())
        table = abbreviation_table(abbreviations)
        if table:
            gaz._add_forms(names, lambda words: short_forms(words, table))
            for landmark in marks:
                gaz._add_forms(landmark.names, lambda words: short_forms(words, table), landmark)
        if fuzzy:
            before = set(gaz.written)
            gaz._add_forms(names, respellings, whole_words=True)
            for landmark in marks:
                gaz._add_forms(landmark.names, respellings, landmark, whole_words=True)
            gaz.respelt = {k: "without vowels" if vowels_dropped(k, key_of(gaz.written[k])) else "old spelling"
                           for k in set(gaz.written) - before}
            typos.index(gaz, names, marks)
        gaz.word_names = wordnames.readable(gaz)
        if fuzzy:  # their own typo index: they never compete with the other names' typos
            gaz.word_names_fuzzy = FuzzyIndex(gaz.word_names)
        gaz._marks = gaz._mark_table()
        return gaz

    def name_of(self, key: str) -> str:
        """The full name an index key stands for (a place's or a landmark's)."""
        return self.places[key][0].name if key in self.places else self.landmarks[key][0].name

    def match_key(self, key: str, phrase: str, prev: str | None, at: int, hit: FuzzyHit) -> PlaceMatch | None:
        """A misspelt phrase read as the place or landmark with this key."""
        if key in self.places:
            return self._resolve(key, phrase, prev, at, hit)
        landmark, place = self.landmarks[key]
        return PlaceMatch(place=place, phrase=phrase, at=at, landmark=landmark.name, expanded=landmark.name,
                          edits=hit.edits, score=hit.score)

    def _mark_table(self) -> dict[str, int]:
        marks = dict.fromkeys(self.prefixes, _START)
        if self.fuzzy is not None:
            for cue in CUES:
                marks[cue] = marks.get(cue, 0) | _CUE
            for head in self.heads:
                marks[head] = marks.get(head, 0) | _HEAD
        return marks

    def _scan(self, tokens: Sequence[str]) -> tuple[list[int], list[int], list[int]]:
        """Where a name may start, the cue words a typo may follow (the next word is not an ordinary one
        or another cue) and the words a misspelt name may begin with: one pass over the words, most of which
        are none of these."""
        marks = self._marks
        if marks is None:
            marks = self._marks = self._mark_table()
        starts: list[int] = []
        cues: list[int] = []
        heads: list[int] = []
        keys, places, landmarks, no_typo = self.prefixes, self.places, self.landmarks, self.no_typo
        last = len(tokens) - 1
        for i in compress(range(len(tokens)), map(marks.__contains__, tokens)):  # in C, not a Python loop
            token = tokens[i]
            mark = marks[token]
            # a name starts here if this word is one, or this word and the next begin one ("jalan rusak" does not)
            if mark & _START and (token in places or token in landmarks or
                                  (i < last and token + tokens[i + 1] in keys)):
                starts.append(i)
            if mark & _CUE and i < last and tokens[i + 1] not in no_typo:
                cues.append(i)
            if mark & _HEAD:
                heads.append(i)
        return starts, cues, heads

    def _add_forms(self, names: Iterable[str], forms: Callable[[list[str]], list[tuple[str, ...]]],
                   landmark: Landmark | None = None, *, whole_words: bool = False) -> None:
        """Register other ways of writing each name (short forms, respellings) as that name; `whole_words`:
        found only as its words are written ("rw mngn", not "rwm ngn": "rw" alone starts no look-up)."""
        need = set(self.need_marker)
        ordinary = ordinary_words()
        for name in names:
            key = key_of(name)
            for form in forms(normalise(name)):
                short = "".join(form)
                if len(short) < 4 or short in self.places or short in self.landmarks or short in ordinary:
                    continue  # a real name or word, or too short to mean anything
                self.written[short] = landmark.name if landmark else self.places[key][0].name
                if landmark is not None:
                    self.landmarks[short] = self.landmarks[key]
                else:
                    self.places[short] = self.places[key]  # one list: nothing is added after build
                    if key in need:
                        need.add(short)
                if whole_words:
                    self.prefixes.update("".join(form[:n]) for n in range(1, len(form) + 1))
                else:
                    self.prefixes.update(short[:n] for n in range(1, len(short) + 1))
        self.need_marker = frozenset(need)

    def find(self, text: str, words: Sequence[str] | None = None) -> list[PlaceMatch]:
        """Every place named in `text` (or its `normalise`d `words`, given), longest phrase first, in text order."""
        tokens = normalise(text) if words is None else words
        return self._find(tokens, self._scan(tokens)[0])[0]

    def _find(self, tokens: Sequence[str], starts: Sequence[int]) -> tuple[list[PlaceMatch], list[str]]:
        """Names found exactly, and notes on names passed over because they are said as words here."""
        found: list[PlaceMatch] = []
        notes: list[str] = []
        prefixes = self.prefixes
        free = 0  # tokens before this are part of an earlier match
        for i in starts:  # only where a name may start: usually a handful of a complaint's words
            if i < free:
                continue
            joined, lengths = "", []
            for n in range(1, min(MAX_WORDS, len(tokens) - i) + 1):
                joined += tokens[i + n - 1]
                if joined not in prefixes:
                    break
                lengths.append((n, joined))
            for n, key in reversed(lengths):
                match: PlaceMatch | None = None
                if key in self.respelt:  # an old spelling or chat style: read like a typo
                    hit = FuzzyHit(key=key, edits=int(OSA.distance(key, key_of(self.written[key]))),
                                   score=round(100 * OSA.normalized_similarity(key, key_of(self.written[key])), 1))
                    match = self.match_key(key, " ".join(tokens[i : i + n]), tokens[i - 1] if i else None, i, hit)
                    if match is not None:
                        match = msgspec.structs.replace(match, spelling=self.respelt[key])
                elif key in self.places:
                    if said_as_word(tokens, i, n):
                        notes.append(f"{' '.join(tokens[i : i + n])!r} is said as a word here, not as a place "
                                     "(router/data/senses.txt)")
                        continue
                    prev = tokens[i - 1] if i > 0 else None
                    match = self._resolve(key, " ".join(tokens[i : i + n]), prev, i)
                elif key in self.landmarks:
                    landmark, place = self.landmarks[key]
                    match = PlaceMatch(place=place, phrase=" ".join(tokens[i : i + n]), at=i,
                                       landmark=landmark.name, expanded=self.written.get(key))
                if match is not None:
                    found.append(match)
                    free = i + n
                    break
        return found, notes

    def _resolve(self, key: str, phrase: str, prev: str | None, at: int = 0,
                 hit: FuzzyHit | None = None) -> PlaceMatch | None:
        candidates = self.places[key]
        marker = prev if prev in KELURAHAN_MARKERS | KECAMATAN_MARKERS | KOTA_MARKERS | STREET_MARKERS else None
        if (marker is None or marker in STREET_MARKERS) and key in self.need_marker:
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
                    if hit is not None:
                        return PlaceMatch(place=place, phrase=phrase, marker=marker, at=at, expanded=place.name,
                                          edits=hit.edits, score=hit.score)
                    return PlaceMatch(place=place, phrase=phrase, marker=marker, at=at,
                                      expanded=self.written.get(key))
        return None

    def read(self, text: str, words: Sequence[str] | None = None) -> Reading:
        """Everything named, the most specific place (see `rank`; first in text on a tie) and the notes."""
        tokens = normalise(text) if words is None else words
        starts, cues, heads = self._scan(tokens)
        found, notes = self._find(tokens, starts)
        if self.word_names and found:
            extra = wordnames.before_area(self, tokens, found)
            if extra:
                found = sorted(found + extra, key=lambda m: m.at)
        if self.fuzzy is not None:
            found = [typos.longer(self, m, tokens) for m in found]
            found, outside = typos.within(found)
            notes += outside
            if tokens and not any(m.place.level == "kelurahan" and m.edits is None for m in found):
                more, more_notes = typos.misspelt(self, tokens, found, cues, heads)
                found, notes = sorted(found + more, key=lambda m: m.at), notes + more_notes
        best = min(found, key=rank) if found else None
        return Reading(best=best, found=found, notes=notes)

    def best(self, text: str, words: Sequence[str] | None = None) -> tuple[PlaceMatch | None, list[PlaceMatch]]:
        """The most specific place named and everything found (`read` without the notes)."""
        reading = self.read(text, words)
        return reading.best, reading.found


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

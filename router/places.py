"""Places as people write them: the landmarks file and the abbreviation table (data the city edits).

`router/data/landmarks.csv`: one row per landmark (`name`, `aliases` separated by ";", `kind`, `kode` of the
kelurahan it lies in, `kelurahan` name for people reading the file, `lat`, `lon`). `router/data/
abbreviations.csv`: `short,long` ("ps,pasar"; a long form may be several words: "rs,rumah sakit").
Both ship in the wheel; a rules file may point a gazetteer rule at its own copies. `check_landmarks` proves
each point lies inside its kelurahan's polygon (`kanal geo check --landmarks FILE`, and the tests).
The word lists the gazetteer reads by also live here: aliases of area names, names that need a marker,
common nouns, markers, cue words and ordinary words.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path

from msgspec import Struct

from router.geo import KX, KY, Boundaries

BUILTIN = "builtin"
KINDS = frozenset({
    "station", "terminal", "market", "mall", "hospital", "campus", "mosque", "church", "temple", "park",
    "monument", "building", "port", "airport", "toll", "stadium", "island", "area", "cemetery",
})
# Words that name a kind of place, not a place: alone they route nowhere (a landmark alias may not be one).
COMMON_NOUNS = frozenset({
    "pasar", "kebon", "kebun", "kampung", "gang", "kali", "rawa", "pulo", "pulau", "jalan", "taman", "stasiun",
    "terminal", "halte", "masjid", "mesjid", "gereja", "setu", "situ", "danau", "waduk", "tanah", "baru",
    "raya", "blok", "pintu", "tol", "mall", "mal", "plaza", "rumah", "sakit", "rs", "rsud", "puskesmas",
    "sekolah", "kantor", "pelabuhan", "dermaga", "pantai", "hutan", "kota", "lapangan", "tugu", "jembatan",
    "kelurahan", "kecamatan", "gedung", "kampus", "universitas", "apartemen", "rusun", "perumahan", "komplek",
    "kompleks", "lrt", "mrt", "krl", "busway", "transjakarta", "tj", "bandara", "museum", "makam", "tpu",
})
BORDER_M = 100.0
# Spellings seen in other code lists and in ordinary text (from ../shared/data/jakarta/SOURCE.md).
DEFAULT_ALIASES: dict[str, str] = {
    "Halim Perdana Kusumah": "Halim Perdana Kusuma",
    "Halim PK": "Halim Perdana Kusuma",
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
    "Kampung Rambutan": "Rambutan",
    # names people use for a kelurahan or kecamatan without being one ("Benhil" = Bendungan Hilir)
    "Benhil": "Bendungan Hilir",
    "Tenabang": "Tanah Abang",
    "Pasming": "Pasar Minggu",
    "Mampang": "Mampang Prapatan",
}
# Kelurahan names that are also common words or parts of street names: matched only after a marker.
DEFAULT_NEED_MARKER = (
    "Tengah", "Baru", "Gunung", "Pulo", "Jati", "Kramat", "Karet", "Dukuh", "Gedong", "Kenari", "Bangka",
    "Galur", "Setu", "Kamal", "Kapuk", "Guntur", "Rambutan", "Kartini", "Selong", "Serdang", "Susukan",
    "Ceger", "Joglo", "Munjul", "Srengseng", "Cawang", "Kalibata", "Bintaro", "Kelapa Dua",
    "Tangki",  # "tangki air bocor", "truk tangki": a water tank
)
KELURAHAN_MARKERS = frozenset({"kel", "kelurahan", "kelurhan", "desa"})
KECAMATAN_MARKERS = frozenset({"kec", "kecamatan", "kecamtan"})
KOTA_MARKERS = frozenset({"kota", "kotamadya", "jakarta", "kab", "kabupaten", "wilayah"})
def area_start(tokens: Sequence[str], at: int) -> int:
    """Where a kecamatan or kota named at `at` begins, with its marker ("susukan kec. ciracas"): the one or two
    words right before this are read as a place inside it (router/typos.py, router/wordnames.py)."""
    return at - 1 if at > 0 and (tokens[at - 1] in KECAMATAN_MARKERS or tokens[at - 1] in KOTA_MARKERS) else at


TOWARDS = frozenset({"ke", "arah", "menuju", "sampai", "sampe", "dan", "atau", "dari", "perbatasan", "batas"})


class Senses(Struct, frozen=True):
    """router/data/senses.txt: word before (or after) -> the names it makes an everyday word (`*`: any one-word
    name): "hari senen" is Monday, "pohon bungur" a tree, "coto makasar" a dish."""

    before: dict[str, frozenset[str]]
    after: dict[str, frozenset[str]]
    outside: frozenset[str]  # towns outside Jakarta: a name one or two words before one is there


@cache
def senses() -> Senses:
    """The rules of router/data/senses.txt, read once."""
    return load_senses(_data("senses.txt"))


def load_senses(path: Path) -> Senses:
    """Rules in the format of router/data/senses.txt; a malformed line stops the start with its number."""
    rules: dict[str, dict[str, set[str]]] = {"before": {}, "after": {}}
    outside: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        side, _, rest = line.partition(" ")
        if side == "outside" and rest.split():
            outside.update(rest.split())
            continue
        words, colon, names = rest.partition(":")
        said = [" ".join(name.split()) for name in names.split(",") if name.strip()]
        if side not in rules or not colon or not words.split() or not said:
            raise PlacesError(f"{path}:{n}: expected 'before|after WORDS : NAMES' or 'outside TOWNS', got {line!r}")
        for word in words.split():
            rules[side].setdefault(word, set()).update(said)
    return Senses(**{side: {w: frozenset(ns) for w, ns in table.items()} for side, table in rules.items()},
                  outside=frozenset(outside))


def said_as_word(tokens: Sequence[str], at: int, words: int) -> bool:
    """Whether the name at `tokens[at:at + words]` is said as an everyday word here (router/data/senses.txt)."""
    name, table = " ".join(tokens[at:at + words]), senses()

    def applies(names: frozenset[str] | None) -> bool:
        return names is not None and (name in names or ("*" in names and words == 1))

    if (at > 0 and applies(table.before.get(tokens[at - 1]))) or (
            at + words < len(tokens) and applies(table.after.get(tokens[at + words]))):
        return True
    # "pekayon jaya bekasi" is in Bekasi; "dari cibubur ke depok" still names Cibubur
    for k in (at + words, at + words + 1):
        if k < len(tokens) and tokens[k] in table.outside:
            return not any(t in TOWARDS for t in tokens[at + words:k])
    return False


# Words that make the name after them a street's ("Jl. Tanah Abang II" runs through Gambir): such a name ranks
# below any area the text names as one, and is used only when the text names nothing else.
STREET_MARKERS = frozenset({"jl", "jln", "jalan"})
# Words after which a misspelt name is looked for (a name is not searched for fuzzily anywhere else).
CUES = frozenset({
    "di", "daerah", "kawasan", "wilayah", "sekitar", "dekat", "depan", "belakang", "samping", "seberang", "arah",
    "dari", "ke", "menuju", "area", "lokasi", "alamat", "perbatasan", "dkt", "dpn", "sktr",
    # as people write them in chat
    "deket", "dket", "dkat", "dpan", "drh", "sebelah", "sblh", "sekitaran", "seputar", "smping",
}) | KELURAHAN_MARKERS | KECAMATAN_MARKERS
# Ordinary words that start no place name ("pasar", "kota", "jembatan" do): no fuzzy look-up starts at one.
FUZZY_STOP = frozenset("""
    yang dan ini itu ada tidak sudah belum akan sedang masih juga saja lagi sangat banyak sekali mohon tolong
    segera warga kami saya kita rumah jalan jalanan gang rusak berlubang lubang banjir genangan air sampah
    menumpuk lampu mati pohon tumbang got saluran mampet macet parkir liar trotoar pedagang kaki lima bau
    limbah kabel menjuntai sekolah kantor sana sini situ mana sekitar depan belakang samping atas bawah
    dalam luar tengah pinggir ujung sebelah seberang jam hari minggu bulan tahun pagi siang sore malam kemarin
    besok tadi waktu karena untuk dengan pada oleh atau tapi namun jika kalau agar supaya setelah sebelum
    selama sampai hingga antara dekat arah menuju dari ke di rt rw nomor no blok lantai unit perumahan komplek
    kompleks apartemen rusun halte stasiun terminal tol tempat lokasi alamat daerah
    wilayah kawasan area bapak ibu pak bu mas mbak orang anak petugas dinas pemda pemprov lurah camat
""".split())  # noqa: SIM905 (a word list is easier to edit as text)


class PlacesError(ValueError):
    """A landmarks or abbreviations file cannot be used; the message names the row and what to fix."""


class Landmark(Struct, frozen=True, kw_only=True):
    """A named place inside one kelurahan (its code), with the names people use for it."""

    name: str
    aliases: tuple[str, ...] = ()
    kind: str
    code: str
    kelurahan: str
    lat: float
    lon: float

    @property
    def names(self) -> tuple[str, ...]:
        """The name and every alias."""
        return (self.name, *self.aliases)


class Abbreviation(Struct, frozen=True, kw_only=True):
    """A short form people write ("ps") and the word(s) it stands for ("pasar")."""

    short: str
    long: str


def _data(name: str) -> Path:
    return Path(str(resources.files("router").joinpath("data", name)))


def landmarks_path(value: str, base: Path) -> Path | None:
    """`builtin` -> the packaged file; "" -> none; else a path relative to `base` (the rules file's folder)."""
    if value == "":
        return None
    return _data("landmarks.csv") if value == BUILTIN else base / value


def abbreviations_path(value: str, base: Path) -> Path | None:
    """Like `landmarks_path`, for the abbreviation table."""
    if value == "":
        return None
    return _data("abbreviations.csv") if value == BUILTIN else base / value


def _rows(path: Path, columns: set[str]) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = columns - set(reader.fieldnames or ())
            if missing:
                raise PlacesError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            return [(n, {k: (v or "").strip() for k, v in row.items() if k}) for n, row in enumerate(reader, 2)]
    except OSError as err:
        raise PlacesError(f"cannot read {path}: {err.strerror}") from err


def load_landmarks(path: Path) -> list[Landmark]:
    """Read and check a landmarks file's rows (codes, kinds, coordinates, no alias that is a common noun)."""
    out: list[Landmark] = []
    seen: dict[str, int] = {}
    for line, row in _rows(path, {"name", "aliases", "kind", "kode", "kelurahan", "lat", "lon"}):
        where = f"{path}:{line} ({row['name'] or '?'})"
        if not row["name"]:
            raise PlacesError(f"{where}: empty name")
        if row["kind"] not in KINDS:
            raise PlacesError(f"{where}: kind {row['kind']!r} is not one of {', '.join(sorted(KINDS))}")
        if not (len(row["kode"]) == 10 and row["kode"].isdigit()):
            raise PlacesError(f"{where}: kode {row['kode']!r} is not a 10-digit kelurahan code")
        try:
            lat, lon = float(row["lat"]), float(row["lon"])
        except ValueError as err:
            raise PlacesError(f"{where}: lat/lon must be numbers in degrees") from err
        if not (-7.0 < lat < -5.0 and 106.0 < lon < 107.5):
            raise PlacesError(f"{where}: ({lat}, {lon}) is not in Jakarta: lat about -6.2, lon about 106.8")
        aliases = tuple(a.strip() for a in row["aliases"].split(";") if a.strip())
        for name in (row["name"], *aliases):
            key = "".join(ch for ch in name.lower() if ch.isalnum())
            if key in COMMON_NOUNS:
                raise PlacesError(f"{where}: {name!r} is a common noun, not a name: remove it")
            if key in seen:
                raise PlacesError(f"{where}: {name!r} is also a name on line {seen[key]}: keep it on one")
            seen[key] = line
        out.append(Landmark(name=row["name"], aliases=aliases, kind=row["kind"], code=row["kode"],
                            kelurahan=row["kelurahan"], lat=lat, lon=lon))
    return out


def load_abbreviations(path: Path) -> list[Abbreviation]:
    """Read the short-form table; a short form is one word, its long form one or more."""
    out: list[Abbreviation] = []
    for line, row in _rows(path, {"short", "long"}):
        short, long = row["short"].lower(), " ".join(row["long"].lower().split())
        if not short.isalnum() or not long or short == long:
            raise PlacesError(f"{path}:{line}: need one short word and a different long form, got {short!r}")
        out.append(Abbreviation(short=short, long=long))
    return out


class LandmarkCheck(Struct, kw_only=True):
    """What `kanal geo check --landmarks` found: errors (point outside its kelurahan) and border warnings."""

    file: str
    landmarks: int = 0
    errors: list[str] = []
    near_border: list[str] = []


def check_landmarks(landmarks: Sequence[Landmark], boundaries: Boundaries, file: str = "<memory>",
                    known_codes: Iterable[str] | None = None) -> LandmarkCheck:
    """Each point must lie inside the polygon of the kelurahan it names; within 100 m of its edge is reported."""
    import shapely
    from shapely.geometry import Point

    report = LandmarkCheck(file=file, landmarks=len(landmarks))
    index = {area.code: i for i, area in enumerate(boundaries.areas)}
    names = {area.code: area.name for area in boundaries.areas}
    codes = set(known_codes) if known_codes is not None else set(index)
    for lm in landmarks:
        label = f"{lm.name} ({lm.code} {lm.kelurahan})"
        if lm.code not in index or lm.code not in codes:
            report.errors.append(f"{label}: no kelurahan {lm.code} in the boundaries")
            continue
        if names[lm.code].lower() != lm.kelurahan.lower():
            report.errors.append(f"{label}: kode {lm.code} is kelurahan {names[lm.code]}, not {lm.kelurahan}")
        geom = boundaries.geoms[index[lm.code]]
        point = Point(lm.lon * KX, lm.lat * KY)
        if not geom.covers(point):
            found = boundaries.locate(lm.lon, lm.lat)
            where = f"in {found.area.code} {found.area.name}" if found and found.how != "nearest" else "in none"
            report.errors.append(f"{label}: point ({lm.lat}, {lm.lon}) is {geom.distance(point):.0f} m outside "
                                 f"its kelurahan, {where}: fix the point or the kode")
            continue
        edge = float(shapely.distance(geom.boundary, point))
        if edge < BORDER_M:
            report.near_border.append(f"{label}: {math.floor(edge)} m from the kelurahan's edge")
    return report


def short_forms(words: Sequence[str], table: dict[tuple[str, ...], list[str]],
                limit: int = 24) -> list[tuple[str, ...]]:
    """Ways of writing `words` with long forms replaced by their short ones, the original excluded.

    >>> short_forms(["pasar", "minggu"], {("pasar",): ["ps"]})
    [('ps', 'minggu')]
    """
    out: list[tuple[str, ...]] = []

    def walk(i: int, done: tuple[str, ...], changed: bool) -> None:
        if len(out) >= limit:
            return
        if i == len(words):
            if changed:
                out.append(done)
            return
        walk(i + 1, (*done, words[i]), changed)
        for long, shorts in table.items():
            if tuple(words[i:i + len(long)]) == long:
                for short in shorts:
                    walk(i + len(long), (*done, short), True)

    walk(0, (), False)
    return out


def abbreviation_table(abbreviations: Iterable[Abbreviation]) -> dict[tuple[str, ...], list[str]]:
    """Long form (as words) -> its short forms, for `short_forms`."""
    table: dict[tuple[str, ...], list[str]] = {}
    for ab in abbreviations:
        shorts = table.setdefault(tuple(ab.long.split()), [])
        if ab.short not in shorts:
            shorts.append(ab.short)
    return table


VOWELS = frozenset("aeiou")
# The old spelling (before 1972) still written in names: "Djatinegara", "Tjikini", "Kebon Djeroek", "Kebajoran"
# (old "j" is today's "y": read only from a name's old form, since today's "j" is everywhere in text).
OLD_SPELLING = (("dj", "j"), ("tj", "c"), ("oe", "u"))


def _vowelless(word: str) -> str:
    return word[0] + "".join(ch for ch in word[1:] if ch not in VOWELS)


def respellings(words: Sequence[str]) -> list[tuple[str, ...]]:
    """Other ways people write a name, the original excluded: the old spelling of every word ("djatinegara";
    the new one if the name has the old), and chat style without vowels, one word at a time and all words
    ("cmpk putih", "cempaka pth", "cmpk pth"; "kbyrn lama", "jtngr").

    A word loses its vowels only if two or more go and three letters stay ("lama", "baru" keep theirs); a
    one-word name only if five letters stay ("gambir" -> "gmbr" is "gambar" in chat).
    """
    out: list[tuple[str, ...]] = []
    old = tuple(_respell(w) for w in words)
    changed = [o != w for o, w in zip(old, words, strict=True)]
    if sum(changed) > 1:  # people respell one word and not the other too: "tjipinang muara", "soenter agung"
        out += [(*words[:i], old[i], *words[i + 1:]) for i in range(len(words)) if changed[i]]
    for i, word in enumerate(words):  # and one syllable of a word, the first: "soemur batu" (soemoer)
        first = _respell_first(word)
        if first not in (word, old[i]):
            out.append((*words[:i], first, *words[i + 1:]))
    if any(changed):
        out.append(old)
    bare = [_vowelless(w) for w in words]
    ok = [len(b) >= 3 and len(w) - len(b) >= 2 for w, b in zip(words, bare, strict=True)]
    if len(words) == 1:
        if ok[0] and len(bare[0]) >= 5:
            out.append((bare[0],))
        return out
    for i in range(len(words)):
        if ok[i]:
            out.append((*words[:i], bare[i], *words[i + 1:]))
    if sum(ok) > 1:
        out.append(tuple(b if k else w for w, b, k in zip(words, bare, ok, strict=True)))
    return out


def _respell_first(word: str) -> str:
    """Today's spelling of a word with its first "u", "j" or "c" alone in the old one ("sumur" -> "soemur")."""
    at = [(word.find(new), old, new) for old, new in OLD_SPELLING if word.find(new) >= 0]
    if not at or any(old in word for old, _ in OLD_SPELLING):
        return word
    i, old, new = min(at)
    return word[:i] + old + word[i + len(new):]


def _respell(word: str) -> str:
    if any(old in word for old, _ in OLD_SPELLING):
        for old, new in OLD_SPELLING:
            word = word.replace(old, new)
        return word
    for old, new in OLD_SPELLING:
        word = word.replace(new, old)
    return word.replace("y", "j")  # after "j" -> "dj": "kebayoran" -> "kebajoran"


@cache
def ordinary_words() -> frozenset[str]:
    """Words that are no typo of a place (router/data/words.txt, FUZZY_STOP, COMMON_NOUNS)."""
    text = _data("words.txt").read_text(encoding="utf-8")
    words = {w for line in text.splitlines() if not line.lstrip().startswith("#") for w in line.split()}
    return frozenset(words) | FUZZY_STOP | COMMON_NOUNS

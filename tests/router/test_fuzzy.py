"""Typos, old spellings and chat style: the bounds, the index, and where the reader looks for a misspelt name.

Runs on the tests' own small list of places (no ../shared needed); the Jakarta cases are in
test_places_kinds.py (TYPOS).
"""

from __future__ import annotations

import pytest

from router.fuzzy import FuzzyIndex, Mode, max_edits, vowels_dropped
from router.gazetteer import Gazetteer, Place
from router.places import Landmark, respellings
from router.ranking import describe
from router.typos import doubled, head_words, plausible, slips, undoubled

# --- the bound, by where the name stands --------------------------------------------------------------------

@pytest.mark.parametrize(("letters", "mode", "edits"), [
    (4, "cue", 0), (5, "cue", 0), (6, "cue", 1), (10, "cue", 1), (11, "cue", 2),
    (3, "marker", 0), (4, "marker", 1), (5, "marker", 1), (6, "marker", 1), (11, "marker", 2),
    (7, "bare", 0), (8, "bare", 1), (12, "bare", 1), (13, "bare", 2),
])
def test_the_bound_depends_on_length_and_what_stands_before(letters: int, mode: Mode, edits: int) -> None:
    assert max_edits(letters, mode) == edits


def test_the_index_applies_each_bound() -> None:
    index = FuzzyIndex(["slipi", "melawai", "cilandak", "petamburan"])
    assert index.lookup("slipy") is None and index.lookup("slipy", "marker") is not None
    assert index.lookup("melawan", "cue") is not None and index.lookup("melawan", "bare") is None
    assert index.lookup("cilandk", "bare") is not None
    # a landmark's bound counts its own letters: "stasiun" + 5 letters is a short name
    marks = FuzzyIndex(["stasiunsenen"], {"stasiunsenen": 5})
    assert marks.lookup("stasiunsenin") is None and marks.lookup("stasiunsenin", "marker") is not None


@pytest.mark.parametrize(("query", "key", "edits"), [
    ("ptmburan", "petamburan", 2),    # chat style: vowels gone, the first letter kept
    ("ptmbran", "petamburan", 3),
    ("cmpkputih", "cempakaputih", 3),
])
def test_vowels_taken_out_are_read_as_the_name(query: str, key: str, edits: int) -> None:
    hit = FuzzyIndex([key]).lookup(query)
    assert hit is not None and not isinstance(hit, tuple)
    assert (hit.key, hit.edits) == (key, edits)


@pytest.mark.parametrize(("query", "key", "ok"), [
    ("ptmburan", "petamburan", True), ("ptmbrn", "petamburan", True),
    ("ptmbrun", "petamburan", False),  # a vowel moved, not only taken out
    ("pxtamburan", "petamburan", False), ("petamburan", "petamburan", True),
])
def test_vowels_dropped(query: str, key: str, ok: bool) -> None:
    assert vowels_dropped(query, key) is ok


def test_too_few_consonants_are_not_guessed() -> None:
    index = FuzzyIndex(["gambir", "tebet"])
    assert index.lookup("gmbr") is None  # "gambar" in chat: 4 consonants, and gambir is 6 letters
    assert index.lookup("gmbr", "bare") is None


# --- other spellings registered as names ----------------------------------------------------------------

@pytest.mark.parametrize(("name", "forms"), [
    ("jatinegara", {("djatinegara",), ("jtngr",)}),
    ("kebayoran lama", {("kbyrn", "lama"), ("kebajoran", "lama")}),  # "lama" keeps its vowels; old "j" = "y"
    ("sunter agung", {("soenter", "agoeng"), ("soenter", "agung"), ("sunter", "agoeng"), ("sntr", "agung")}),
    ("cipinang muara", {("tjipinang", "moeara"), ("tjipinang", "muara"), ("cipinang", "moeara"),
                        ("cpnng", "muara")}),                    # "mr": too few letters left
    ("gambir", set()),                                          # "gmbr" is "gambar" in chat: never registered
    ("cikini", {("tjikini",)}),
    ("djakarta", {("jakarta",), ("djkrt",)}),                   # the old spelling the other way
])
def test_respellings(name: str, forms: set[tuple[str, ...]]) -> None:
    assert set(respellings(name.split())) == forms


# --- what counts as a typo, and where one may begin ------------------------------------------------------

@pytest.mark.parametrize(("window", "name", "ok"), [
    (["kebon", "jeurk"], "kebon jeruk", True),       # "jeurk" is no word
    (["kebun", "kosong"], "kebon kosong", False),    # an empty plot: both are ordinary words
    (["melawan"], "melawai", False),
    (["kedaung", "kalo", "angke"], "kedaung kali angke", True),  # 12 letters of the name stand as written
])
def test_a_typo_holds_a_word_that_is_not_an_ordinary_one(window: list[str], name: str, ok: bool) -> None:
    assert plausible(window, frozenset(name.split())) is ok


def test_slips_of_a_word() -> None:
    found = slips("cipinang")
    # a letter dropped, swapped with the next, doubled, a key beside, a wrong vowel
    assert {"cipnang", "cpiinang", "cipinnang", "cipinsng", "cupinang"} <= found
    assert all(s[0] == "c" for s in found)  # the first letter is kept
    assert "cipinang" not in found


def test_a_letter_typed_twice() -> None:
    assert doubled("tebet") == {"tebbet", "teebet", "tebett", "tebeet"}  # the first letter is not doubled
    assert undoubled("grogool") == {"grogol"} and undoubled("tebett") == {"tebet"}
    assert undoubled("kebon") == set()


def test_head_words_only_for_names_long_enough_to_guess_without_a_cue() -> None:
    heads = head_words([(["kebon", "jeruk"], 10), (["slipi"], 5), (["cipinang", "melayu"], 14)])
    assert "kebon" in heads and "cipnang" in heads
    assert "slipi" not in heads and "slpi" not in heads and "slipii" in heads  # short: only doubled letters
    assert "kebun" not in heads  # an ordinary word: never a head by being one slip from one


# --- the reader on its own small list -------------------------------------------------------------------

PLACES = [Place(code=code, level=level, name=name) for code, level, name in [  # type: ignore[arg-type]
    ("3199", "kota", "Kota Uji"),
    ("319901", "kecamatan", "Tanah Lapang"),
    ("3199011001", "kelurahan", "Gelora"),
    ("3199011002", "kelurahan", "Senayan Uji"),
    ("3199011003", "kelurahan", "Slipi"),
    ("319902", "kecamatan", "Sawah Luas"),
    ("3199021001", "kelurahan", "Cempaka Wangi"),
    ("3199021002", "kelurahan", "Kebon Durian"),
]]
MARKS = [
    Landmark(name="Pasar Tanah Lapang", kind="market", code="3199011002", kelurahan="Senayan Uji",
             lat=-6.2, lon=106.8),
    Landmark(name="Gerbang Tol Sawah Luas", kind="toll", code="3199021001", kelurahan="Cempaka Wangi",
             lat=-6.2, lon=106.8),
]


@pytest.fixture(scope="module")
def toy() -> Gazetteer:
    return Gazetteer.build(PLACES, need_marker=(), landmarks=MARKS, fuzzy=True)


READS = [
    # no word before it that introduces a place: only long names, one edit
    ("senayan uij macet total", "3199011002", "fuzzy: read as Senayan Uji, 1 edit(s)"),
    ("banjir lagi cempaka wangii parah", "3199021001", "fuzzy: read as Cempaka Wangi"),
    ("pasar tanah lapng macet", "3199011002", "landmark Pasar Tanah Lapang"),
    # after a cue, shorter names; after "kel." even 5 letters
    ("macet di gelra", "3199011001", "fuzzy: read as Gelora"),
    ("macet deket gelra", "3199011001", "fuzzy: read as Gelora"),  # "dekat" as people say it
    # a one-word name with a letter typed twice, with no cue and under any bound
    ("gelorra banjir lagi", "3199011001", "fuzzy: read as Gelora"),
    ("banjir di slipii", "3199011003", "fuzzy: read as Slipi"),
    ("lampu mati di kel. slipy", "3199011003", "fuzzy: read as Slipi"),
    # old spelling and chat style, with how they were written
    ("banjir di tjempaka wangi", "3199021001", "old spelling"),
    ("got mampet di cmpk wangi", "3199021001", "written without vowels"),
    # a window may hold a name found exactly: the landmark beats the kecamatan it contains
    ("antri di grbang tol sawah luas", "3199021001", "landmark Gerbang Tol Sawah Luas"),
    # a name found exactly may begin a longer misspelt one
    ("banjir di kebon durin", "3199021002", "fuzzy: read as Kebon Durian"),
    # right before a kecamatan or kota found exactly, the cue's bound, inside it only
    ("banjir gelra, kec. tanah lapang", "3199011001", "fuzzy: read as Gelora"),
    ("got mampet kebon durin sawah luas", "3199021002", "fuzzy: read as Kebon Durian"),
    ("gelra banjir, kec. sawah luas", "319902", "'gelra' looks like kelurahan Gelora, which lies outside"),
    # a typo never crosses a kecamatan the text names; another spelling neither
    ("banjir di Cempaka Wagi, Kec. Tanah Lapang", "319901", "outside the kecamatan/kota the text names"),
    ("banjir di tjempaka wangi, kec. tanah lapang", "319901", "outside the kecamatan/kota the text names"),
    # an explicit "Kel." found exactly beats a misspelt landmark
    ("lampu mati di Kel. Gelora dekat pasar tanah lapng", "3199011001", "kelurahan Gelora"),
]


@pytest.mark.parametrize(("text", "code", "how"), READS, ids=[r[0] for r in READS])
def test_misspelt_places(toy: Gazetteer, text: str, code: str, how: str) -> None:
    reading = toy.read(text)
    assert reading.best is not None, text
    assert reading.best.place.code == code
    assert how in describe(reading.best, reading.found, reading.notes)


@pytest.mark.parametrize("text", [
    "gelra banjir lagi",               # 6 letters with no cue: not guessed
    "di slipy banjir",                 # 5 letters need "kel." or "kec."
    "sampah di kebun durian belakang",  # ordinary words: a durian orchard
    "warga sawah lupa lapor",          # two edits from Sawah Luas with no cue
    "rw 05 banjir, gmbr terlampir",
])
def test_no_guess(toy: Gazetteer, text: str) -> None:
    assert toy.read(text).best is None

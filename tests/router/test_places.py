"""Places as people write them: the landmarks file, short forms, typos and which candidate wins.

Jakarta cases run on the real code list and polygons in ../shared (skipped, saying so, when it is absent);
the tests' own small list and polygons cover the same logic in any clone.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from router import places
from router.fuzzy import FuzzyHit, FuzzyIndex, max_edits
from router.gazetteer import Gazetteer, Place, places_from_csv
from router.geo import Boundaries
from router.places import Landmark, PlacesError
from router.rules import RulesError, RuleSet
from tests.conftest import shared_path
from tests.factories import envelope
from tests.router.fixtures import write_boundaries
from tests.router.test_gazetteer import chosen

BUILTIN_LANDMARKS = places.landmarks_path("builtin", Path())
BUILTIN_SHORT = places.abbreviations_path("builtin", Path())
assert BUILTIN_LANDMARKS is not None and BUILTIN_SHORT is not None


# --- the shipped data -------------------------------------------------------------------------------------

def test_shipped_landmarks_cover_every_kota_and_kind() -> None:
    marks = places.load_landmarks(BUILTIN_LANDMARKS)
    assert len(marks) >= 300
    assert {m.code[:4] for m in marks} >= {"3171", "3172", "3173", "3174", "3175"}
    kinds = {m.kind for m in marks}
    assert kinds >= {"station", "terminal", "market", "mall", "hospital", "campus", "mosque", "church", "park",
                     "monument", "port", "airport", "toll", "stadium"}
    for kota in ("3171", "3172", "3173", "3174", "3175"):
        assert sum(m.code.startswith(kota) for m in marks) >= 40, kota


def test_every_shipped_landmark_lies_inside_its_kelurahan() -> None:
    """The data's own proof: point-in-polygon against ../shared's kelurahan (names must match the codes)."""
    polygons = Boundaries.load(shared_path("data", "jakarta", "kelurahan.geojson"))
    report = places.check_landmarks(places.load_landmarks(BUILTIN_LANDMARKS), polygons, str(BUILTIN_LANDMARKS))
    assert report.errors == []
    # Points near an edge are listed, not refused (`kanal geo check --landmarks builtin` prints them).
    assert 0 < len(report.near_border) < report.landmarks / 2


def test_shipped_landmarks_of_one_kelurahan_lie_together() -> None:
    """Runs without ../shared (the polygon check above skips then): a point typed with lat and lon swapped, a
    digit wrong or the wrong kelurahan's code lands kilometres from the other landmarks given that code."""
    import math
    from collections import defaultdict

    by_code: dict[str, list[Landmark]] = defaultdict(list)
    for mark in places.load_landmarks(BUILTIN_LANDMARKS):
        by_code[mark.code].append(mark)
        assert (mark.lat > -6.06) == mark.code.startswith("3101"), f"{mark.name}: only islands lie north of -6.06"
    for code, marks in by_code.items():
        limit_km = 15.0 if code.startswith("3101") else 5.0  # a mainland kelurahan is at most ~4 km across
        for a in marks:
            for b in marks:
                km = math.hypot((a.lat - b.lat) * 110.6, (a.lon - b.lon) * 110.6)
                assert km < limit_km, f"{a.name} and {b.name} are {km:.1f} km apart, both in {code}"


def test_shipped_landmark_codes_are_jakarta_kelurahan() -> None:
    with shared_path("data", "jakarta", "wilayah.csv").open(encoding="utf-8") as handle:
        names = {r["kode"]: r["nama"] for r in csv.DictReader(handle) if r["level"] == "kelurahan"}
    for mark in places.load_landmarks(BUILTIN_LANDMARKS):
        assert names.get(mark.code) == mark.kelurahan, mark.name


def test_shipped_senses_load_and_a_bad_line_is_refused_with_its_number(tmp_path: Path) -> None:
    shipped = places.senses()
    assert "senen" in shipped.before["hari"] and "kayu putih" in shipped.before["minyak"]
    assert "bekasi" in shipped.outside
    bad = tmp_path / "senses.txt"
    bad.write_text("# fine\nbefore hari : senen\nbefore pohon bungur\n", encoding="utf-8")
    with pytest.raises(PlacesError, match=r"senses.txt:3: expected"):
        places.load_senses(bad)


def test_shipped_abbreviations_load() -> None:
    table = {(a.short, a.long) for a in places.load_abbreviations(BUILTIN_SHORT)}
    for pair in [("ps", "pasar"), ("tg", "tanjung"), ("pd", "pondok"), ("klp", "kelapa"), ("kb", "kebon"),
                 ("utr", "utara"), ("tmr", "timur"), ("tmur", "timur"), ("brt", "barat"), ("sel", "selatan"),
                 ("slt", "selatan"), ("jkt", "jakarta")]:
        assert pair in table


# --- the checks a city's own file gets ---------------------------------------------------------------------

def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("name,aliases,kind,kode,kelurahan,lat,lon\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("row", "problem"), [
    ("Tugu Uji,,tower,3199011001,Alpha,-6.195,106.805", "kind 'tower' is not one of"),
    ("Tugu Uji,,monument,31.99.01,Alpha,-6.195,106.805", "not a 10-digit kelurahan code"),
    ("Tugu Uji,,monument,3199011001,Alpha,106.805,-6.195", "is not in Jakarta"),
    ("Tugu Uji,Pasar,monument,3199011001,Alpha,-6.195,106.805", "'Pasar' is a common noun"),
    ("Tugu Uji,Tugu-Uji,monument,3199011001,Alpha,-6.195,106.805", "is also a name on line 2"),
])
def test_bad_rows_are_refused_with_the_line(tmp_path: Path, row: str, problem: str) -> None:
    with pytest.raises(PlacesError, match=problem):
        places.load_landmarks(_write(tmp_path / "lm.csv", [row]))


def test_check_finds_points_outside_and_near_the_edge(tmp_path: Path) -> None:
    polygons = Boundaries.load(write_boundaries(tmp_path / "b.geojson"))
    marks = places.load_landmarks(_write(tmp_path / "lm.csv", [
        "Tugu Tengah,,monument,3199011001,Alpha,-6.195,106.804",     # ~1 km inside Alpha's west half
        "Tugu Pinggir,,monument,3199011001,Alpha,-6.1995,106.8045",  # ~55 m from Alpha's south edge
        "Tugu Salah,,monument,3199011001,Alpha,-6.195,106.815",      # lies in Beta
        "Tugu Nama,,monument,3199011002,Gamma,-6.195,106.815",       # code is Beta's, name is not
    ]))
    report = places.check_landmarks(marks, polygons)
    assert [e.split(":")[0] for e in report.errors] == ["Tugu Salah (3199011001 Alpha)",
                                                        "Tugu Nama (3199011002 Gamma)"]
    assert "in 3199011002 Beta" in report.errors[0] and "kelurahan Beta, not Gamma" in report.errors[1]
    assert [n.split(":")[0] for n in report.near_border] == ["Tugu Pinggir (3199011001 Alpha)"]


# --- short forms and the typo bound ---------------------------------------------------------------------------

def test_short_forms_of_a_name() -> None:
    table = {("pasar",): ["ps", "psr"], ("rumah", "sakit"): ["rs"]}
    assert places.short_forms(["pasar", "minggu"], table) == [("ps", "minggu"), ("psr", "minggu")]
    assert places.short_forms(["rumah", "sakit", "pasar"], table)[0] == ("rumah", "sakit", "ps")
    assert ("rs", "ps") in places.short_forms(["rumah", "sakit", "pasar"], table)
    assert places.short_forms(["menteng"], table) == []


@pytest.mark.parametrize(("letters", "edits"), [(3, 0), (5, 0), (6, 1), (10, 1), (11, 2), (20, 2)])
def test_the_typo_bound_grows_with_the_name(letters: int, edits: int) -> None:
    assert max_edits(letters) == edits


def test_fuzzy_index_short_names_never_and_ties_are_not_guessed() -> None:
    index = FuzzyIndex(["koja", "slipi", "cikini", "cikoko", "kebonkacang", "kebonkosong"])
    assert index.lookup("kojaa") is None and index.lookup("slipy") is None  # under 6 letters: exact only
    assert index.lookup("cikinii") == FuzzyHit(key="cikini", edits=1, score=85.7)  # 1 - 1/7
    assert index.lookup("ckini") is not None  # one deletion
    assert index.lookup("kebonkacng") == FuzzyHit(key="kebonkacang", edits=1, score=90.9)
    assert index.lookup("kbnkacang") is not None  # two letters missing from an 11-letter name
    assert index.lookup("cikiko") == FuzzyHit(key="cikoko", edits=1, score=83.3)  # cikini is 2 edits away
    tie = FuzzyIndex(["kaliasin", "kaliasen"]).lookup("kaliasan")
    assert isinstance(tie, tuple) and [h.key for h in tie] == ["kaliasen", "kaliasin"]
    assert index.lookup("cikini") is None  # exact names are not the index's business


# --- the tests' own places: the ranking logic without ../shared --------------------------------------------

SATU = [Place(code=code, level=level, name=name) for code, level, name in [  # type: ignore[arg-type]
    ("3199", "kota", "Kota Uji"),
    ("319901", "kecamatan", "Tanah Lapang"), ("3199011001", "kelurahan", "Tanah Lapang"),
    ("3199011002", "kelurahan", "Senayan Uji"), ("3199011003", "kelurahan", "Pondok Kelapa Uji"),
    ("319902", "kecamatan", "Sawah Luas"),
    ("3199021001", "kelurahan", "Cempaka Wangi"), ("3199021002", "kelurahan", "Kebon Durian"),
]]
MARKS = [
    Landmark(name="Pasar Tanah Lapang", aliases=("Ps Tanah Lapang",), kind="market", code="3199011002",
             kelurahan="Senayan Uji", lat=-6.2, lon=106.8),
    Landmark(name="Gelora Uji Raya", aliases=("GUR",), kind="stadium", code="3199021001",
             kelurahan="Cempaka Wangi", lat=-6.2, lon=106.8),
]


@pytest.fixture(scope="module")
def toy() -> Gazetteer:
    return Gazetteer.build(SATU, need_marker=(), landmarks=MARKS, fuzzy=True,
                           abbreviations=places.load_abbreviations(BUILTIN_SHORT))


@pytest.mark.parametrize(("text", "code", "how"), [
    # a landmark named like a kecamatan: the landmark's kelurahan, not the kecamatan
    ("macet di Pasar Tanah Lapang", "3199011002", "landmark Pasar Tanah Lapang"),
    ("macet di Tanah Lapang", "319901", "kecamatan Tanah Lapang"),
    # a landmark beside a kelurahan it shares a word with: the landmark wins
    ("sampah di GUR Senayan Uji", "3199021001", "a landmark beats a kelurahan or kecamatan"),
    # an explicit "kel." beats a landmark
    ("lampu mati di Kel. Senayan Uji dekat GUR", "3199011002", "an explicit 'kel.' beats a landmark"),
    # a kelurahan beats its kecamatan
    ("banjir di Cempaka Wangi, Kec. Sawah Luas", "3199021001", "a kelurahan beats its kecamatan"),
    # short forms
    ("got mampet di Pd. Kelapa Uji", "3199011003", "short form of Pondok Kelapa Uji"),
    ("kabel putus di Kb. Durian", "3199021002", "short form of Kebon Durian"),
    ("copet di Ps. Tanah Lapang", "3199011002", "landmark Pasar Tanah Lapang"),
    # typos, scored
    ("banjir di Cempaka Wagi", "3199021001", "fuzzy: read as Cempaka Wangi, 1 edit(s), score 91.7"),
    ("got di kel. Kebon Durin", "3199021002", "fuzzy: read as Kebon Durian"),
])
def test_who_wins_and_why(toy: Gazetteer, text: str, code: str, how: str) -> None:
    best, reason = chosen(toy, text)
    assert best.place.code == code
    assert how in reason


def test_a_typo_never_crosses_the_kecamatan_the_text_names(toy: Gazetteer) -> None:
    reading = toy.read("banjir di Cempaka Wagi, Kec. Tanah Lapang")
    assert reading.best is not None and reading.best.place.code == "319901"
    assert any("outside the kecamatan/kota the text names: not taken" in n for n in reading.notes)


@pytest.mark.parametrize("noun", sorted({"pasar", "kebon", "kampung", "gang", "kali", "rawa", "pulo"}))
def test_common_nouns_alone_route_nowhere(toy: Gazetteer, noun: str) -> None:
    assert noun in places.COMMON_NOUNS
    assert toy.read(f"sampah numpuk di {noun} dekat rumah").best is None
    assert toy.read(f"di {noun.capitalize()}, air menggenang").best is None


def test_landmark_alias_may_not_be_an_area_name() -> None:
    clash = Landmark(name="Stadion", aliases=("Senayan Uji",), kind="stadium", code="3199011001",
                     kelurahan="Tanah Lapang", lat=-6.2, lon=106.8)
    with pytest.raises(PlacesError, match="'Senayan Uji' is the name of kelurahan Senayan Uji"):
        Gazetteer.build(SATU, landmarks=[clash])


# --- Jakarta: each kind on the real code list --------------------------------------------------------------

@pytest.fixture(scope="module")
def jakarta() -> RuleSet:
    shared_path("data", "jakarta", "wilayah.csv")
    root = Path(__file__).resolve().parents[2]
    return RuleSet.load(root / "deploy" / "rules" / "jakarta.toml")


@pytest.mark.parametrize(("text", "queue"), [
    # landmarks, including those named like a kecamatan or beside a kelurahan they are not in
    ("Parkir liar di depan Pasar Tanah Abang", "kelurahan.3171071007"),   # Kampung Bali, not kec. Tanah Abang
    ("Pengamen di depan Stasiun Palmerah", "kelurahan.3171071001"),       # Gelora, not kec. Pal Merah
    ("Sampah sisa konser di GBK Senayan", "kelurahan.3171071001"),        # Gelora, not kel. Senayan
    ("antrian panjang di Stasiun Gambir", "kelurahan.3171011001"),
    ("Bundaran HI banjir", "kelurahan.3171061001"),
    ("macet menuju Bandara Halim", "kelurahan.3175081004"),
    ("Terminal Pulo Gebang gelap", "kelurahan.3175061005"),
    ("Waduk Pluit penuh sampah", "kelurahan.3172011005"),
    # "Kel." beats the landmark; a kelurahan beats its kecamatan
    ("lampu mati di Kel. Senayan dekat GBK", "kelurahan.3174071006"),
    ("Kelurahan Cikini, dekat Stasiun Gondangdia", "kelurahan.3171061003"),
    ("Mohon perbaiki trotoar di Kelurahan Cikini, Kecamatan Menteng", "kelurahan.3171061003"),
    # short forms
    ("got mampet di Pd. Labu", "kelurahan.3174061003"),
    ("genangan di Tg. Duren Utr", "kelurahan.3173021002"),
    ("kabel putus di Kby Lama Sel", "kelurahan.3174051006"),
    ("truk parkir di Tg. Priok", "kecamatan.317202"),
    ("jalan rusak di Jkt Sel", "kota.3174"),
    # typos of one or two letters
    ("banjir di Cempaka Puth Timur", "kelurahan.3171051001"),
    ("sampah di kel kebon kacag", "kelurahan.3171071006"),
    ("banjir di Jelambar Bru", "kelurahan.3173021006"),
    ("air mati di Menteng Dlm", "kelurahan.3174011003"),
])
def test_jakarta_places_as_people_write_them(jakarta: RuleSet, text: str, queue: str) -> None:
    decision = jakarta.decide(envelope(text=text))
    assert decision.rule_id == "gazetteer", decision.reason
    assert decision.queue == queue, decision.reason


@pytest.mark.parametrize("text", [
    "Sampah di kali belakang rumah tidak diangkut",
    "Kampung kami kebanjiran sejak semalam",
    "Pasar becek dan kotor",
    "Gang sempit dipakai parkir mobil",
    "Warga melawan penggusuran",           # 'melawan' is one letter from Melawai: not after a place word
    "Pancaran air dari pipa bocor",        # one letter from Pancoran
    "Tim kami sudah ke lokasi",            # 'tim' is a team here, not Taman Ismail Marzuki
    "di slipy banjir",                     # 'Slipi' is too short to be guessed
])
def test_jakarta_place_free_sentences_are_not_routed(jakarta: RuleSet, text: str) -> None:
    decision = jakarta.decide(envelope(text=text))
    assert decision.rule_id != "gazetteer", decision.reason


def test_jakarta_explain_shows_landmark_expansion_and_score(jakarta: RuleSet) -> None:
    reason = jakarta.decide(envelope(text="Sampah di GBK Senayan")).reason
    assert "landmark Gelora Bung Karno in kelurahan Gelora as 'gbk'" in reason
    assert "chose it over kelurahan Senayan ('senayan'): a landmark beats" in reason
    assert "(short form of Pondok Labu)" in jakarta.decide(envelope(text="banjir di Pd. Labu")).reason
    fuzzy = jakarta.decide(envelope(text="banjir di Cempaka Puth Timur")).reason
    assert "fuzzy: read as Cempaka Putih Timur, 1 edit(s), score" in fuzzy


def test_rules_file_options_and_unknown_landmark_codes(tmp_path: Path) -> None:
    write_boundaries(tmp_path / "b.geojson")
    base = {"version": 1, "rule": [
        {"id": "gaz", "type": "gazetteer", "boundaries": "b.geojson"},
        {"id": "fallback", "type": "fallback"},
    ]}
    plain_rules = RuleSet.from_dict(base, tmp_path)  # builtin landmarks: none of them in these polygons
    assert plain_rules.decide(envelope(text="banjir di kel. Alpha")).queue == "kelurahan.3199011001"
    _write(tmp_path / "lm.csv", ["Tugu Uji,TU Alpha,monument,3199011001,Alpha,-6.195,106.805"])
    own = {**base, "rule": [{**base["rule"][0], "landmarks": "lm.csv"}, base["rule"][1]]}
    assert RuleSet.from_dict(own, tmp_path).decide(envelope(text="rusak di Tugu Uji")).queue == \
        "kelurahan.3199011001"
    _write(tmp_path / "lm.csv", ["Tugu Uji,,monument,3199019999,Alpha,-6.195,106.805"])
    with pytest.raises(RulesError, match=r"rule 'gaz': .*Tugu Uji \(3199019999 Alpha\): no kelurahan 3199019999"):
        RuleSet.from_dict(own, tmp_path)
    stray = Landmark(name="Tugu", kind="monument", code="3199019999", kelurahan="?", lat=-6.2, lon=106.8)
    with pytest.raises(PlacesError, match="landmark Tugu: kelurahan 3199019999 is not in the names list"):
        Gazetteer.build(SATU, landmarks=[stray])  # names only, no polygons: the code must still be known
    # with polygons in the rule, a point outside its kelurahan is refused at start (reload keeps the old rules)
    _write(tmp_path / "lm.csv", ["Tugu Uji,,monument,3199011001,Alpha,-6.195,106.815"])
    with pytest.raises(RulesError, match=r"1 landmark\(s\) outside their kelurahan, e.g. Tugu Uji .* Beta"):
        RuleSet.from_dict(own, tmp_path)


def test_real_code_list_gazetteer_without_extras_is_unchanged() -> None:
    """Built as before (no landmarks, short forms or fuzzy): the original behaviour stays available."""
    gaz = Gazetteer.build(places_from_csv(shared_path("data", "jakarta", "wilayah.csv")))
    assert gaz.best("macet di GBK")[0] is None
    assert gaz.best("banjir di Pd. Labu")[0] is None


def test_geo_check_landmarks_cli(tmp_path: Path) -> None:
    from tests.router.test_cli import kanal

    boundaries = str(write_boundaries(tmp_path / "b.geojson"))
    _write(tmp_path / "ok.csv", ["Tugu Tengah,,monument,3199011001,Alpha,-6.195,106.804",
                                 "Tugu Pinggir,,monument,3199011001,Alpha,-6.1995,106.8045"])
    good = kanal("geo", "check", boundaries, "--landmarks", "ok.csv", cwd=tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "2 landmarks checked" in good.stdout and "near border: Tugu Pinggir" in good.stdout
    assert "OK: every point lies inside its kelurahan" in good.stdout
    _write(tmp_path / "bad.csv", ["Tugu Salah,,monument,3199011001,Alpha,-6.195,106.815"])
    bad = kanal("geo", "check", boundaries, "--landmarks", "bad.csv", cwd=tmp_path)
    assert bad.returncode == 1 and "error: Tugu Salah" in bad.stdout and "in 3199011002 Beta" in bad.stdout


def test_geo_check_builtin_landmarks_cli(tmp_path: Path) -> None:
    from tests.router.test_cli import kanal

    polygons = str(shared_path("data", "jakarta", "kelurahan.geojson"))
    done = kanal("geo", "check", polygons, "--landmarks", "builtin", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: every point lies inside its kelurahan" in done.stdout

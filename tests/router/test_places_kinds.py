"""Places in Jakarta, one table per kind: every kind of landmark, the conflicts between names, short forms,
names people use for an area, and sentences with no place; plus the two short cuts the reader takes.

Runs on deploy/rules/jakarta.toml with the real code list (skipped, saying so, without ../shared). Expected
places are written by name and looked up in the code list, so a wrong code in the data cannot hide here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.gazetteer import Gazetteer, normalise
from router.places import FUZZY_STOP, KINDS, landmarks_path, load_landmarks
from router.rules import GazetteerRule, RuleSet
from tests.conftest import shared_path
from tests.factories import envelope

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def jakarta() -> RuleSet:
    shared_path("data", "jakarta", "wilayah.csv")
    return RuleSet.load(ROOT / "deploy" / "rules" / "jakarta.toml")


@pytest.fixture(scope="module")
def queue_of() -> dict[str, str]:
    """'kel:Bali Mester' -> 'kelurahan.3175031003' (and kec:, kota:) from the code list."""
    prefix = {"kelurahan": "kel", "kecamatan": "kec", "kota": "kota"}
    with shared_path("data", "jakarta", "wilayah.csv").open(encoding="utf-8") as handle:
        return {f"{prefix[r['level']]}:{r['nama']}": f"{r['level']}.{r['kode']}"
                for r in csv.DictReader(handle) if r["level"] in prefix}


@pytest.fixture(scope="module")
def gazetteer(jakarta: RuleSet) -> Gazetteer:
    rule = next(r for r in jakarta.rules if isinstance(r, GazetteerRule))
    return jakarta._gaz[rule.id]


def routed(jakarta: RuleSet, text: str) -> tuple[str | None, str]:
    decision = jakarta.decide(envelope(text=text))
    return (decision.queue if decision.rule_id == "gazetteer" else None), decision.reason


# One sentence per kind of landmark, as a resident would write it.
KIND_CASES = [
    ("station", "ojek pangkalan menumpuk di pintu Stasiun Pasar Senen", "kel:Bungur"),
    ("terminal", "bus ngetem sembarangan di Terminal Kampung Melayu", "kel:Kampung Melayu"),
    ("market", "sampah pasar menggunung di Pasar Induk Kramat Jati", "kel:Tengah"),
    ("mall", "parkir liar di depan Mal Pejaten Village", "kel:Jati Padang"),
    ("hospital", "ambulans tertahan macet di depan RSUD Koja", "kel:Koja"),
    ("campus", "trotoar rusak di depan Kampus UI Salemba", "kel:Kenari"),
    ("mosque", "jalan banjir dekat Jakarta Islamic Centre", "kel:Tugu Utara"),
    ("church", "parkir liar saat misa di Gereja Santa Maria de Fatima", "kel:Glodok"),
    ("temple", "lampu jalan mati di depan Vihara Ekayana", "kel:Duri Kepa"),
    ("park", "toilet umum Taman Impian Jaya Ancol kotor", "kel:Ancol"),
    ("monument", "pengamen mengganggu di Patung Kuda", "kel:Gambir"),
    ("building", "demo menutup jalan depan Gedung DPR", "kel:Gelora"),
    ("port", "kapal nelayan buang limbah di Pelabuhan Muara Baru", "kel:Penjaringan"),
    ("airport", "taksi liar di Bandara Halim", "kel:Halim Perdana Kusuma"),
    ("toll", "antrian panjang di GT Cililitan", "kel:Cililitan"),
    ("stadium", "sampah sisa konser di JIS", "kel:Papanggo"),
    ("island", "dermaga Pulau Bidadari rusak", "kel:Pulau Untung Jawa"),
    ("area", "banjir setinggi lutut di Kampung Pulo", "kel:Kampung Melayu"),
    ("cemetery", "makam terendam di TPU Tanah Kusir", "kel:Kebayoran Lama Selatan"),
]


def test_the_kind_table_covers_every_kind_in_the_data() -> None:
    path = landmarks_path("builtin", ROOT)
    assert path is not None
    shipped = {m.kind for m in load_landmarks(path)}
    assert shipped <= KINDS
    assert {kind for kind, _, _ in KIND_CASES} == shipped


@pytest.mark.parametrize(("kind", "text", "expected"), KIND_CASES, ids=[c[0] for c in KIND_CASES])
def test_each_kind_of_landmark_names_its_kelurahan(jakarta: RuleSet, queue_of: dict[str, str], kind: str,
                                                   text: str, expected: str) -> None:
    queue, reason = routed(jakarta, text)
    assert queue == queue_of[expected], reason
    assert "landmark" in reason


# Specific beats general: each row is a conflict the reader must settle, with the reason it must give.
CONFLICTS = [
    # a landmark named like a kecamatan: the landmark's kelurahan, not the kecamatan
    ("copet di Pasar Jatinegara", "kel:Bali Mester", "landmark Pasar Jatinegara"),
    ("copet di Pasar Jatinegara, Kec. Jatinegara", "kel:Bali Mester", "a landmark beats a kelurahan or kec"),
    ("macet di depan Pasar Kebayoran Lama", "kel:Kebayoran Lama Utara", "landmark Pasar Kebayoran Lama"),
    ("antrian di Stasiun Pasar Minggu", "kel:Pasar Minggu", "landmark Stasiun Pasar Minggu"),
    ("pedagang di Pasar Induk Kramat Jati", "kel:Tengah", "landmark Pasar Induk Kramat Jati"),
    # a landmark beside (or named after) a kelurahan it does not lie in
    ("genangan di Stasiun Rawa Buaya", "kel:Duri Kosambi", "landmark Stasiun Rawa Buaya"),
    ("peron Stasiun Jatinegara bocor", "kel:Pisangan Baru", "landmark Stasiun Jatinegara"),
    ("banjir di Kampung Pulo", "kel:Kampung Melayu", "landmark Kampung Pulo"),
    ("sampah di Simprug dekat Permata Hijau", "kel:Grogol Selatan", "chose it over landmark Permata Hijau"),
    # a street named after an area is not that area ("Jl. Tanah Abang II" runs through Gambir)
    ("banjir di Jl. Tanah Abang II RT 03 RW 05, Gambir", "kec:Gambir",
     "a place named as an area beats one named only as a street"),
    ("lampu mati di Jalan Cempaka Putih Raya, Kel. Rawasari", "kel:Rawasari",
     "a place named as an area beats one named only as a street"),
    # a name that is also a day, said as a day ("hari senen" is Monday), is no place; said as a place, it is
    ("copet di senen, tiap hari ada korban", "kec:Senen", "kecamatan Senen"),
    # the same for the other names said as words: a name said as a place still is one
    ("rob lagi di pluit, tiup peluit pun percuma", "kel:Pluit", "kelurahan Pluit as 'pluit'"),
    ("pohon tumbang di bungur, kabel putus", "kel:Bungur", "kelurahan Bungur as 'bungur'"),
    ("macet dari cibubur ke depok tiap pagi", "kel:Cibubur", "kelurahan Cibubur as 'cibubur'"),
    # "jalanan X" is the roads of area X, not a street named X
    ("jalanan kebon kosong kemayoran rusak semua", "kel:Kebon Kosong", "a kelurahan beats its kecamatan"),
    # an explicit "Kel." beats a landmark
    ("Kel. Rawa Buaya, dekat Stasiun Rawa Buaya", "kel:Rawa Buaya", "an explicit 'kel.' beats a landmark"),
    ("kelurahan Kampung Melayu dekat Pasar Jatinegara", "kel:Kampung Melayu",
     "an explicit 'kel.' beats a landmark"),
    # a kelurahan beats its kecamatan; a name shared by both is the kecamatan without "kel."
    ("banjir di Cipinang Muara, Jatinegara", "kel:Cipinang Muara", "a kelurahan beats its kecamatan"),
    ("banjir di Jatinegara", "kec:Jatinegara", "kecamatan Jatinegara"),
    ("banjir di kel. Jatinegara", "kel:Jatinegara", "kelurahan Jatinegara"),
]


SHORT_FORMS = [
    ("jalan rusak parah di Jkt Pst", "kota:Jakarta Pusat", "short form of Jakarta Pusat"),
    ("tawuran di Tn Tinggi semalam", "kel:Tanah Tinggi", "short form of Tanah Tinggi"),
    ("banjir di Pnd. Kelapa", "kel:Pondok Kelapa", "short form of Pondok Kelapa"),
    ("got mampet di Menteng Ats", "kel:Menteng Atas", "short form of Menteng Atas"),
    ("sampah kiriman di Kep. Seribu", "kota:Kepulauan Seribu", "short form of Kepulauan Seribu"),
    ("lampu mati di Cmp. Putih Barat", "kel:Cempaka Putih Barat", "short form of Cempaka Putih Barat"),
    ("pipa bocor di Benhil", "kel:Bendungan Hilir", "kelurahan Bendungan Hilir as 'benhil'"),
    ("copet di Tenabang", "kec:Tanah Abang", "kecamatan Tanah Abang as 'tenabang'"),
    ("macet parah di Pasming", "kec:Pasar Minggu", "kecamatan Pasar Minggu as 'pasming'"),
    ("kabel menjuntai di Mampang", "kec:Mampang Prapatan", "kecamatan Mampang Prapatan as 'mampang'"),
    ("antrian di Trmnl Kampung Melayu", "kel:Kampung Melayu", "short form of Terminal Kampung Melayu"),
    ("kabel menjuntai di kt. bambu sltn", "kel:Kota Bambu Selatan", "short form of Kota Bambu Selatan"),
    ("got mampet di cipinang bsr utr", "kel:Cipinang Besar Utara", "short form of Cipinang Besar Utara"),
    ("lampu jalan di halim p.k. mati", "kel:Halim Perdana Kusuma", "kelurahan Halim Perdana Kusuma"),
]


# Typos, old spellings and chat style, with and without a word before them that introduces a place.
TYPOS = [
    ("banjir lagi kebon jeurk parah", "kec:Kebon Jeruk", "fuzzy: read as Kebon Jeruk, 1 edit(s)"),
    ("jtinegara macet total", "kec:Jatinegara", "fuzzy: read as Jatinegara"),
    ("cilandk banjir", "kec:Cilandak", "fuzzy: read as Cilandak"),
    ("kbyrn lama banjir lg", "kec:Kebayoran Lama", "written without vowels"),
    ("got mampet di cmpk putih", "kec:Cempaka Putih", "written without vowels"),
    ("tawuran lagi di ptmburan", "kel:Petamburan", "fuzzy: read as Petamburan, 2 edit(s)"),
    ("banjir djatinegara kemarin", "kec:Jatinegara", "old spelling"),
    ("lampu mati di tjikini", "kel:Cikini", "old spelling"),
    ("trotoar kebajoran baru rusak", "kec:Kebayoran Baru", "old spelling"),  # old "j" is today's "y"
    ("got mampet tjempaka poetih barat", "kel:Cempaka Putih Barat", "old spelling"),
    ("banjir di tjipinang besar utara", "kel:Cipinang Besar Utara", "old spelling"),  # one word respelt of two
    ("jalan di soemur batu ancur", "kel:Sumur Batu", "old spelling"),  # one syllable respelt (soemoer)
    ("lampu mati di kel. slipy", "kel:Slipi", "fuzzy: read as Slipi"),
    ("jalan rusak roortan jakut", "kel:Rorotan", "fuzzy: read as Rorotan"),  # 7 letters: before a kota
    ("macet grogool parah", "kel:Grogol", "fuzzy: read as Grogol"),           # a letter typed twice
    ("pekojam air pam mati 2 hari", "kel:Pekojan", "fuzzy: read as Pekojan"),  # 7 letters: the text's first word
    ("bau sampah menyengat di tebett", "kec:Tebet", "fuzzy: read as Tebet"),
    ("got mampet di cipinang besar slatan", "kel:Cipinang Besar Selatan", "read as Cipinang Besar Selatan"),
    # landmarks misspelt, also around a name found exactly
    ("peron stasiun manggarei penuh", "kel:Manggarai", "landmark Stasiun Manggarai"),
    ("parkir liar dkt stasiun gambr", "kel:Gambir", "landmark Stasiun Gambir"),
    ("saluran air mampet di grbang tol cakung", "kel:Cakung Barat", "landmark Gerbang Tol Cakung"),
    ("banjir lagi tman menteng parah", "kel:Menteng", "landmark Taman Menteng"),
    # never across a kecamatan the text names; "Kel." found exactly beats a misspelt landmark
    ("banjir di cilandk, kec. kebayoran lama", "kec:Kebayoran Lama", "outside the kecamatan/kota the text"),
    ("kel. kebon jeruk dekat stasiun manggarei", "kel:Kebon Jeruk", "kelurahan Kebon Jeruk"),
]


# A name that is also a word ("Cawang", "Munjul", "Bintaro") needs "kel." before it, or its own kecamatan or
# kota right after it, as an address is written; misspelt too, inside that area only.
WORD_NAMES = [
    ("cawang kramat jati macet total", "kel:Cawang", "right before 'kramat jati', which it lies in"),
    ("got mampet di susukan kec. ciracas", "kel:Susukan", "right before 'ciracas'"),
    ("bintaro, jaksel pohon tumbang", "kel:Bintaro", "right before 'jaksel'"),
    ("munjull cipayung lampu jalan mati", "kel:Munjul", "fuzzy: read as Munjul, 1 edit(s)"),
    ("serdeng kemayoran air got hitam bau", "kel:Serdang", "right before 'kemayoran'"),
    ("galue johar baru ada tumpukan puing", "kel:Galur", "fuzzy: read as Galur, 1 edit(s)"),  # 5 letters
    ("sampah numpuk di lagao koja", "kel:Lagoa", "fuzzy: read as Lagoa"),  # not a word name: the same bound
    ("bintaro kebayoran lama banjir", "kec:Kebayoran Lama", "kecamatan Kebayoran Lama"),  # Bintaro is not in it
    ("rumah baru pasar rebo bocor", "kec:Pasar Rebo", "kecamatan Pasar Rebo"),  # "baru" is new, not Kel. Baru
    ("tangki kec. taman sari banjir", "kec:Taman Sari", "kecamatan Taman Sari"),  # a tank: an everyday word
]
READS = CONFLICTS + SHORT_FORMS + TYPOS + WORD_NAMES


@pytest.mark.parametrize(("text", "expected", "why"), READS, ids=[c[0] for c in READS])
def test_reads_and_says_why(jakarta: RuleSet, queue_of: dict[str, str], text: str, expected: str,
                            why: str) -> None:
    """Specific beats general, short forms, everyday names and typos: the place and the reason given."""
    queue, reason = routed(jakarta, text)
    assert queue == queue_of[expected], reason
    assert why in reason


@pytest.mark.parametrize("text", [
    "persiapan UNAS di sekolah anak saya terganggu",     # the national exam, not Universitas Nasional
    "Pak Halim ketua RT tidak menanggapi laporan",        # a person, not Halim Perdana Kusuma
    "rumah di Blok M nomor 5 perumahan kami bocor",       # a housing block, not the Blok M area
    "air pam gak ngalir dari hari senen",                 # Monday in Betawi, not Kecamatan Senen
    "banjir senen pagi sampe sekarang belum surut",
    "halte bus dekat rumah atapnya bocor",
    "gerbang tol antriannya panjang sekali",
    "rumah sakit menolak pasien BPJS",
    "jalan rusak di depan sekolah dekat pasar",
    "kebun kosong dipakai buang sampah, rawa jadi sarang nyamuk",
    "dua tiang listrik miring di ujung gang",
    # ordinary words a letter or two from a name, chat abbreviations
    "sampah di kebun kosong belakang rumah",      # an empty plot, not Kebon Kosong
    "di kebun jeruk belakang rumah banyak nyamuk",
    "warga melawan petugas saat penertiban",      # not Melawai
    "pancaran air dari pipa bocor",               # not Pancoran
    "gmbr terlampir, jln berlubang",              # "gambar", not Gambir
    "rw 05 banjir lagi, tlg dibantu",
    "kemarin senin air mati seharian",            # not Senen
    "tangki air di rumah bocor",                  # Tangki is a word (a tank): a kelurahan only after "kel."
    "kemana petugas kebersihan? sampah numpuk",   # the text's first word, a letter from Kemang
    "@DKIJakarta tolong jalan rusak dibiarkan",   # the city's handle, two letters from "IKIP Jakarta"
    "warga di dkijakarta kecewa sama pelayanan",
    "remang remang jalan gelap rawan begal",
    # names said as everyday words (router/data/senses.txt): a tree, a dish, a whistle, fervour
    "pohon bungur depan sekolah miring mau roboh",
    "warung coto makasar buang limbah ke got",
    "satpam komplek niup pluit terus tiap malam",
    "gelora semangat kerja bakti warga sudah hilang",
    "pancuran air di musholla bocor terus",           # a spout, not Pancoran
    "parkiran pasarnya becek dan bau",                # its market, not Pasaraya
    "makassar jalannya mulus, di sini hancur",        # the city, not Kecamatan Makasar
    "penggilingan padi tetangga bising dari subuh",   # a rice mill
    "mesin penggilingan daging tetangga bising",     # a meat grinder
    "trotoarnya dibikin kebagusan tapi dipake parkir",  # "too nice", not Kebagusan
    "jalan komplek di pekayon jaya bekasi rusak",     # a place in Bekasi named like a Jakarta kelurahan
    "stok minyak kayu putih di puskesmas habis",      # eucalyptus oil, not Kelurahan Kayu Putih
    "truk tangki parkir sembarangan",
    "tangkii air di rumah bocor",
])
def test_no_place_no_route(jakarta: RuleSet, text: str) -> None:
    queue, reason = routed(jakarta, text)
    assert queue is None, reason


def test_a_name_said_as_a_word_is_explained_in_the_trail(jakarta: RuleSet) -> None:
    """`kanal route explain` says why "pohon bungur" did not route to Kelurahan Bungur."""
    decision = jakarta.decide(envelope(text="pohon bungur depan sekolah mau roboh"))
    gazetteer = next(t for t in decision.trail if t.rule_id == "gazetteer")
    assert "'bungur' is said as a word here, not as a place" in gazetteer.reason


# --- the reader's two short cuts give what the plain reading gives ---------------------------------------

def _vocabulary(gaz: Gazetteer) -> list[str]:
    words = {w for key_names in (lm.names for lm, _ in gaz.landmarks.values()) for n in key_names
             for w in normalise(n)}
    words |= {w for places in gaz.places.values() for p in places for w in normalise(p.name)}
    return sorted(words | set(list(FUZZY_STOP)[:60]) | {"di", "dekat", "kel", "kec", "rusak", "2"})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_scan_drops_no_match(gazetteer: Gazetteer, data: st.DataObject) -> None:
    """Starting only where a word is a name or begins one with the next word finds what starting at every
    word that begins a name finds."""
    vocab = _vocabulary(gazetteer)
    tokens = data.draw(st.lists(st.sampled_from(vocab), min_size=1, max_size=12))
    every = [i for i, t in enumerate(tokens) if t in gazetteer.prefixes]
    assert gazetteer.find("", tokens) == gazetteer._find(tokens, every)[0]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_typo_prefilter_only_turns_down_what_lookup_would(gazetteer: Gazetteer, data: st.DataObject) -> None:
    index = gazetteer.fuzzy
    assert index is not None
    vocab = _vocabulary(gazetteer)
    words = data.draw(st.lists(st.sampled_from(vocab), min_size=1, max_size=3))
    cut = data.draw(st.integers(min_value=0, max_value=len(words[0])))
    words[0] = words[0][:cut] + words[0][cut + 1:] or words[0]  # maybe one letter missing
    if not index.may_match(words):
        assert index.lookup("".join(words)) is None

"""The category classifier and its data file: a table of reports per category, the ambiguous pairs the issue
names, the Indonesian normalisation, the file's validation, and rules that match on category."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from router.categories import CategoriesError, Classifier
from router.rules import RulesError, RuleSet
from schemas import Location
from tests.factories import envelope

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "deploy/rules/categories.toml"


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.load(DATA)


def raw() -> dict[str, Any]:
    return tomllib.loads(DATA.read_text(encoding="utf-8"))


# Written for these tests (neither the build nor the held-out bench set): one table per category.
CASES: dict[str, list[str]] = {
    "jalan": ["jln depan pasar bolong2, tolong ditambal", "aspal jalan kami mengelupas semua",
              "bekas galian PLN gak ditutup rapi"],
    "pohon": ["pohon tumbang di jl. cikini", "tolong pangkas dahan yg nyentuh kabel", "pohonnya miring bgt"],
    "parkir_liar": ["motor parkir di trotoar", "jukir liar di depan alfamart", "mobil parkir sembarangan"],
    "sampah": ["sampah sisa banjir", "sampahnya udah numpuk seminggu", "gerobak sampah gak lewat2"],
    "saluran_air": ["got mampettt", "saluran air tersumbat", "tutup got hilang di depan SD"],
    "banjir": ["rumah2 kebanjiran lagi", "genangan di underpass", "tanggul jebol"],
    "penerangan_jalan": ["lampu jalan mati", "PJU kedip2", "tiang lampu mau jatuh"],
    "ketertiban": ["PKL di trotoar", "preman malakin sopir", "pengamen maksa"],
    "lalu_lintas": ["lampu lalu lintas mati", "macet parah tiap sore", "motor masuk jalur busway"],
    "fasilitas_umum": ["toilet umum bau", "JPO gelap dan kotor", "mainan anak di RPTRA rusak"],
    "kawasan_dilarang_merokok": ["ngerokok di angkot", "orang merokok di puskesmas", "asap rokok di halte"],
    "bantuan_sosial": ["KJP belum cair", "bansos gak tepat sasaran", "KLJ ibu saya berhenti"],
    "pelayanan_publik": ["ngurus KTP lama", "ada pungli waktu urus KK", "akta kelahiran gak jadi2"],
    "kesehatan": ["banyak jentik nyamuk", "minta fogging, ada yg kena DBD", "puskesmas tutup jam kerja"],
    "air_bersih": ["air PAM mati", "air ledeng keruh", "pipa air bocor di jalan"],
    "polusi": ["limbah pabrik ke kali", "asap pabrik hitam", "bau menyengat dari peternakan"],
    "bangunan": ["bangunan tanpa IMB", "reklame liar di tiang", "bangunan liar di bantaran"],
    "lainnya": ["terima kasih pak", "mau tanya jam buka kantor", "selamat siang"],
}


@pytest.mark.parametrize(("category", "text"), [(c, t) for c, ts in CASES.items() for t in ts])
def test_each_category(classifier: Classifier, category: str, text: str) -> None:
    got = classifier.classify(text)
    assert got.id == category, (text, got)
    assert 0.0 <= got.confidence <= 1.0


def test_every_category_in_the_file_has_a_table() -> None:
    assert set(CASES) == set(Classifier.load(DATA).ids)


@pytest.mark.parametrize(("text", "wins", "alone", "loses"), [
    ("motor parkir di trotoar", "parkir_liar", "trotoar rusak", "jalan"),
    ("lampu lalu lintas mati", "lalu_lintas", "lampu jalan mati", "penerangan_jalan"),
    ("sampah sisa banjir", "sampah", "banjir lagi", "banjir"),
])
def test_the_main_complaint_wins(classifier: Classifier, text: str, wins: str, alone: str, loses: str) -> None:
    got = classifier.classify(text)
    assert got.id == wins and got.confidence >= classifier.threshold
    assert got.cues  # the cues that decided, as written in the data file
    assert classifier.classify(alone).id == loses  # the other category, said on its own


def test_cues_are_those_of_the_file(classifier: Classifier) -> None:
    got = classifier.classify("Jln udh bolong, pohon jg tumbang")
    written = {cue for spec in classifier.spec.category for cue in spec.cues}
    assert got.cues and set(got.cues) <= written


@pytest.mark.parametrize(("text", "words"), [
    ("Jln udh bolong gk diperbaiki", ["jalan", "lubang", "tidak", "diperbaiki"]),
    ("sampahhhh numpukkk", ["sampah", "tumpuk"]),
    ("rumah2 kebanjiran", ["rumah", "banjir"]),
    ("gorong-gorong mampet", ["gorong", "mampet"]),
    ("pemangkasan dahan", ["pangkas", "dahan"]),
    ("tersumbat", ["sumbat"]),
    ("kebanjirannya", ["banjir"]),
])
def test_normalisation(classifier: Classifier, text: str, words: list[str]) -> None:
    assert classifier.normaliser.words(text) == words


def test_ordinary_words_are_not_stemmed_into_cues(classifier: Classifier) -> None:
    # "makan" must not lose "-an" (not a cue word), "diam" stays "diam"
    assert classifier.normaliser.words("makan diam") == ["makan", "diam"]


def test_below_the_threshold_is_lainnya(classifier: Classifier) -> None:
    weak = classifier.classify("jalan")  # one weak hint: weight 1 of full_score 4
    assert weak.id == "lainnya" and weak.confidence < classifier.threshold and weak.cues == ()
    nothing = classifier.classify("")
    assert nothing.id == "lainnya" and nothing.confidence == 0.0
    assert classifier.classify("lampu redup").id == "penerangan_jalan"  # 3 of 4: confidence 0.75
    assert Classifier.load(DATA, threshold=0.9).classify("lampu redup").id == "lainnya"


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["category"][0].update(cues={}), "category 'jalan' has no cues"),
    (lambda d: d["category"][0]["cues"].update({"di ke": 2}), "cue 'di ke' is empty once normalised"),
    (lambda d: d["category"][0]["cues"].update({"lubang": 0}), "needs a non-zero weight"),
    (lambda d: d.update(fallback="lain"), "fallback 'lain' is not a listed category id"),
    (lambda d: d["category"].append(dict(d["category"][0])), "category id 'jalan' is listed twice"),
    (lambda d: d["category"][0].update(id="Jalan Rusak"), "category"),
    (lambda d: d.update(threshold=2), "threshold"),
    (lambda d: d["synonyms"].update({"jln": "jalan raya"}), "synonym 'jln'"),
])
def test_the_file_is_validated(change: Any, message: str) -> None:
    data = copy.deepcopy(raw())
    change(data)
    with pytest.raises(CategoriesError, match=message):
        Classifier.from_dict(data, "categories.toml")


def write_rules(tmp_path: Path, rule: str) -> Path:
    (tmp_path / "categories.toml").write_text(DATA.read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "rules.toml"
    path.write_text('version = 1\ncategories = "categories.toml"\n' + rule +
                    '\n[[rule]]\nid = "rest"\ntype = "fallback"\n', encoding="utf-8")
    return path


BANSOS = ('[[rule]]\nid = "bansos"\ntype = "channel"\ncategory = ["bantuan_sosial"]\nlocated = false\n'
          'queue = "dinas.sosial"\n')


def test_a_rule_matches_on_category_and_location(tmp_path: Path) -> None:
    rules = RuleSet.load(write_rules(tmp_path, BANSOS))
    d = rules.decide(envelope(text="bansos sembako gak sampai ke warga"))
    assert (d.queue, d.rule_id, d.category) == ("dinas.sosial", "bansos", "bantuan_sosial")
    assert d.category_confidence is not None and d.category_confidence > 0.5
    assert "bansos" in d.category_cues and "no location" in d.reason
    located = rules.decide(envelope(text="bansos sembako gak sampai ke warga",
                                    location=Location(lat=-6.2, lon=106.8, source="gps")))
    assert located.queue == "triage" and located.trail[0].reason == "the report has a location"
    other = rules.decide(envelope(text="lampu jalan mati"))
    assert other.queue == "triage" and other.category == "penerangan_jalan"


def test_rules_without_a_categories_file_carry_no_category(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('version = 1\n[[rule]]\nid = "rest"\ntype = "fallback"\n', encoding="utf-8")
    d = RuleSet.load(path).decide(envelope(text="lampu jalan mati"))
    assert d.category is None and d.category_confidence is None and d.category_cues == ()


@pytest.mark.parametrize(("rule", "message"), [
    (BANSOS.replace("bantuan_sosial", "bansos_kota"), "unknown category 'bansos_kota'"),
    ('[[rule]]\nid = "x"\ntype = "channel"\nkind = "sms"\nlocated = false\nqueue = "triage"\n',
     "`located` goes with"),
])
def test_rules_naming_bad_categories_are_refused(tmp_path: Path, rule: str, message: str) -> None:
    with pytest.raises(RulesError, match=message):
        RuleSet.load(write_rules(tmp_path, rule))


def test_a_category_rule_needs_a_categories_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("version = 1\n" + BANSOS + '[[rule]]\nid = "rest"\ntype = "fallback"\n', encoding="utf-8")
    with pytest.raises(RulesError, match="names no categories file"):
        RuleSet.load(path)


def test_a_bad_categories_file_is_a_rules_error(tmp_path: Path) -> None:
    path = write_rules(tmp_path, "")
    (tmp_path / "categories.toml").write_text("version = 1\n[[category]]\nid = 'jalan'\n", encoding="utf-8")
    with pytest.raises(RulesError, match="categories file"):
        RuleSet.load(path)


def test_the_jakarta_rules_load_with_their_categories() -> None:
    rules = RuleSet.load(ROOT / "deploy/rules/jakarta.toml")
    assert rules.classifier is not None and "jalan" in rules.classifier.ids


def test_a_negative_weight_takes_a_category_back() -> None:
    data = raw()
    pju = next(c for c in data["category"] if c["id"] == "penerangan_jalan")
    before = Classifier.from_dict(data).classify("lampu jalan mati, kabelnya kena pohon")
    assert before.id == "penerangan_jalan"
    pju["cues"]["pohon"] = -5  # the city decides: a tree on the cable is the tree's problem
    after = Classifier.from_dict(data).classify("lampu jalan mati, kabelnya kena pohon")
    assert after.id == "pohon" and "pohon" in after.cues

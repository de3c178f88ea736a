"""Gazetteer on real Indonesian complaint sentences (Jakarta names from ../shared) and on a tiny own list."""

from __future__ import annotations

import pytest

from router.gazetteer import Gazetteer, Place, PlaceMatch, places_from_csv
from router.ranking import describe
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def jakarta() -> Gazetteer:
    return Gazetteer.build(places_from_csv(shared_path("data", "jakarta", "wilayah.csv")))


@pytest.mark.parametrize(("text", "level", "code"), [
    ("Jalan berlubang di Kel. Menteng dekat stasiun Cikini, mohon diperbaiki", "kelurahan", "3171061001"),
    ("Banjir lagi di Menteng sejak subuh, air sudah selutut", "kecamatan", "317106"),
    ("Sampah menumpuk di pinggir kali daerah Palmerah, Jakbar", "kecamatan", "317307"),
    ("Lampu PJU mati di kec. Pal Merah sudah 3 hari", "kecamatan", "317307"),
    ("Got mampet di Kampung Tengah, Kramat Jati", "kelurahan", "3175041002"),
    ("Pohon tumbang di Jl. Raya Bogor arah Cililitan, Jaktim", "kelurahan", "3175041006"),
    ("Parkir liar bikin macet di Jaksel, tolong ditertibkan", "kota", "3174"),
    ("Macet parah di Tanjung Priuk gara-gara truk kontainer", "kecamatan", "317202"),
    ("Mohon perbaiki trotoar di Kelurahan Cikini, Kecamatan Menteng, Jakarta Pusat", "kelurahan", "3171061003"),
    ("Kel.Pulo Gadung: air PAM tidak mengalir", "kelurahan", "3175021001"),
    ("warga RT 05 Pulo Gadung mengeluhkan bau limbah", "kecamatan", "317502"),
    ("Kali Baru meluap, rumah warga terendam", "kelurahan", "3172041004"),
    ("Halte di Halim Perdana Kusumah rusak", "kelurahan", "3175081004"),
])
def test_real_sentences(jakarta: Gazetteer, text: str, level: str, code: str) -> None:
    best, _ = chosen(jakarta, text)
    assert (best.place.level, best.place.code) == (level, code)


def chosen(gazetteer: Gazetteer, text: str) -> tuple[PlaceMatch, str]:
    """The place a text is read as (it must name one) and the reason the decision trail would give."""
    reading = gazetteer.read(text)
    assert reading.best is not None, text
    return reading.best, describe(reading.best, reading.found, reading.notes)


@pytest.mark.parametrize("text", [
    "Tolong jalan di depan rumah saya diperbaiki, sudah lama rusak",
    "Harga cabai naik terus, pemerintah harus turun tangan",
    "Gedung baru di tengah kota itu tinggi sekali",  # 'baru', 'tengah' are words, not places, without a marker
])
def test_no_place_named(jakarta: Gazetteer, text: str) -> None:
    assert jakarta.best(text)[0] is None


def test_common_word_names_count_after_a_marker(jakarta: Gazetteer) -> None:
    best, _ = jakarta.best("Jembatan putus di kelurahan Baru, Pasar Rebo")
    assert best is not None and best.place.code == "3175051002" and best.marker == "kelurahan"


def test_own_small_list_shared_name_rule() -> None:
    gaz = Gazetteer.build([
        Place(code="319901", level="kecamatan", name="Satu Raya"),
        Place(code="3199011001", level="kelurahan", name="Satu Raya"),
        Place(code="3199011002", level="kelurahan", name="Dua Muara"),
    ], aliases={"Duamuara Lama": "Dua Muara"}, need_marker=())
    assert gaz.best("banjir di Satu Raya")[0].place.level == "kecamatan"  # type: ignore[union-attr]
    assert gaz.best("banjir di kel. satu-raya")[0].place.code == "3199011001"  # type: ignore[union-attr]
    assert gaz.best("di Duamuara Lama ada got mampet")[0].place.code == "3199011002"  # type: ignore[union-attr]
    assert gaz.best("di DUA MUARA")[0].phrase == "dua muara"  # type: ignore[union-attr]


def test_ascii_fast_path_tokenises_like_the_general_path() -> None:
    import re
    import unicodedata

    from hypothesis import given
    from hypothesis import strategies as st

    from router.gazetteer import normalise

    @given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
    def check(text: str) -> None:
        folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
        assert normalise(text) == re.findall(r"[a-z0-9]+", folded)

    check()
    assert normalise("Kel.Menteng, RT_02/03!") == ["kel", "menteng", "rt", "02", "03"]


def test_plain_text_is_the_words_joined_by_single_spaces() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from router.gazetteer import normalise, plain

    @given(st.text())  # any Unicode: the ASCII fast path and the NFKD path
    def check(text: str) -> None:
        assert plain(text) == " ".join(normalise(text))
        assert plain(text).split() == normalise(text)

    check()
    assert plain("  Kel.Menteng,\n\tJakpus!! ") == "kel menteng jakpus"
    assert plain("Kelurahan Cikíni") == "kelurahan cikini"

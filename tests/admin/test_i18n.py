"""The console's words: one catalogue, complete in Indonesian; times in WIB; queue names as people say them."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from admin import i18n
from kanal import wilayah
from kanal.testing import make_config

ROOT = Path(__file__).resolve().parents[2]


def _msgids() -> set[str]:
    """Every msgid marked in the console's code and templates, extracted the way `make messages` does."""
    method_map = [("admin/**.py", "python"), ("admin/templates/**.html", "jinja2")]
    options = {"admin/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "tr": (2,), "Reason": None}
    found = extract_from_dir(str(ROOT), method_map, options, keywords=keywords)
    return {message if isinstance(message, str) else message[0] for _f, _l, message, _c, _x in found}


def test_every_marked_word_has_an_indonesian_translation() -> None:
    ids = _msgids()
    assert "Late" in ids and "I'll handle it" in ids  # the extraction sees templates and code
    assert "the item is already at %(stage)s" in ids  # and refusals' reasons
    po = read_po(io.BytesIO((i18n.LOCALE_DIR / "id/LC_MESSAGES/messages.po").read_bytes()), locale="id")
    missing = sorted(i for i in ids if not (po.get(i) and po.get(i).string))  # type: ignore[union-attr]
    assert not missing, f"untranslated (run make messages, then translate): {missing}"
    t = i18n.translations("id")
    assert t.gettext("Late") == "Terlambat" and t.gettext("I'll handle it") == "Saya tangani"
    assert i18n.translations("en").gettext("Late") == "Late"


def test_times_are_wib_with_the_age_in_words() -> None:
    now = datetime(2026, 12, 5, 7, 32, tzinfo=UTC)
    assert i18n.wib(now) == "2026-12-05 14:32 WIB"
    assert i18n.ago(now - timedelta(hours=3), now, "id") == "3 jam yang lalu"
    assert i18n.ago(now - timedelta(hours=3), now, "en") == "3 hours ago"
    assert i18n.language("xx") == "id"


def test_queue_names_from_the_code_list_and_config(tmp_path: Path) -> None:
    codes = tmp_path / "wilayah.csv"
    codes.write_text("kode,level,nama,parent_kode\n31,provinsi,DKI Jakarta,\n3171,kota,Jakarta Pusat,31\n"
                     "317101,kecamatan,Gambir,3171\n3171011001,kelurahan,Gambir,317101\n", encoding="utf-8")
    config = make_config("nats://127.0.0.1:1", tmp_path)
    names = wilayah.load(config, str(codes), {"triage": "Triase Provinsi"})
    assert names.queue("kelurahan.3171011001") == "Kelurahan Gambir, Kec. Gambir, Jakarta Pusat"
    assert names.queue("kecamatan.317101") == "Kec. Gambir, Jakarta Pusat"
    assert names.queue("triage") == "Triase Provinsi"
    assert names.queue("kelurahan.3171099999") == "kelurahan.3171099999"  # unknown: the code itself


def test_without_any_place_data_queues_show_their_codes(tmp_path: Path) -> None:
    config = make_config("nats://127.0.0.1:1", tmp_path)  # no rules file, no ../shared: nothing to read
    names = wilayah.load(config, str(tmp_path / "missing.csv"))
    assert names.queue("kelurahan.3171011001") == "kelurahan.3171011001"


def test_boundaries_give_names_when_there_is_no_code_list(tmp_path: Path) -> None:
    bounds = tmp_path / "b.geojson"
    bounds.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": null, '
                      '"properties": {"kode": "3171011001", "kelurahan": "Gambir", "kecamatan": "Gambir", '
                      '"kota": "Jakarta Pusat"}}]}', encoding="utf-8")
    names = wilayah.load(make_config("nats://127.0.0.1:1", tmp_path), None, None, str(bounds))
    assert names.queue("kelurahan.3171011001") == "Kelurahan Gambir, Kec. Gambir, Jakarta Pusat"

"""One message catalogue for every word the console shows: Indonesian by default, English as a per-user choice.

Source strings (msgids) are English in the templates and code, marked with `_()`/`{% trans %}`; the
Indonesian catalogue `admin/locale/id/LC_MESSAGES/messages.po` is read with Babel and compiled in memory at
start (no generated .mo to keep in step). `make messages` re-extracts them into `admin/locale/messages.pot`
and merges new ones into the .po; `tests/admin/test_i18n.py` fails while any msgid lacks a translation.
Times are shown in the city's zone (Asia/Jakarta, "WIB") with the age in words ("3 jam yang lalu").
"""

from __future__ import annotations

import functools
import gettext
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from starlette.templating import Jinja2Templates

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("id", "en")
DEFAULT = "id"
WIB = ZoneInfo("Asia/Jakarta")


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of `lang` (English is the source language: no catalogue needed)."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang not in LANGUAGES or not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def language(value: object) -> str:
    """A known language code, else the default (Indonesian)."""
    return value if isinstance(value, str) and value in LANGUAGES else DEFAULT


def wib(moment: datetime | None) -> str:
    """`2026-12-05 14:32 WIB`: any aware time in Jakarta's zone (a naive one is taken as UTC)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(WIB).strftime("%Y-%m-%d %H:%M") + " WIB"


def ago(moment: datetime | None, now: datetime, lang: str) -> str:
    """`3 jam yang lalu` / `3 hours ago` (rounded the way people say it)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_timedelta(moment - now, add_direction=True, threshold=1.5, locale=language(lang))


def hours(seconds: float, lang: str) -> str:
    """A duration in words without direction ("30 jam", "4 hari")."""
    return format_timedelta(timedelta(seconds=seconds), threshold=1.5, locale=language(lang))


@functools.cache
def templates(lang: str) -> Jinja2Templates:
    """The console's Jinja2 templates with `lang`'s catalogue installed (one environment per language)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(),
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["wib"] = wib
    env.globals["lang"] = language(lang)
    return Jinja2Templates(env=env)

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
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from starlette.templating import Jinja2Templates

from kanal import localtime, log
from kanal.localtime import WIB, wib

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("id", "en")
DEFAULT = "id"
__all__ = ["DEFAULT", "LANGUAGES", "WIB", "ago", "duration", "language", "templates", "translations", "wib"]


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


def duration(seconds: float, lang: str) -> str:
    """A duration in words in the admin's language ("4 hari")."""
    return localtime.duration(seconds, language(lang))


def ago(moment: datetime | None, now: datetime, lang: str) -> str:
    """`3 jam yang lalu` / `3 hours ago` in the admin's language."""
    return localtime.ago(moment, now, language(lang))


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


def _pref_key(user: str) -> str:
    return "lang." + re.sub(r"[^A-Za-z0-9_-]", "_", user)


async def remember(kv: Any, user: str, lang: str) -> None:
    """Keep an admin's language choice in the items bucket (`lang.<user>`); a failure only loses the choice."""
    try:
        await kv.put(_pref_key(user), lang.encode())
    except Exception as err:  # the page still switches for this session
        log.get("admin").warning("language_not_kept", user=user, error=repr(err))


async def remembered(kv: Any, user: str) -> str | None:
    """The admin's last language choice, if any."""
    try:
        entry = await kv.get(_pref_key(user))
    except Exception:  # never chosen (KeyNotFoundError) or the bucket unreachable: the configured default
        return None
    return language(entry.value.decode()) if entry.value else None

"""Times as people in Jakarta read them: in Asia/Jakarta, marked WIB, with the age in words ("3 jam yang lalu").

Shared by the admin console and the citizen's status page, so one moment reads the same everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_timedelta

WIB = ZoneInfo("Asia/Jakarta")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # a naive time is taken as UTC


def wib(moment: datetime | None) -> str:
    """`2026-12-05 14:32 WIB` for any aware time."""
    if moment is None:
        return ""
    return _aware(moment).astimezone(WIB).strftime("%Y-%m-%d %H:%M") + " WIB"


def ago(moment: datetime | None, now: datetime, locale: str = "id") -> str:
    """`3 jam yang lalu` / `3 hours ago`, rounded the way people say it."""
    if moment is None:
        return ""
    return format_timedelta(_aware(moment) - now, add_direction=True, threshold=1.5, locale=locale)


def duration(seconds: float, locale: str = "id") -> str:
    """A duration in words without direction ("30 jam", "4 hari")."""
    return format_timedelta(timedelta(seconds=seconds), threshold=1.5, locale=locale)

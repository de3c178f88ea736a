"""Finding items: the queue page's and `kanal inbox`'s filters, and the per-stage deadlines. Pure, no I/O.

Filters come as bookmarkable GET parameters (`q`, `stage`, `channel`, `category`, `from`, `to`, `overdue`,
`mine`); dates are `YYYY-MM-DD` in WIB, both ends inclusive. A deadline counts from when the item entered
its current stage: its first routing for Menunggu (a reroute keeps `routed_at`, so it does not restart the
clock), the stage change's time for the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol, TypeVar

from admin.i18n import WIB
from schemas.routed import RoutedItem
from schemas.status import STAGE_ORDER, StatusUpdate

T = TypeVar("T", bound="Facts")

PARAMS = ("q", "stage", "channel", "category", "from", "to", "overdue", "mine")


class Facts(Protocol):
    """What a filter looks at (the console's index entry has these; the inbox builds them)."""

    @property
    def stage(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def routed(self) -> float: ...
    @property
    def stage_since(self) -> float: ...
    @property
    def search(self) -> str: ...
    @property
    def assignee(self) -> str | None: ...


class FilterError(ValueError):
    """A filter value that cannot be used; the message names the parameter and the expected form."""


@dataclass(frozen=True)
class Filters:
    """One search: every given condition must hold."""

    words: tuple[str, ...] = ()
    stage: str | None = None
    channel: str | None = None
    category: str | None = None
    start: float | None = None  # epoch seconds, inclusive
    end: float | None = None  # epoch seconds, exclusive (the day after `to`, 00:00 WIB)
    overdue: bool = False
    mine: str | None = None

    @property
    def active(self) -> bool:
        """Whether anything narrows the list."""
        return bool(self.words or self.stage or self.channel or self.category or self.start is not None
                    or self.end is not None or self.overdue or self.mine)


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise FilterError(f"{name}={value!r}: write the date as YYYY-MM-DD (e.g. 2026-12-05)") from err


def parse(params: Mapping[str, str], *, user: str | None = None) -> Filters:
    """Filters from query parameters (empty ones are ignored); FilterError for a value that is not usable."""
    get = {k: (params.get(k) or "").strip() for k in PARAMS}
    stage = get["stage"] or None
    if stage is not None and stage not in STAGE_ORDER:
        raise FilterError(f"stage={stage!r}: use one of {', '.join(STAGE_ORDER)}")
    start = end = None
    if get["from"]:
        start = datetime.combine(_day(get["from"], "from"), time(), WIB).timestamp()
    if get["to"]:
        end = datetime.combine(_day(get["to"], "to") + timedelta(days=1), time(), WIB).timestamp()
    if start is not None and end is not None and end <= start:
        raise FilterError("from is after to: the range is empty")
    return Filters(words=tuple(get["q"].casefold().split()), stage=stage, channel=get["channel"] or None,
                   category=get["category"] or None, start=start, end=end, overdue=get["overdue"] in ("1", "on"),
                   mine=user if get["mine"] in ("1", "on") else None)


@dataclass(frozen=True)
class Deadlines:
    """Seconds each stage may last (stages not listed have no deadline)."""

    limits: Mapping[str, float]

    def due(self, facts: Facts) -> float | None:
        """Epoch seconds by which the item must leave its stage, or None (also for a report merged into
        another: its stage follows that one's, which carries the deadline)."""
        if getattr(facts, "merged_into", None):
            return None
        limit = self.limits.get(facts.stage)
        if limit is None:
            return None
        since = facts.routed if facts.stage == "menunggu" else facts.stage_since
        return since + limit

    def overdue(self, facts: Facts, now: float) -> bool:
        """Whether the item has stayed in its stage longer than allowed."""
        due = self.due(facts)
        return due is not None and now > due


def matches(facts: Facts, f: Filters, deadlines: Deadlines, now: float) -> bool:
    """Whether one item passes every condition of `f`."""
    if f.stage is not None and facts.stage != f.stage:
        return False
    if f.channel is not None and facts.channel != f.channel:
        return False
    if f.category is not None and facts.category != f.category:
        return False
    if f.start is not None and facts.routed < f.start:
        return False
    if f.end is not None and facts.routed >= f.end:
        return False
    if f.mine is not None and facts.assignee != f.mine:
        return False
    if f.words and not all(w in facts.search for w in f.words):
        return False
    return not f.overdue or deadlines.overdue(facts, now)


def search_text(*parts: str | None) -> str:
    """What text search looks in: the given parts, case-folded, one space apart."""
    return " ".join(" ".join(p.split()) for p in parts if p).casefold()


def select(entries: Iterable[T], f: Filters, deadlines: Deadlines, now: float) -> list[T]:
    """The entries that match, oldest first (sorted by age: the longest-waiting report on top)."""
    found = [e for e in entries if matches(e, f, deadlines, now)]
    found.sort(key=lambda e: e.routed)
    return found


@dataclass(frozen=True)
class ItemFacts:
    """Facts of one item read in full (the inbox CLI's entries), for `matches`."""

    stage: str
    channel: str
    category: str | None
    routed: float
    stage_since: float
    search: str
    assignee: str | None = None


def facts_of(item: RoutedItem, status: StatusUpdate | None, category: str | None = None,
             assignee: str | None = None) -> ItemFacts:
    """The filterable facts of a routed item and its latest status."""
    routed = item.routed_at.timestamp()
    env = item.envelope
    return ItemFacts(stage=status.stage if status is not None else "menunggu", channel=env.channel,
                     category=category or env.category, routed=routed,
                     stage_since=status.at.timestamp() if status else routed,
                     search=search_text(item.ref, env.subject, env.text), assignee=assignee)

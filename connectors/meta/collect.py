"""What the Meta normalisers share: the outcome being built, the account allow-list, Meta's timestamps."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import msgspec

from connectors.spec import Ignored, NormaliseContext, Outcome, Rejected
from schemas import Envelope

T = TypeVar("T")

# `NormaliseContext.account` of a Meta instance is its allow-list: the page / Instagram / phone_number ids it
# serves, comma-separated. "*" (or empty) takes every account (used when an instance lists none).
ANY = "*"


def allowed(account: str) -> frozenset[str] | None:
    """The ids in the context's account string, or None for 'any account'."""
    ids = frozenset(part.strip() for part in account.split(",") if part.strip())
    return None if not ids or ANY in ids else ids


def account_list(ids: frozenset[str]) -> str:
    """The context account string for an instance serving `ids` (the inverse of `allowed`)."""
    return ",".join(sorted(ids)) or ANY


def moment(stamp: int | float | str) -> datetime | None:
    """A Meta timestamp (seconds, milliseconds, digit strings, or ISO 8601 like 2018-12-26T13:00:17+0000), or
    None when it is not a time at all ("asdf", a negative number, a boolean)."""
    if isinstance(stamp, bool):
        return None
    if isinstance(stamp, str):
        text = stamp.strip()
        if not text.isdigit():
            return _iso(text)
        stamp = int(text)
    if stamp < 0:
        return None
    seconds = float(stamp) / 1000 if stamp > 100_000_000_000 else float(stamp)
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _iso(text: str) -> datetime | None:
    try:
        parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")  # Graph's own form, +0000 without a colon
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def when(stamp: int | float | str | None, default: datetime) -> datetime:
    """`moment(stamp)`, or `default` when there is none (used for a batch's `entry.time`)."""
    found = moment(stamp) if stamp is not None else None
    return found or default


def scoped_id(value: int | str | None) -> str | None:
    """A page- or Instagram-scoped user id (digits, as Meta issues them) as a string; None for anything else."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text if text.isdigit() and len(text) <= 40 else None


@dataclass
class Collector:
    """The envelopes, rejections and ignores of one POST, in the order the events appeared."""

    ctx: NormaliseContext
    accounts: frozenset[str] | None
    envelopes: list[Envelope] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)

    def ours(self, account: str, product: str) -> bool:
        """True if this instance serves `account`; otherwise the event is ignored as unknown_account."""
        if self.accounts is None or account in self.accounts:
            return True
        self.ignore("unknown_account", f"{product} account {account} is not configured on this instance")
        return False

    def ignore(self, reason: str, detail: str = "") -> None:
        self.ignored.append(Ignored(reason=reason, detail=detail))

    def reject(self, reason: str, detail: str, data: bytes | msgspec.Raw = b"") -> None:
        self.rejected.append(Rejected(reason=reason, detail=detail, data=bytes(data)))

    def decoded(self, decoder: msgspec.json.Decoder[T], raw: msgspec.Raw, what: str,
                reason: str = "malformed_event") -> T | None:
        """`raw` decoded, or None after dead-lettering it (`reason`, naming `what`) when it does not decode."""
        try:
            return decoder.decode(raw)
        except msgspec.DecodeError as err:
            self.reject(reason, f"{what}: {err}", raw)
            return None

    def each(self, decoder: msgspec.json.Decoder[T], raws: Iterable[msgspec.Raw], what: str,
             reason: str = "malformed_event") -> Iterator[tuple[T, msgspec.Raw]]:
        """Each of `raws` that decodes, with its bytes; the others are dead-lettered (see `decoded`)."""
        for raw in raws:
            found = self.decoded(decoder, raw, what, reason)
            if found is not None:
                yield found, raw

    def created(self, stamp: int | float | str | None, what: str, raw: bytes | msgspec.Raw) -> datetime | None:
        """When `what` was sent: its timestamp, the receive time when Meta sent none, or None after
        dead-lettering it (`invalid_timestamp`) when the timestamp is not a time."""
        if stamp is None:
            return self.ctx.received_at
        found = moment(stamp)
        if found is None:
            self.reject("invalid_timestamp", f"{what}: timestamp {stamp!r} is not a time", raw)
        return found

    def add(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def outcome(self) -> Outcome:
        return Outcome(envelopes=tuple(self.envelopes), rejected=tuple(self.rejected), ignored=tuple(self.ignored))

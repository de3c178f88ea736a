"""What the Meta normalisers share: the outcome being built, the account allow-list, Meta's timestamps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec

from connectors.spec import Ignored, NormaliseContext, Outcome, Rejected
from schemas import Envelope

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


def when(stamp: int | float | str | None, default: datetime) -> datetime:
    """A Meta timestamp (seconds, milliseconds, digit strings, or ISO 8601 like 2018-12-26T13:00:17+0000)."""
    if stamp is None or isinstance(stamp, bool):
        return default
    if isinstance(stamp, str):
        text = stamp.strip()
        if text.isdigit():
            stamp = int(text)
        else:
            try:
                parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")
            except ValueError:
                try:
                    parsed = datetime.fromisoformat(text)
                except ValueError:
                    return default
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    seconds = float(stamp) / 1000 if stamp > 100_000_000_000 else float(stamp)
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return default


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

    def add(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def outcome(self) -> Outcome:
        return Outcome(envelopes=tuple(self.envelopes), rejected=tuple(self.rejected), ignored=tuple(self.ignored))

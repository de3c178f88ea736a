"""Reports from chat fragments: which messages wait for more, when a report closes, and what it holds (pure).

A citizen on WhatsApp, Telegram or SMS writes "pohon tumbang", then sends the pin, then a photo. Chat messages
(direct messages and SMS) from one reporter in one conversation form one report while each came within
`window` of the one before (by `received_at`, the connector's clock) and the report spans less than
`max_hold` from its first fragment. Which fragments make which report is derived from their times alone, so
any delivery order gives the same reports. The report holds the fragments' texts joined in order (by
`created_at`, then envelope id), all their attachments and one location (a pin or venue before a photo's EXIF
before a place read from text; the first of its kind, so a live location gives its first point). Its envelope
id, and so its item id and reference, is the first fragment's: a replay of the same fragments makes the same
report.

The fragments wait in KV (`kanal_conversations`, key `asm.<hash>`) as one `Held` value per reporter's
conversation; the I/O is in router/assembler.py. Nothing here reads a clock: `now` is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec
from msgspec import Struct

from kanal.control import ConversationSettings
from kanal.phone import contact_key
from router.conversations import conversation_key
from router.similarity import digest
from schemas.envelope import Envelope, Location, UtcTime, decode_envelope, encode

CHAT_KINDS = frozenset({"direct_message", "sms"})  # e-mail, posts, comments, forms, walk-ins, news: whole
# A pin the reporter dropped or a venue the provider named beats a photo's EXIF, which beats a place in text.
_LOCATION_RANK = {"gps": 0, "provider": 0, "exif": 1, "text": 2}


@dataclass(frozen=True, slots=True)
class Window:
    """How fragments are held (from `[conversations]`)."""

    window: timedelta
    max_hold: timedelta
    max_fragments: int = 20
    settle: timedelta = timedelta(seconds=1)

    @classmethod
    def of(cls, settings: ConversationSettings) -> Window:
        """The settings' window."""
        return cls(window=settings.window, max_hold=settings.max_hold, max_fragments=max(1, settings.max_fragments))

    @property
    def enabled(self) -> bool:
        """Whether fragments are held at all (`window = "0s"` routes every message at once)."""
        return self.window > timedelta(0)


class Piece(Struct, frozen=True, kw_only=True):
    """One fragment as held: its id and times (what grouping reads), its envelope as received (decoded only
    when its report is routed), and when the router recorded it."""

    id: str
    created_at: UtcTime
    received_at: UtcTime
    seen: UtcTime
    data: msgspec.Raw

    def envelope(self) -> Envelope:
        """The fragment's envelope."""
        return decode_envelope(bytes(self.data))


class Group(Struct, frozen=True, kw_only=True):
    """The fragments of one report, fixed once a router claims it: `claimed_by`/`claimed_at` while a router
    routes it (others leave it alone until the claim is old); after a failed attempt, unclaimed with
    `attempts` counted and `retry_at` set."""

    pieces: tuple[Piece, ...]
    claimed_by: str | None = None
    claimed_at: UtcTime | None = None
    attempts: int = 0  # failed routing attempts, for dead-lettering a report the rules cannot handle
    retry_at: UtcTime | None = None


class Held(Struct, frozen=True, kw_only=True):
    """The KV value of one reporter's conversation: fragments not yet in a report being routed (`pieces`;
    their reports are derived from their times, see `open_groups`) and reports being routed (`fixed`)."""

    pieces: tuple[Piece, ...] = ()
    fixed: tuple[Group, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing held: the key can be deleted."""
        return not self.pieces and not self.fixed


_held = msgspec.json.Decoder(Held)
_encoder = msgspec.json.Encoder()


def decode_held(data: bytes) -> Held:
    """A held value as stored (an empty value is an empty record)."""
    return _held.decode(data) if data else Held()


def encode_held(held: Held) -> bytes:
    """The stored form of a held value."""
    return _encoder.encode(held)


def is_fragment(env: Envelope) -> bool:
    """Whether this message may be part of a report still being written (a chat message or an SMS)."""
    return env.kind in CHAT_KINDS


def holding_key(env: Envelope) -> str:
    """The KV key of the reporter's conversation (a WhatsApp group holds each member's fragments apart)."""
    rep = env.reporter
    who = rep.user_id or (contact_key(rep.contact) if rep.contact else "") or (rep.handle or "").lower()
    return "asm." + digest("asm", conversation_key(env), who or env.external_id)


def ordered(envs: Iterable[Envelope]) -> list[Envelope]:
    """Fragments in report order: provider time, then envelope id (any delivery order gives the same)."""
    return sorted(envs, key=lambda e: (e.created_at, e.id))


def ids(pieces: Iterable[Piece]) -> tuple[str, ...]:
    """The envelope ids of a report's fragments, in report order (its identity while held)."""
    return tuple(p.id for p in sorted(pieces, key=lambda p: (p.created_at, p.id)))


def add(held: Held, env: Envelope, now: datetime, data: bytes | None = None) -> Held:
    """`held` with `env` recorded (`data`: its wire form, if the caller has it). Recording a fragment that is
    already held changes nothing, so a redelivered input is harmless."""
    if any(p.id == env.id for p in held.pieces) or any(p.id == env.id for g in held.fixed for p in g.pieces):
        return held
    piece = Piece(id=env.id, created_at=env.created_at, received_at=env.received_at, seen=now,
                  data=msgspec.Raw(data if data is not None else encode(env)))
    return msgspec.structs.replace(held, pieces=(*held.pieces, piece))


def open_groups(pieces: Iterable[Piece], w: Window) -> list[tuple[Piece, ...]]:
    """The reports the unclaimed fragments make, from their times alone (so any arrival order gives the same):
    in `received_at` order, a fragment joins the report before it when it came within `window` of that
    report's last fragment, less than `max_hold` after its first, and the report has room; else it starts one.
    """
    groups: list[list[Piece]] = []
    for piece in sorted(pieces, key=lambda p: (p.received_at, p.id)):
        at = piece.received_at
        if groups:
            group = groups[-1]
            first, last = group[0].received_at, group[-1].received_at
            if at - last <= w.window and at - first < w.max_hold and len(group) < w.max_fragments:
                group.append(piece)
                continue
        groups.append([piece])
    return [tuple(g) for g in groups]


def due(pieces: Sequence[Piece], w: Window) -> datetime:
    """When a report not yet claimed closes: `window` after its last fragment or `max_hold` after its first,
    whichever is sooner (at once when it is full), but never within `settle` of the router recording its last
    fragment (a router working through a backlog sees the next fragment of the report within that)."""
    recorded = max(p.seen for p in pieces)
    if len(pieces) >= w.max_fragments:
        return recorded
    times = [p.received_at for p in pieces]
    return max(min(max(times) + w.window, min(times) + w.max_hold), recorded + min(w.settle, w.window))


def _fixed_due(group: Group, claim_timeout: timedelta) -> datetime:
    if group.claimed_at is not None:
        return group.claimed_at + claim_timeout  # then another router may take it over
    return group.retry_at or max(p.seen for p in group.pieces)


def next_due(held: Held, w: Window, claim_timeout: timedelta) -> datetime | None:
    """The earliest time a report of `held` may be closed (None when nothing is held)."""
    times = [due(g, w) for g in open_groups(held.pieces, w)] + [_fixed_due(g, claim_timeout) for g in held.fixed]
    return min(times, default=None)


def closable(held: Held, now: datetime, w: Window, claim_timeout: timedelta) -> list[tuple[str, ...]]:
    """The reports (by their fragment ids) a router may claim now."""
    out = [ids(g.pieces) for g in held.fixed if _fixed_due(g, claim_timeout) <= now]
    return out + [ids(g) for g in open_groups(held.pieces, w) if due(g, w) <= now]


def claim(held: Held, group_ids: Sequence[str], owner: str, now: datetime, w: Window) -> tuple[Held, Group | None]:
    """`held` with that report claimed by `owner` (fixed: nothing joins a report being routed), and the
    report; None when it is no longer there as such (another router routed it, or a fragment joined it)."""
    wanted = tuple(group_ids)
    for i, group in enumerate(held.fixed):
        if ids(group.pieces) == wanted:
            group = msgspec.structs.replace(group, claimed_by=owner, claimed_at=now)
            return msgspec.structs.replace(held, fixed=(*held.fixed[:i], group, *held.fixed[i + 1:])), group
    for pieces in open_groups(held.pieces, w):
        if ids(pieces) == wanted:
            group = Group(pieces=pieces, claimed_by=owner, claimed_at=now)
            taken = set(wanted)
            rest = tuple(p for p in held.pieces if p.id not in taken)
            return Held(pieces=rest, fixed=(*held.fixed, group)), group
    return held, None


def release(held: Held, group_ids: Sequence[str]) -> Held:
    """`held` without that report (it was routed)."""
    wanted = tuple(group_ids)
    return msgspec.structs.replace(held, fixed=tuple(g for g in held.fixed if ids(g.pieces) != wanted))


def failed(held: Held, group_ids: Sequence[str], retry_at: datetime) -> Held:
    """`held` with that report's claim given up, one more failed attempt counted, not tried before `retry_at`."""
    wanted = tuple(group_ids)
    return msgspec.structs.replace(held, fixed=tuple(
        msgspec.structs.replace(g, claimed_by=None, claimed_at=None, attempts=g.attempts + 1, retry_at=retry_at)
        if ids(g.pieces) == wanted else g for g in held.fixed))


def _location(envs: Sequence[Envelope]) -> Location | None:
    found = [(i, e.location) for i, e in enumerate(envs) if e.location is not None]
    if not found:
        return None
    return min(found, key=lambda pair: (_LOCATION_RANK.get(pair[1].source, 3), pair[0]))[1]


def assemble(envs: Iterable[Envelope]) -> tuple[Envelope, tuple[str, ...]]:
    """One report from its fragments, and the fragments' ids in report order (any order in, same out).

    The report is the first fragment with the texts of all (non-empty ones, one per line), every attachment,
    the best location, the flags of all, and the first language, category and subject given. A report is
    private if any fragment is, and its reporter anonymous if any fragment asked for that.
    """
    parts = ordered({e.id: e for e in envs}.values())
    if not parts:
        raise ValueError("a report needs at least one fragment")
    first = parts[0]
    if len(parts) == 1:
        return first, (first.id,)
    reporter = first.reporter
    if not reporter.anonymous and any(e.reporter.anonymous for e in parts):
        reporter = msgspec.structs.replace(reporter, anonymous=True)
    report = msgspec.structs.replace(
        first,
        text="\n".join(t for e in parts if (t := e.text.strip())),
        attachments=tuple(a for e in parts for a in e.attachments),
        location=_location(parts),
        reporter=reporter,
        visibility="private" if any(e.visibility == "private" for e in parts) else first.visibility,
        flags=tuple(dict.fromkeys(f for e in parts for f in e.flags)),
        language=next((e.language for e in parts if e.language), None),
        category=next((e.category for e in parts if e.category), None),
        subject=next((e.subject for e in parts if e.subject), None),
    )
    return report, tuple(e.id for e in parts)

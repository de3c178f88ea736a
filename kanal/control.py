"""Messages that are not complaints: opt-out/opt-in words, status questions, greetings and thanks.

One pure classification, read by the router (no item for these) and the notifier (it answers a status
question and records opt-outs). The words come from `[outbound]` (opt-out/opt-in, which the notifier has
always honoured) and `[conversations]` (status words, no-complaint phrases).
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec
from msgspec import Struct

from kanal.references import normalise_ref
from kanal.settings_types import Duration
from schemas.envelope import Envelope

ControlKind = Literal["opt_out", "opt_in", "status", "no_complaint"]
CONTROL_KINDS: tuple[ControlKind, ...] = ("opt_out", "opt_in", "status", "no_complaint")
# Forms and walk-ins are deliberate reports; news articles are not messages to Kanal.
_NEVER_CONTROL = frozenset({"report", "walk_in", "article"})

# A message of a reference and only these words is a status question ("sudah sampai mana laporan KNL-...?").
DEFAULT_STATUS_WORDS = ["status", "cek", "check", "lacak", "bagaimana", "gimana", "laporan", "nomor", "no", "info",
                        "saya", "apa", "kabar", "sudah", "sampai", "mana", "mohon", "tolong", "min", "kak", "pak",
                        "bu"]
DEFAULT_NO_COMPLAINT = [
    "halo", "hai", "hi", "hallo", "hello", "p", "ping", "tes", "test", "assalamualaikum",
    "selamat pagi", "selamat siang", "selamat sore", "selamat malam", "pagi", "siang", "sore", "malam",
    "terima kasih", "terimakasih", "makasih", "trims", "thanks", "thank you", "ok", "oke", "okay", "baik", "siap",
    "sip", "mantap",
]


DEFAULT_OPT_OUT = ["STOP", "BERHENTI", "UNSUBSCRIBE"]
DEFAULT_OPT_IN = ["START", "MULAI"]


class OptWords(Struct, frozen=True, kw_only=True):
    """`[outbound]`'s opt-out and opt-in words, as the router reads them (the notifier reads the whole section)."""

    opt_out_words: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_OPT_OUT))
    opt_in_words: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_OPT_IN))


class ConversationSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[conversations]`: which messages are not complaints, and how long they stay recorded."""

    keep: Duration = Duration(days=90)  # how long control messages stay recorded on their conversation
    # Chat fragments (router/assembly.py): the quiet time that closes a report ("0s": every message is routed
    # at once), the longest a report is held from its first fragment, and the most fragments one report takes.
    window: Duration = Duration(0)
    max_hold: Duration = Duration(minutes=15)
    max_fragments: int = 20
    status_words: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_STATUS_WORDS))
    # whole messages (any case; punctuation and emoji ignored) that are not complaints
    no_complaint: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_NO_COMPLAINT))
    # a chat report with no place is answered with a request for its location; a pin, a venue or a place
    # named within this time completes it (router/prompts.py); "0s": never asked
    location_wait: Duration = Duration(hours=24)


class Control(Struct, frozen=True, kw_only=True):
    """What a non-complaint message is; `ref` for a status question."""

    kind: ControlKind
    ref: str | None = None


class ControlWords(Struct, frozen=True, kw_only=True):
    """The word lists, compared in `words()` form."""

    opt_out: frozenset[str]
    opt_in: frozenset[str]
    status: frozenset[str]
    no_complaint: frozenset[str]


_REF_IN = re.compile(r"\bKNL[\s-]?([0-9A-Z]{4})[\s-]?([0-9A-Z]{4})[\s-]?([0-9A-Z]{4})\b", re.IGNORECASE)


# A run of letters and digits (Unicode categories L* and N*: `\w` without the underscore), found in C, not one
# `unicodedata` call per character: every text-only envelope passes here, most of them ~1 KB complaints.
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> str:
    """Lowercase letters and digits, single spaces: punctuation, emoji and symbols dropped."""
    return " ".join(_WORD.findall(text.casefold()))


def control_words(settings: ConversationSettings, opt_out: list[str], opt_in: list[str]) -> ControlWords:
    """The lists as `classify` compares them."""
    return ControlWords(opt_out=frozenset(map(words, opt_out)), opt_in=frozenset(map(words, opt_in)),
                        status=frozenset(map(words, settings.status_words)),
                        no_complaint=frozenset(map(words, settings.no_complaint)))


def find_ref(text: str) -> str | None:
    """The first report reference in a text (KNL-7Q1Z-BE3A-0MTP, any case, spaces for dashes), or None."""
    if "knl" not in text.lower():  # the case-blind search costs ~12 µs on a 1 KB complaint; this ~1 µs
        return None
    for match in _REF_IN.finditer(text):
        ref = normalise_ref("KNL-" + "-".join(match.groups()))
        if ref is not None:
            return ref
    return None


def classify(env: Envelope, lists: ControlWords) -> Control | None:
    """The control kind of a message, or None when it may be (part of) a complaint.

    Only a message with nothing but text counts: a photo or a pin captioned "terima kasih" is content.
    """
    if env.kind in _NEVER_CONTROL or env.attachments or env.location is not None:
        return None
    said = words(env.text)
    if not said:
        return Control(kind="no_complaint")  # emoji, punctuation or nothing at all
    if said in lists.opt_out:
        return Control(kind="opt_out")
    if said in lists.opt_in:
        return Control(kind="opt_in")
    ref = find_ref(env.text)
    if ref is not None:
        rest = words(_REF_IN.sub(" ", env.text))
        if not rest or rest in lists.status or all(w in lists.status for w in rest.split()):
            return Control(kind="status", ref=ref)
        return None
    if said in lists.no_complaint:
        return Control(kind="no_complaint")
    return None

"""Typos in place names: a deletion-neighbourhood index proposes names, rapidfuzz's edit distance decides.

The bound scales with the name's length (`max_edits`): names under 6 letters never match fuzzily (too many
ordinary words lie one letter from "Koja" or "Slipi"), up to 10 letters one edit, longer two. An edit is an
insertion, deletion, substitution or swap of two neighbouring letters (rapidfuzz's OSA distance).
Candidates come from the index in a few dictionary look-ups: every name under its 1-deletions (and
2-deletions for long names); a query is looked up with its 1-deletions. That finds every name within one
edit and, for long names, those missing up to two letters or with one edit besides a deletion, as long as
its first or last three letters are intact (a cheap test that turns down most ordinary words first).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from msgspec import Struct
from rapidfuzz.distance import OSA

MIN_LETTERS = 6
LONG_LETTERS = 11


def max_edits(letters: int) -> int:
    """How many edits a name of this many letters may carry and still be recognised."""
    if letters < MIN_LETTERS:
        return 0
    return 1 if letters < LONG_LETTERS else 2


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class FuzzyHit(Struct, frozen=True, kw_only=True):
    """The name key a query was read as, the edits between them and rapidfuzz's similarity (0-100)."""

    key: str
    edits: int
    score: float


class FuzzyIndex:
    """Name keys (letters and digits, no spaces) -> the one key a misspelt query most likely means."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys = frozenset(k for k in keys if max_edits(len(k)) > 0)
        # One edit leaves a name's first three or last three letters intact: a query sharing neither with any
        # name is turned down before its deletions are made (most windows of ordinary words).
        self.heads = frozenset(k[:3] for k in self.keys)
        self.tails = frozenset(k[-3:] for k in self.keys)
        self.longest = max(map(len, self.keys), default=0)  # a longer query is more than two edits from any name
        self.near: dict[str, set[str]] = {}
        for key in self.keys:
            forms = {key} | _deletions(key)
            if max_edits(len(key)) > 1:
                forms |= {d2 for d1 in _deletions(key) for d2 in _deletions(d1)}
            for form in forms:
                self.near.setdefault(form, set()).add(key)

    def may_match(self, words: Sequence[str]) -> bool:
        """False when the words joined share neither their first nor their last three letters with any name, so
        `lookup` would turn them down: tested without joining them (most windows of ordinary words)."""
        first, last = words[0], words[-1]
        return len(first) < 3 or len(last) < 3 or first[:3] in self.heads or last[-3:] in self.tails

    def lookup(self, query: str) -> FuzzyHit | tuple[FuzzyHit, ...] | None:
        """The nearest key within its bound; a tuple when two keys are equally near (ambiguous); else None."""
        if not MIN_LETTERS - 1 <= len(query) <= self.longest + 2 or query in self.keys or (
                query[:3] not in self.heads and query[-3:] not in self.tails):
            return None
        candidates: set[str] = set()
        for form in {query} | _deletions(query):
            found = self.near.get(form)
            if found:
                candidates |= found
        best: list[FuzzyHit] = []
        for key in candidates:
            bound = max_edits(len(key))
            edits = OSA.distance(query, key, score_cutoff=bound)
            if edits > bound:
                continue
            hit = FuzzyHit(key=key, edits=edits,
                           score=round(100 * OSA.normalized_similarity(query, key), 1))
            if not best or edits < best[0].edits:
                best = [hit]
            elif edits == best[0].edits:
                best.append(hit)
        if not best:
            return None
        return best[0] if len(best) == 1 else tuple(sorted(best, key=lambda h: h.key))

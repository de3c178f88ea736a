"""Typos in place names: a deletion-neighbourhood index proposes names, rapidfuzz's edit distance decides.

The bound scales with the length of the name's own part (a landmark's "Stasiun"/"Pasar" does not count) and
with what stands before the words (`Mode`): after a word that introduces a place ("di", "dekat": `cue`)
names under 6 letters never match fuzzily (too many ordinary words lie one letter from "Koja" or "Slipi"),
up to 10 letters one edit, longer two; right after "kel."/"kec." (`marker`) names of 4-5 letters may carry
one edit too; anywhere else (`bare`) names under 8 letters never match ("melawan" is one letter from
Melawai), up to 12 letters one edit, longer two. An edit is an insertion, deletion, substitution or swap of
two neighbouring letters (rapidfuzz's OSA distance).
Candidates come from the index in a few dictionary look-ups: every name under its 1-deletions (and
2-deletions for long names); a query is looked up with its 1-deletions. That finds every name within one
edit and, for long names, those missing up to two letters or with one edit besides a deletion, as long as
its first or last three letters are intact (a cheap test that turns down most ordinary words first).
Chat style drops vowels ("ptmburan", "kbyrn"): a query that is a name with only vowels taken out (its first
letter kept, 4 consonants or more; 5 with no cue) is read as that name, the vowels counted as edits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from msgspec import Struct
from rapidfuzz.distance import OSA

Mode = Literal["cue", "marker", "bare", "start"]
MIN_LETTERS = 6
LONG_LETTERS = 11
MARKER_LETTERS = 4  # after "kel."/"kec." a name of 4-5 letters may carry one edit
BARE_LETTERS, BARE_LONG = 8, 13  # with no word before it that introduces a place
START_LETTERS = 7  # at the text's first word (chat puts the place first)
_NO_VOWELS = str.maketrans("", "", "aeiou")


def max_edits(letters: int, mode: Mode = "cue") -> int:
    """How many edits a name of this many letters may carry and still be recognised."""
    if mode == "bare":
        return 0 if letters < BARE_LETTERS else 1 if letters < BARE_LONG else 2
    if mode == "start":  # the text's first words: one edit from 7 letters ("kemana" is not Kemang), two as `bare`
        return 0 if letters < START_LETTERS else 1 if letters < BARE_LONG else 2
    if letters < MIN_LETTERS:
        return 1 if mode == "marker" and letters >= MARKER_LETTERS else 0
    return 1 if letters < LONG_LETTERS else 2


def vowelless(word: str) -> str:
    """The word without vowels after its first letter ("petamburan" -> "ptmbrn")."""
    return word[:1] + word[1:].translate(_NO_VOWELS)


def vowels_dropped(query: str, key: str) -> bool:
    """True when `query` is `key` with some vowels taken out and nothing else changed."""
    i = 0
    for ch in key:
        if i < len(query) and query[i] == ch:
            i += 1
        elif ch not in "aeiou":
            return False
    return i == len(query)


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class FuzzyHit(Struct, frozen=True, kw_only=True):
    """The name key a query was read as, the edits between them and rapidfuzz's similarity (0-100)."""

    key: str
    edits: int
    score: float


class FuzzyIndex:
    """Name keys (letters and digits, no spaces) -> the one key a misspelt query most likely means.

    `letters`: a key's own letters where they differ from its length ("stasiunmanggarai" -> 9, "manggarai").
    """

    def __init__(self, keys: Iterable[str], letters: Mapping[str, int] | None = None) -> None:
        own = dict(letters or {})
        self.letters = {k: own.get(k, len(k)) for k in keys}
        self.letters = {k: n for k, n in self.letters.items() if max_edits(n, "marker") > 0}
        self.keys = frozenset(self.letters)
        # One edit leaves a name's first three or last three letters intact: a query sharing neither with any
        # name is turned down before its deletions are made (most windows of ordinary words).
        self.heads = frozenset(k[:3] for k in self.keys)
        self.tails = frozenset(k[-3:] for k in self.keys)
        self.longest = max(map(len, self.keys), default=0)  # a longer query is more than two edits from any name
        near: dict[str, set[str]] = {}
        skeletons: dict[str, set[str]] = {}
        for key, n in self.letters.items():
            skeletons.setdefault(vowelless(key), set()).add(key)
            forms = {key} | _deletions(key)
            if max_edits(n) > 1:
                forms |= {d2 for d1 in _deletions(key) for d2 in _deletions(d1)}
            for form in forms:
                near.setdefault(form, set()).add(key)
        # tuples of strings: the garbage collector stops tracking them (~100,000 sets it would walk each time)
        self.near = {form: tuple(keys) for form, keys in near.items()}
        self.skeletons = {form: tuple(keys) for form, keys in skeletons.items()}

    def may_match(self, words: Sequence[str]) -> bool:
        """False when the words joined share neither their first nor their last three letters with any name, so
        `lookup` would turn them down: tested without joining them (most windows of ordinary words)."""
        first, last = words[0], words[-1]
        return len(first) < 3 or len(last) < 3 or first[:3] in self.heads or last[-3:] in self.tails

    def lookup(self, query: str, mode: Mode = "cue") -> FuzzyHit | tuple[FuzzyHit, ...] | None:
        """The nearest key within its bound; a tuple when two keys are equally near (ambiguous); else None."""
        if not MARKER_LETTERS - 1 <= len(query) <= self.longest + 2 or query in self.keys or (
                query[:3] not in self.heads and query[-3:] not in self.tails):
            return None
        candidates: set[str] = set()
        for form in {query} | _deletions(query):
            found = self.near.get(form)
            if found:
                candidates.update(found)
        best: list[FuzzyHit] = []
        for key in candidates:
            bound = max_edits(self.letters[key], mode)
            if bound == 0:
                continue
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
            best = self._without_vowels(query, mode)
        if not best:
            return None
        return best[0] if len(best) == 1 else tuple(sorted(best, key=lambda h: h.key))

    def _without_vowels(self, query: str, mode: Mode) -> list[FuzzyHit]:
        skeleton = vowelless(query)
        if len(skeleton) < (5 if mode in ("bare", "start") else 4):
            return []
        return [FuzzyHit(key=key, edits=len(key) - len(query),
                         score=round(100 * OSA.normalized_similarity(query, key), 1))
                for key in sorted(self.skeletons.get(skeleton, ()))
                if len(key) > len(query) and max_edits(self.letters[key], mode) > 0 and vowels_dropped(query, key)]

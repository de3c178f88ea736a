"""Misspelt places in complaint text: where a typo is looked for, how strictly, and what counts as one.

A typo is looked for only when no kelurahan was found exactly, in windows of 1-4 words that start
- right after a word that introduces a place ("di", "dekat", "depan" ...: the `cue` bound of router/fuzzy.py)
  or after "kel."/"kec." (`marker`: names of 4-5 letters may carry one edit too);
- at the text's first word, where chat puts the place ("pekojam air pam mati": `start`, names of 7 letters on);
- anywhere else at a word that may begin a misspelt name (`bare`, the strictest bound): the first word of a
  name ("kebon" in "kebon jeurk") or that word with one slip of the thumb (a letter dropped, doubled, swapped
  with its neighbour, a wrong vowel, a neighbouring key: "jtinegara", "cipnang"). These words are marked
  when the gazetteer is built, so finding them costs nothing beyond the one pass over the words it makes.
A window is read as a name only if it holds a word that is not an ordinary one ("kebun kosong" is an empty
plot, not Kebon Kosong; "pancaran" a jet of water), unless 8 or more letters of the name stand in it as
written ("kedaung kalo angke"). A typo never crosses a kecamatan or kota the text names exactly.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING

from router.fuzzy import FuzzyHit, FuzzyIndex, Mode
from router.places import (
    COMMON_NOUNS,
    CUES,
    FUZZY_STOP,
    KECAMATAN_MARKERS,
    KELURAHAN_MARKERS,
    VOWELS,
    Landmark,
    area_start,
    ordinary_words,
)

if TYPE_CHECKING:
    from router.gazetteer import Gazetteer, PlaceMatch

WINDOW = 4  # words: "taman mini indonesia indah"
DOUBLED_LETTERS = 5  # a one-word name this long is read with a letter typed twice even with no cue
KEPT_LETTERS = 8  # a window of ordinary words is still a typo if this many of the name's letters stand in it
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard() -> dict[str, str]:
    """Each letter -> the keys beside it on a phone's QWERTY keyboard (same row, and the rows above/below)."""
    near: dict[str, str] = {}
    for r, row in enumerate(_ROWS):
        for c, ch in enumerate(row):
            keys = [row[k] for k in (c - 1, c + 1) if 0 <= k < len(row)]
            for other in (_ROWS[r - 1] if r else "", _ROWS[r + 1] if r + 1 < len(_ROWS) else ""):
                keys += [other[k] for k in (c - 1, c) if 0 <= k < len(other)]
            near[ch] = "".join(keys)
    return near


NEAR_KEYS = _keyboard()


def slips(word: str) -> set[str]:
    """The word with one slip: a letter dropped, doubled or swapped with the next, a wrong vowel, a key beside
    the right one (the first letter is kept: people rarely miss it)."""
    out: set[str] = set()
    for i in range(1, len(word)):
        ch = word[i]
        out.add(word[:i] + word[i + 1:])
        out.add(word[:i] + ch + word[i:])
        if i + 1 < len(word):
            out.add(word[:i] + word[i + 1] + ch + word[i + 2:])
        swaps = (VOWELS - {ch}) if ch in VOWELS else set()
        for other in swaps | set(NEAR_KEYS.get(ch, "")):
            out.add(word[:i] + other + word[i + 1:])
    out.discard(word)
    return out


def doubled(word: str) -> set[str]:
    """The word with one of its letters typed twice ("grogool", "tebett")."""
    return {word[:i] + word[i] + word[i:] for i in range(1, len(word))}


def undoubled(word: str) -> set[str]:
    """What the word was if one of its doubled letters was typed twice by mistake."""
    return {word[:i] + word[i + 1:] for i in range(1, len(word)) if word[i] == word[i - 1]}


def head_words(names: Iterable[tuple[Sequence[str], int]]) -> frozenset[str]:
    """Words where a misspelt name may begin with no cue before it, from each name's words and own letters:
    its first word (the typo may come later) and, for first words of 5 letters or more, its slips; a
    one-word name of 5-7 letters only with a letter doubled (see `double_typed`)."""
    ordinary = ordinary_words()
    heads: set[str] = set()
    for words, letters in names:
        if len(words) == 1 and DOUBLED_LETTERS <= letters < 8 and words[0] not in ordinary:
            heads |= doubled(words[0]) - ordinary
        if letters < 8 or not words:  # the bare bound: shorter names are never read as typos without a cue
            continue
        first = words[0]
        if len(words) > 1 and len(first) >= 2:
            heads.add(first)
        if len(first) >= 5:
            heads |= slips(first) - ordinary
    return frozenset(heads - (FUZZY_STOP - {w for words, _ in names for w in words[:1]}))


def plausible(window: Sequence[str], spelled: Collection[str]) -> bool:
    """A window is a typo of a name written with `spelled` words only if a changed word is no ordinary word,
    or enough of the name stands in it as written."""
    changed = [w for w in window if w not in spelled]
    if not changed:
        return True
    ordinary = ordinary_words()
    if any(not is_ordinary(w, ordinary) for w in changed):
        return True
    return sum(len(w) for w in window if w in spelled) >= KEPT_LETTERS


def is_ordinary(word: str, ordinary: Collection[str]) -> bool:
    """An ordinary word, or one with the suffix "-nya" ("its": "pasarnya" is its market, not Pasaraya)."""
    return word in ordinary or (word.endswith("nya") and word[:-3] in ordinary)


def starts(tokens: Sequence[str], cues: Sequence[int], heads: Sequence[int], named: Sequence[int] = (),
           skip: Collection[str] = ()) -> list[tuple[int, Mode]]:
    """Where windows start, with their bound: after each cue, at each head word, and one or two words before
    a kecamatan or kota found exactly (`named`: "roortan, jakut", "grogoo kec. grogol petamburan"; what
    is found there must lie inside it; not at a word in `skip`). Where two apply, the looser bound."""
    looser = {"bare": 0, "start": 1, "cue": 2, "marker": 3}
    out: dict[int, Mode] = {}

    def add(j: int, mode: Mode) -> None:
        if j not in out or looser[mode] > looser[out[j]]:
            out[j] = mode

    for i in cues:
        add(i + 1, "marker" if tokens[i] in KELURAHAN_MARKERS or tokens[i] in KECAMATAN_MARKERS else "cue")
    for i in heads:
        add(i, "bare")
    if tokens and tokens[0] not in skip:
        add(0, "start")  # chat puts the place first: "pekojam air pam mati 2 hari"
    for area in named:
        at = area_start(tokens, area)
        for j in (at - 2, at - 1):
            if j >= 0 and tokens[j] not in skip:
                add(j, "marker")  # as strong as "kel.": an address names the kelurahan, then its kecamatan
    return sorted(out.items())


def misspelt(gaz: Gazetteer, tokens: Sequence[str], found: Sequence[PlaceMatch],
             cues: Sequence[int], heads: Sequence[int]) -> tuple[list[PlaceMatch], list[str]]:
    """Names with a typo in the windows `starts` gives; never outside a kecamatan/kota the text names."""
    index = gaz.fuzzy
    assert index is not None
    named = [m for m in found if m.names_area]
    within = [m.place.code for m in named]
    out: list[PlaceMatch] = []
    notes: list[str] = []
    spans = [(m.at, m.at + len(m.phrase.split())) for m in found]
    taken = {i for a, b in spans for i in range(a, b)}
    breaks = gaz.breaks

    for j, mode in starts(tokens, cues, heads, [m.at for m in named], gaz.no_typo):
        if j in taken or j >= len(tokens):
            continue
        end = j + 1  # the longest window ends before an ordinary word no name holds
        while end < min(j + WINDOW, len(tokens)) and tokens[end] not in breaks:
            end += 1
        for n in range(end - j, 0, -1):
            # a window may hold a whole name found exactly ("grbang tol cakung"), not part of one
            if spans and any(a < j + n < b for a, b in spans):
                continue
            window = tokens[j : j + n]
            if gaz.name_words.issuperset(window):  # every word spelt right: no typo to read here
                continue
            if not index.may_match(window):
                continue
            hit = same_place(gaz, index.lookup("".join(window), mode))
            if hit is None and n == 1:
                hit = double_typed(gaz, window[0])
            if hit is None:
                continue
            phrase = " ".join(window)
            if isinstance(hit, tuple):
                notes.append(f"{phrase!r} is as near to " + " as to ".join(gaz.name_of(h.key) for h in hit) +
                             ": not guessed")
                break
            if not plausible(window, gaz.spelled.get(hit.key, ())):
                continue
            match = gaz.match_key(hit.key, phrase, tokens[j - 1] if j else None, j, hit)
            if match is None:
                break
            if within and not any(match.place.code.startswith(code) for code in within):
                notes.append(f"{phrase!r} looks like {match.place.level} {match.place.name}, which lies "
                             "outside the kecamatan/kota the text names: not taken")
                break
            out.append(match)
            taken.update(range(j, j + n))
            spans.append((j, j + n))
            break
    return out, notes


def double_typed(gaz: Gazetteer, word: str) -> FuzzyHit | None:
    """A one-word name of 5 letters or more with one letter typed twice ("grogool", "tebett"), read with any
    bound or none: no ordinary word is a name with a doubled letter, and names that are words are left out."""
    index = gaz.fuzzy
    assert index is not None
    ordinary = ordinary_words()
    found = [key for key in undoubled(word) if index.letters.get(key, 0) >= DOUBLED_LETTERS
             and key not in ordinary and key not in gaz.landmarks]
    if len(found) != 1 or word in ordinary:
        return None
    return FuzzyHit(key=found[0], edits=1, score=round(100 * (1 - 1 / len(word)), 1))


def same_place(gaz: Gazetteer, hit: FuzzyHit | tuple[FuzzyHit, ...] | None) -> FuzzyHit | tuple[FuzzyHit, ...] | None:
    """Equally near keys that name one place or landmark ("Taman Menteng", "Tmn Menteng") are no tie."""
    if not isinstance(hit, tuple):
        return hit
    places = {gaz.landmarks[h.key][0].name if h.key in gaz.landmarks else tuple(gaz.places[h.key]) for h in hit}
    return max(hit, key=lambda h: h.score) if len(places) == 1 else hit


def within(found: list[PlaceMatch]) -> tuple[list[PlaceMatch], list[str]]:
    """Drop what was read as a typo or another spelling outside the kecamatan/kota the text names exactly."""
    named = [m.place.code for m in found if m.names_area]
    if not named:
        return found, []
    kept: list[PlaceMatch] = []
    notes: list[str] = []
    for m in found:
        if m.edits is not None and not any(m.place.code.startswith(code) for code in named):
            notes.append(f"{m.phrase!r} looks like {m.place.level} {m.place.name}, which lies outside the "
                         "kecamatan/kota the text names: not taken")
        else:
            kept.append(m)
    return kept, notes


def longer(gaz: Gazetteer, match: PlaceMatch, tokens: Sequence[str]) -> PlaceMatch:
    """"Jelambar Bru", "Cipinang Besar Slatan", "Tman Menteng": a name found exactly may be part of a longer,
    misspelt one, with one or two words after it or one before it."""
    index = gaz.fuzzy
    assert index is not None
    if match.edits is not None:
        return match
    at, end = match.at, match.at + len(match.phrase.split())
    stop = FUZZY_STOP | gaz.cue_words
    tries = [(at, end + n) for n in (2, 1) if end + n <= len(tokens) and stop.isdisjoint(tokens[end:end + n])]
    if at > 0 and tokens[at - 1] not in stop:
        tries.append((at - 1, end))
    for a, b in tries:
        window = tokens[a:b]
        hit = same_place(gaz, index.lookup("".join(window)))
        if not isinstance(hit, FuzzyHit) or not plausible(window, gaz.spelled.get(hit.key, ())):
            continue
        grown = gaz.match_key(hit.key, " ".join(window), tokens[a - 1] if a > 0 else None, a, hit)
        if grown is not None:
            return grown
    return match


def index(gaz: Gazetteer, names: Sequence[str], marks: Iterable[Landmark]) -> None:
    """Give `gaz` its typo index over names and landmarks (a landmark's bound counts its own letters:
    "Stasiun Manggarai" has 9), the words each is written with, and the words a misspelt one may begin with."""
    from router.gazetteer import key_of, normalise  # the gazetteer imports this module

    letters: dict[str, int] = {}
    sources: list[tuple[list[str], int]] = []
    for name in [*names, *(n for lm in marks for n in lm.names)]:
        key, words = key_of(name), normalise(name)
        if key in gaz.need_marker or key in gaz.written:
            continue
        own = words[1:] if key in gaz.landmarks and words[0] in COMMON_NOUNS else words  # "stasiun"
        if not own:
            continue
        letters[key] = len("".join(own))
        gaz.spelled[key] = tuple(dict.fromkeys((*gaz.spelled.get(key, ()), *words)))
        sources.append((words, letters[key]))
    gaz.fuzzy = FuzzyIndex(letters, letters)
    gaz.name_words = frozenset(w for words, _ in sources for w in words)
    gaz.breaks = (FUZZY_STOP | ordinary_words()) - gaz.name_words
    gaz.no_typo = CUES | (gaz.breaks - {words[0] for words, _ in sources})
    gaz.heads = head_words(sources)

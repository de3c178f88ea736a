"""Indonesian complaint text as people write it -> the words the category cues are written in. Pure, no I/O.

Steps per word: lowercase letters and digits only; runs of 3+ equal letters shortened ("bangettt" -> "banget");
reduplication written with a 2 dropped ("rumah2" -> "rumah"; "gorong-gorong" splits into two equal words, and
a word repeated at once is kept once); informal words and abbreviations replaced from the synonyms table
("jln" -> "jalan", "gk" -> "tidak", "udh" -> "sudah"); stop words dropped; then affixes (di-, ter-, ke-...-an,
me-/pe- with their nasal forms, ber-, se-, -nya, -kan, -i, -an, informal nge-/ng-) are stripped only when what
remains is a word the cues use ("kebanjiran" -> "banjir", "pemangkasan" -> "pangkas"), so ordinary words are
never mangled into false cues.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_WORD = re.compile(r"[a-z0-9]+")
# ASCII -> lowercase letters and digits, everything else a space: `_WORD.findall(text.lower())` for ASCII text.
_ASCII_WORDS = bytes(ord(chr(i).lower()) if chr(i).lower() in "abcdefghijklmnopqrstuvwxyz0123456789" else ord(" ")
                     for i in range(128)) + b" " * 128
_RUN = re.compile(r"([a-z])\1{2,}")
_DOUBLE = re.compile(r"([a-z])\1")
_REDUP = re.compile(r"^([a-z]{2,})2$")

_SUFFIXES = ("nya", "lah", "kah", "kan", "an", "i")
# prefix -> the stem's first letters it may have swallowed ("" = none): me-/pe- drop p/t/k/s after a nasal.
_PREFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("meng", ("", "k")), ("peng", ("", "k")), ("meny", ("s",)), ("peny", ("s",)),
    ("mem", ("", "p")), ("pem", ("", "p")), ("men", ("", "t")), ("pen", ("", "t")),
    ("nge", ("",)), ("ng", ("", "k")), ("ny", ("s",)),
    ("me", ("",)), ("pe", ("",)), ("ber", ("",)), ("be", ("",)), ("per", ("",)), ("ter", ("",)),
    ("di", ("",)), ("ke", ("",)), ("se", ("",)),
)


class Normaliser:
    """Words of a text in the cues' vocabulary; per-word results are remembered (bounded)."""

    def __init__(self, synonyms: Mapping[str, str], stopwords: Iterable[str], vocabulary: Iterable[str],
                 cache_size: int = 50_000) -> None:
        self.synonyms = dict(synonyms)
        self.stopwords = frozenset(stopwords)
        self.vocabulary = frozenset(vocabulary)
        self._cache: dict[str, str] = {}  # raw word -> its normal form, "" for a stop word
        self._cache_size = cache_size

    def words(self, text: str, plain: bool = False) -> list[str]:
        """The text's words after every step, in order; stop words gone, immediate repeats kept once.

        `plain`: the text is lowercase letters and digits separated by spaces already (`router.gazetteer.plain`).
        """
        if plain:
            tokens = text.split()
        elif text.isascii():  # the bytes table does in one pass what the regular expression does per word
            tokens = text.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split()
        else:
            tokens = _WORD.findall(text.lower())
        out: list[str] = []
        cache = self._cache
        last = None
        for raw in tokens:
            word = cache.get(raw)
            if word is None:
                if len(cache) >= self._cache_size:
                    cache.clear()
                word = cache[raw] = self.word(raw) or ""  # "" = a stop word
            if word and word != last:
                out.append(word)
                last = word
        return out

    def word(self, raw: str) -> str | None:
        """One lowercase word -> its normal form, or None for a stop word."""
        word = _RUN.sub(r"\1", raw)
        redup = _REDUP.match(word)
        if redup:
            word = redup.group(1)
        word = self.synonyms.get(word, word)
        if word in self.stopwords:
            return None
        if word in self.vocabulary:
            return word
        stem = self.stem(word)
        if stem is None and _DOUBLE.search(word):  # "mampett", "bauu": a doubled letter of emphasis
            single = _DOUBLE.sub(r"\1", word)
            single = self.synonyms.get(single, single)
            stem = single if single in self.vocabulary else self.stem(single)
        return stem if stem is not None else word

    def stem(self, word: str) -> str | None:
        """The word without affixes, if that is a cue word (or a synonym of one); None otherwise."""
        for base in _without_suffix(word):
            if base is not word and (found := self._known(base)) is not None:
                return found
            for prefix, restore in _PREFIXES:
                if base.startswith(prefix) and len(base) - len(prefix) >= 3:
                    rest = base[len(prefix):]
                    for letter in restore:
                        if (found := self._known(letter + rest)) is not None:
                            return found
                    if prefix in ("ke", "ter", "di", "ber", "se", "per"):  # ke-...-an with a second prefix
                        for inner in _without_suffix(rest):
                            if (found := self._known(inner)) is not None:
                                return found
        return None

    def _known(self, candidate: str) -> str | None:
        candidate = self.synonyms.get(candidate, candidate)
        return candidate if candidate in self.vocabulary else None


def _without_suffix(word: str) -> list[str]:
    """The word, then without each suffix (and -nya then -an/-kan/-i), longest stems first."""
    out = [word]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            out.append(base)
            if suffix == "nya":
                out.extend(base[: -len(s)] for s in ("kan", "an", "i") if base.endswith(s) and len(base) - len(s) >= 3)
    return out

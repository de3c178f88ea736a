"""What a report is about: a category from its text, with a confidence and the cues that decided. Pure.

The city edits the data file (deploy/rules/categories.toml), not this code: per category a label in
Indonesian and English and weighted cues (words or phrases, written as people write them); shared synonyms
for informal words and abbreviations; stop words; the threshold under which a report is `lainnya`.

How it decides (docs/categories.md): the text is normalised (router/textnorm.py) and each cue found in it
adds its weight to its category once (a cue may carry a negative weight to take a category back, e.g.
"lampu lalu lintas" for street lights). The highest score wins, ties going to the category listed first.
confidence = min(1, best / full_score) * (0.5 + 0.5 * (best - runner_up) / best): strong cues and a clear
lead both count. Below `threshold` (or with no cue at all) the category is the fallback, `lainnya`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import msgspec
from msgspec import Meta, Struct

from kanal.tomlfile import read_toml
from router.textnorm import Normaliser

CategoryId = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
MAX_PHRASE = 4


class CategoriesError(ValueError):
    """The categories file cannot be used; the message names the category or cue and what to change."""


class CategorySpec(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One category as the city writes it."""

    id: CategoryId
    label_id: Annotated[str, Meta(min_length=1)]
    label_en: Annotated[str, Meta(min_length=1)]
    cues: dict[str, float] = {}


class CategoriesFile(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The data file's top level."""

    version: Literal[1] = 1
    threshold: Annotated[float, Meta(ge=0.0, le=1.0)] = 0.3
    full_score: Annotated[float, Meta(gt=0.0)] = 4.0
    fallback: CategoryId = "lainnya"
    synonyms: dict[str, str] = {}
    stopwords: list[str] = []
    category: list[CategorySpec]


class Category(NamedTuple):
    """A report's category, how sure the classifier is (0..1) and the cues that decided it."""

    id: str
    confidence: float
    cues: tuple[str, ...]


@dataclass(frozen=True, slots=True, eq=False)  # compared by identity: each cue counts once
class _Cue:
    text: str  # as written in the data file
    weights: tuple[tuple[int, float], ...]  # (category index, weight)
    positive: frozenset[int]  # the categories it speaks for


class Classifier:
    """A loaded, validated categories file; `classify(text)` is pure and fast (~10-30 us a report)."""

    def __init__(self, spec: CategoriesFile, source: str = "<memory>", threshold: float | None = None) -> None:
        self.spec = spec
        self.source = source
        self.threshold = spec.threshold if threshold is None else threshold
        if not 0.0 <= self.threshold <= 1.0:
            raise CategoriesError(f"categories threshold {self.threshold} is outside 0..1")
        self.ids = tuple(c.id for c in spec.category)
        self.labels = {c.id: (c.label_id, c.label_en) for c in spec.category}
        self.fallback = spec.fallback
        self.normaliser = _cue_normaliser(spec)
        phrases: dict[tuple[str, ...], dict[int, float]] = {}
        texts: dict[tuple[str, ...], str] = {}
        for index, cat in enumerate(spec.category):
            for cue, weight in cat.cues.items():
                words = tuple(self.normaliser.words(cue))
                bucket = phrases.setdefault(words, {})
                bucket[index] = bucket.get(index, 0.0) + weight
                texts.setdefault(words, cue)
        self._words: dict[str, _Cue] = {}  # one-word cues
        self._phrases: dict[str, list[tuple[list[str], _Cue]]] = {}  # first word -> longer cues, longest first
        for words, weights in phrases.items():
            entry = _Cue(text=texts[words], weights=tuple(sorted(weights.items())),
                         positive=frozenset(c for c, w in weights.items() if w > 0))
            if len(words) == 1:
                self._words[words[0]] = entry
            else:
                self._phrases.setdefault(words[0], []).append((list(words), entry))
        for entries in self._phrases.values():
            entries.sort(key=lambda e: -len(e[0]))
        self._fallback_index = self.ids.index(self.fallback)

    @classmethod
    def load(cls, path: Path, threshold: float | None = None) -> Classifier:
        """Read and validate a categories file; CategoriesError says what to fix."""
        data = read_toml(path, "categories file", CategoriesError)
        return cls.from_dict(data, str(path), threshold)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<memory>", threshold: float | None = None) -> Classifier:
        """Validate parsed TOML: known ids, no empty cues or labels, finite non-zero weights."""
        try:
            spec = msgspec.convert(data, CategoriesFile, strict=True)
        except msgspec.ValidationError as err:
            raise CategoriesError(f"categories file {source}: {err}") from err
        _validate(spec, source)
        return cls(spec, source, threshold)

    def label(self, category: str, lang: str = "id") -> str:
        """The category's label in Indonesian (`id`) or English (`en`); the id itself when unknown."""
        found = self.labels.get(category)
        return category if found is None else found[0 if lang == "id" else 1]

    def classify(self, text: str, plain: bool = False) -> Category:
        """The text's category, confidence in [0, 1] and the winning category's cues (as written in the file).

        `plain`: the text is already lowercase words and digits separated by spaces (the router's `plain`).
        """
        words = self.normaliser.words(text, plain)
        hits: list[_Cue] = []
        taken: set[int] = set()  # words inside a phrase found: not read again on their own
        starts = self._phrases
        for i in [i for i, word in enumerate(words) if word in starts]:
            if i in taken:
                continue
            for phrase, cue in starts[words[i]]:
                if words[i:i + len(phrase)] == phrase:
                    hits.append(cue)
                    taken.update(range(i, i + len(phrase)))
                    break
        single = self._words
        if taken:
            hits += [single[w] for i, w in enumerate(words) if w in single and i not in taken]
        else:
            hits += [single[w] for w in words if w in single]
        hits = list(dict.fromkeys(hits))  # each cue counts once (cues compare by identity)
        if not hits:
            return Category(id=self.fallback, confidence=0.0, cues=())
        scores = [0.0] * len(self.ids)
        for cue in hits:
            for cat, weight in cue.weights:
                scores[cat] += weight
        best = max(scores)
        if best <= 0:
            return Category(id=self.fallback, confidence=0.0, cues=())
        best_cat = scores.index(best)  # ties: the category listed first
        scores[best_cat] = 0.0
        runner_up = max(scores)
        confidence = round(min(1.0, best / self.spec.full_score) * (0.5 + 0.5 * (best - runner_up) / best), 3)
        cues = tuple([c.text for c in hits if best_cat in c.positive])
        if best_cat == self._fallback_index:
            return Category(id=self.fallback, confidence=confidence, cues=cues)
        if confidence < self.threshold:
            return Category(id=self.fallback, confidence=confidence, cues=())
        return Category(id=self.ids[best_cat], confidence=confidence, cues=cues)

    def classify_many(self, texts: Sequence[str]) -> list[Category]:
        """`classify` for each text."""
        return [self.classify(t) for t in texts]


def _cue_normaliser(spec: CategoriesFile) -> Normaliser:
    """A normaliser whose vocabulary is the cues' words, an inflected cue word folded into its category's root.

    "merokok" and "rokok" both written as cues would otherwise stay two words, and a report saying "merokok"
    would miss the cue "rokok"; folding makes both sides of every comparison the same root.
    """
    plain = Normaliser(spec.synonyms, spec.stopwords, ())
    words_of = [{w for cue in cat.cues for w in plain.words(cue)} for cat in spec.category]
    vocabulary = set().union(*words_of)
    roots: dict[str, str] = {}
    for words in words_of:  # only within a category: "pengasapan" (health) is not "asap" (pollution)
        for word in sorted(words):
            root = Normaliser(spec.synonyms, spec.stopwords, words - {word}).stem(word)
            if root is not None and root != word:
                roots[word] = root
    for word, root in roots.items():  # "pemangkasan" -> "pangkasan" -> "pangkas": follow to the end
        while root in roots and roots[root] != word:
            root = roots[root]
        roots[word] = root
    return Normaliser({**spec.synonyms, **roots}, spec.stopwords, vocabulary - roots.keys())


def _validate(spec: CategoriesFile, source: str) -> None:
    where = f"categories file {source}"
    seen: set[str] = set()
    for cat in spec.category:
        if cat.id in seen:
            raise CategoriesError(f"{where}: category id {cat.id!r} is listed twice")
        seen.add(cat.id)
    if spec.fallback not in seen:
        raise CategoriesError(f"{where}: fallback {spec.fallback!r} is not a listed category id "
                              f"(known: {', '.join(sorted(seen))}); add it as a [[category]] or change `fallback`")
    plain = Normaliser(spec.synonyms, spec.stopwords, ())
    for cat in spec.category:
        if cat.id != spec.fallback and not cat.cues:
            raise CategoriesError(f"{where}: category {cat.id!r} has no cues: give it at least one word or phrase "
                                  "with a weight, e.g. cues = {{ \"lubang\" = 3 }}")
        for cue, weight in cat.cues.items():
            words = plain.words(cue)
            if not words:
                raise CategoriesError(f"{where}: category {cat.id!r}: cue {cue!r} is empty once normalised "
                                      "(only stop words or punctuation): write a word that appears in reports")
            if len(words) > MAX_PHRASE:
                raise CategoriesError(f"{where}: category {cat.id!r}: cue {cue!r} has more than {MAX_PHRASE} "
                                      "words: use a shorter phrase")
            if not math.isfinite(weight) or weight == 0:
                raise CategoriesError(f"{where}: category {cat.id!r}: cue {cue!r} needs a non-zero weight "
                                      f"(got {weight})")
    for informal, normal in spec.synonyms.items():
        if not (informal.isalnum() and informal.islower() and normal.isalnum() and normal.islower()):
            raise CategoriesError(f"{where}: synonym {informal!r} = {normal!r}: both sides must be one lowercase "
                                  "word (letters and digits)")


def category_ids(path: Path) -> tuple[str, ...]:
    """The category ids of a categories file (validated), for rules and disposition maps that name them."""
    return Classifier.load(path).ids

"""Names that are also words ("Bintaro", "Munjul", "Serdang", "Cawang": the gazetteer's `need_marker`), read as
places when the words right after them name their own kecamatan or kota, as an address is written:
"munjul cipayung", "bintaro, jaksel", "susukan kec. ciracas". Misspelt too, with the bound "kel." gives
("serdeng kemayoran", "galue johar baru"), and only where the name's kelurahan lies
inside the area named after it. Without such a neighbour they still need "kel."/"kelurahan" before them.

Names that are everyday words as well ("baru", "tengah", "jati": `router/data/words.txt` and the common
nouns) are left out: "rumah baru pasar rebo" is a new house, not Kelurahan Baru.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec

from router.fuzzy import FuzzyHit
from router.places import COMMON_NOUNS, area_start, ordinary_words

if TYPE_CHECKING:
    from router.gazetteer import Gazetteer, PlaceMatch


def readable(gaz: Gazetteer) -> frozenset[str]:
    """The need-marker names (keys) that may be read before their kecamatan or kota: not everyday words."""
    ordinary = ordinary_words() | COMMON_NOUNS
    return frozenset(key for key in gaz.need_marker if key not in ordinary and key in gaz.places and any(
        place.level == "kelurahan" for place in gaz.places[key]))


def before_area(gaz: Gazetteer, tokens: Sequence[str], found: Sequence[PlaceMatch]) -> list[PlaceMatch]:
    """Need-marker names in the one or two words right before a kecamatan or kota found exactly, inside it."""
    taken = {i for m in found for i in range(m.at, m.at + len(m.phrase.split()))}
    out: list[PlaceMatch] = []
    for area in found:
        if not area.names_area:
            continue
        at = area_start(tokens, area.at)
        for j in (at - 2, at - 1):
            window = tokens[j:at] if j >= 0 else []
            if not window or taken.intersection(range(j, at)):
                continue
            match = _read(gaz, window, j, area)
            if match is not None:
                out.append(match)
                taken.update(range(j, at))
                break
    return out


def _read(gaz: Gazetteer, window: Sequence[str], at: int, area: PlaceMatch) -> PlaceMatch | None:
    from router.gazetteer import Place, PlaceMatch  # the gazetteer imports this module

    key = "".join(window)
    hit: FuzzyHit | None = None
    if key not in gaz.word_names:
        if gaz.word_names_fuzzy is None or any(w in ordinary_words() for w in window):
            return None
        found = gaz.word_names_fuzzy.lookup(key, "marker")
        if not isinstance(found, FuzzyHit):
            return None
        hit, key = found, found.key
    inside: list[Place] = [p for p in gaz.places[key]
                           if p.level == "kelurahan" and p.code.startswith(area.place.code)]
    if len(inside) != 1:
        return None
    match = PlaceMatch(place=inside[0], phrase=" ".join(window), at=at, before=area.phrase)
    if hit is not None:
        match = msgspec.structs.replace(match, expanded=inside[0].name, edits=hit.edits, score=hit.score)
    return match

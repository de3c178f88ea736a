"""Which of the places a text names wins, and the reason written into the decision trail.

Specific beats general: an explicit "kel. X" > a landmark > a kelurahan named plainly > a misspelt kelurahan >
a kecamatan > a kota > a place named only as a street ("Jl. Tanah Abang II"). Every other candidate is named
in the reason with why it lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from router.places import KELURAHAN_MARKERS, STREET_MARKERS

if TYPE_CHECKING:
    from router.gazetteer import PlaceMatch

_RANK_NAMES = ("kelurahan named after 'kel.'", "landmark", "kelurahan", "misspelt kelurahan", "kecamatan",
               "misspelt kecamatan", "kota", "misspelt kota", "street name")
STREET = 8


def rank(match: PlaceMatch) -> int:
    """Specific beats general: kel. X (0) > landmark (1) > kelurahan (2) > fuzzy kelurahan (3) > kecamatan > kota."""
    if match.landmark is not None:
        return 1
    if match.marker in STREET_MARKERS:  # a street is often named after an area it does not run through
        return STREET
    level, fuzzy = match.place.level, match.edits is not None
    if level == "kelurahan":
        if fuzzy:
            return 3
        return 0 if match.marker in KELURAHAN_MARKERS else 2
    return (4 if level == "kecamatan" else 6) + fuzzy


def _why(best: PlaceMatch, other: PlaceMatch) -> str:
    """Why `best` was chosen over `other` (a different place also named in the text)."""
    mine, theirs = rank(best), rank(other)
    if mine == theirs:
        return "named first"
    if theirs == STREET and mine != STREET:
        return "a place named as an area beats one named only as a street"
    if mine == 0 and theirs == 1:
        return "an explicit 'kel.' beats a landmark"
    if mine == 1 and theirs in (2, 3, 4, 5):
        return "a landmark beats a kelurahan or kecamatan merely named beside it"
    if other.edits is not None and best.edits is None and mine <= theirs:
        return "an exact name beats a misspelt one"
    if best.place.level == "kelurahan" and other.place.level != "kelurahan":
        inside = best.place.code.startswith(other.place.code)
        return f"a kelurahan beats {'its' if inside else 'a'} {other.place.level}"
    return f"a {_RANK_NAMES[mine]} beats a {_RANK_NAMES[theirs]}"


def describe(best: PlaceMatch, found: Sequence[PlaceMatch], notes: Sequence[str] = ()) -> str:
    """The decision trail's reason: what was matched and how, and why each other candidate lost."""
    how = f"landmark {best.landmark} in " if best.landmark else ""
    text = f"text names {how}{best.place.level} {best.place.name} as {best.phrase!r}"
    if best.marker:
        text += f" after {best.marker!r}"
    if best.before:
        text += f" right before {best.before!r}, which it lies in"
    if best.edits is not None:
        how = f", written {best.spelling}" if best.spelling == "without vowels" else \
            f", {best.spelling}" if best.spelling else ""
        text += f" (fuzzy: read as {best.expanded}, {best.edits} edit(s), score {best.score:g}{how})"
    elif best.expanded:
        text += f" (short form of {best.expanded})"
    seen = {(best.place.level, best.place.code)}
    for other in sorted(found, key=rank):
        if (other.place.level, other.place.code) in seen:
            continue
        seen.add((other.place.level, other.place.code))
        what = f"landmark {other.landmark} ({other.place.name})" if other.landmark else \
            f"{other.place.level} {other.place.name}"
        text += f"; chose it over {what} ({other.phrase!r}): {_why(best, other)}"
    for note in notes:
        text += f"; {note}"
    return text

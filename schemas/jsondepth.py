"""How deeply a JSON document nests, measured without parsing it, so hostile input never reaches a decoder.

msgspec (like every recursive decoder) raises RecursionError on JSON nested some thousands deep; a webhook
body of 50,000 `[` would otherwise turn a sender's mistake into a server error.
"""

from __future__ import annotations

import re
from itertools import accumulate

# Deeper than any provider payload Kanal reads (Meta's are about 10); far below Python's recursion limit.
MAX_DEPTH = 64

# A string, or an unterminated one running to the end: possessive, so the scan stays linear on any input.
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def looks_like_json(data: bytes) -> bool:
    """True when the first non-blank byte opens a JSON object or array."""
    head = data.lstrip()[:1]
    return head in (b"{", b"[")


def depth(data: bytes) -> int:
    """The deepest nesting of objects and arrays in `data` (brackets inside strings do not count)."""
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", data))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def too_deep(data: bytes, limit: int = MAX_DEPTH) -> int | None:
    """The depth when `data` is JSON nested deeper than `limit`, else None."""
    if not looks_like_json(data):
        return None
    found = depth(data)
    return found if found > limit else None

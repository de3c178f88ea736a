"""Text fingerprints for dedup: normalised text, a 32 x 16-bit MinHash signature, and reporter identity keys.

All of it is deterministic across processes (no Python `hash`), so replicas and restarts agree.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from kanal.phone import contact_key
from router.gazetteer import envelope_text, plain
from schemas.envelope import Envelope

PERMS = 32
MAX_CHARS = 400  # the opening of a complaint says what it is about; longer texts cost more and add little
_PRIME = (1 << 31) - 1
_rng = np.random.default_rng(20261124)
_A = _rng.integers(1, _PRIME, size=(PERMS, 1), dtype=np.int64)
_B = _rng.integers(0, _PRIME, size=(PERMS, 1), dtype=np.int64)


_LINKS = re.compile(r"https?://\S+|[@#]\w+")


BODY_ALONE_CHARS = 20  # a body at least this long says what the report is about without its subject


def norm_text(env: Envelope, text: str | None = None) -> str:
    """Subject and text as lowercase ASCII words joined by single spaces, URLs and mentions dropped.

    The subject counts only when the body is too short to say what the report is about: an e-mail's
    "Laporan warga" subject must not stop its body from matching the same words posted on X.
    `text`: `plain(envelope_text(...))` if the caller has it; used as is when there is nothing to drop.
    """
    body_alone = bool(env.subject) and len(env.text.strip()) >= BODY_ALONE_CHARS
    raw = env.text if body_alone else envelope_text(env.subject, env.text)
    if "http" in raw or "@" in raw or "#" in raw:
        return plain(_LINKS.sub(" ", raw))
    return plain(raw) if text is None or body_alone else text


def reference_signature(text: str) -> bytes | None:
    """MinHash over character 3-grams (exact 24-bit shingles), low 16 bits of each minimum; None if too short.

    The definition; `signature` computes the same bytes faster from a precomputed table.
    """
    raw = np.frombuffer(text[:MAX_CHARS].encode("ascii", "ignore"), dtype=np.uint8).astype(np.int64)
    if raw.size < 3:
        return None
    shingles = (raw[:-2] << 16) | (raw[1:-1] << 8) | raw[2:]  # duplicates do not change a minimum
    mins = ((_A * shingles + _B) % _PRIME).min(axis=1)
    return bytes((mins & 0xFFFF).astype("<u2").tobytes())


# `norm_text` yields only these 37 characters, so every shingle is one of 37**3: hash them all once. Each
# permutation's hashes are distinct (a*x+b mod p is injective for x < p), so they are replaced by their rank
# (37**3 < 2**16: uint16), which orders them the same way: the minimum rank names the minimum hash, whose low
# 16 bits are looked up. A signature is one gather and one min over half the bytes of the hashes themselves.
_ALPHABET = b" 0123456789abcdefghijklmnopqrstuvwxyz"
_K = len(_ALPHABET)
_OUTSIDE = 255
_CODE = bytes(_ALPHABET.index(c) if c in _ALPHABET else _OUTSIDE for c in range(256))  # for bytes.translate
_tables: tuple[np.ndarray[Any, np.dtype[np.uint16]], np.ndarray[Any, np.dtype[np.uint16]]] | None = None


def _rank_tables() -> tuple[np.ndarray[Any, np.dtype[np.uint16]], np.ndarray[Any, np.dtype[np.uint16]]]:
    """(37**3, PERMS) rank of each shingle's hash per permutation; (PERMS * 37**3) low 16 bits by rank."""
    global _tables
    if _tables is None:
        c = np.frombuffer(_ALPHABET, dtype=np.uint8).astype(np.int64)
        first, second, third = np.meshgrid(c, c, c, indexing="ij")
        shingles = ((first << 16) | (second << 8) | third).reshape(-1)
        hashes = (_A * shingles + _B) % _PRIME  # (PERMS, 37**3)
        order = np.argsort(hashes, axis=1)
        ranks = np.empty(hashes.shape, dtype=np.uint16)
        np.put_along_axis(ranks, order, np.arange(shingles.size, dtype=np.uint16)[None, :], axis=1)
        low = (np.take_along_axis(hashes, order, axis=1) & 0xFFFF).astype("<u2")
        padded = np.vstack([ranks.T, np.full((1, PERMS), 0xFFFF, dtype=np.uint16)])  # row _NO_SHINGLE
        _tables = (np.ascontiguousarray(padded), np.ascontiguousarray(low.reshape(-1)))
    return _tables


_PERM_BASE = np.arange(PERMS, dtype=np.intp) * _K**3
_NO_SHINGLE = _K**3  # index of an all-0xFFFF row appended to the rank table: padding that is never a minimum


def signature(text: str) -> bytes | None:
    """MinHash of the text (see `reference_signature`, which it equals byte for byte); None if too short."""
    raw = text[:MAX_CHARS].encode("ascii", "ignore")
    if len(raw) < 3:
        return None
    codes = raw.translate(_CODE)
    if _OUTSIDE in codes:  # not from norm_text: take the long way
        return reference_signature(text)
    k = np.frombuffer(codes, dtype=np.uint8).astype(np.intp)
    ranks, low = _rank_tables()
    mins = ranks.take((k[:-2] * _K + k[1:-1]) * _K + k[2:], axis=0).min(axis=0)
    return bytes(low.take(_PERM_BASE + mins).tobytes())


def signatures(texts: Sequence[str]) -> list[bytes | None]:
    """`signature` of each text, computed for all of them at once (byte for byte the same).

    The texts' shingles are laid side by side, shorter ones padded with a shingle whose rank is never the
    minimum, so one gather and one minimum cover the batch: the minimum then runs over rows of
    texts x permutations values instead of 32, which numpy does several times faster.
    """
    out: list[bytes | None] = [None] * len(texts)
    rows: list[int] = []
    codes: list[bytes] = []
    for i, text in enumerate(texts):
        raw = text[:MAX_CHARS].encode("ascii", "ignore")
        if len(raw) < 3:
            continue
        coded = raw.translate(_CODE)
        if _OUTSIDE in coded:  # not from norm_text: take the long way
            out[i] = reference_signature(text)
            continue
        rows.append(i)
        codes.append(coded)
    if not rows:
        return out
    width = max(len(c) for c in codes)
    k = np.frombuffer(b"".join(c.ljust(width, b"\0") for c in codes), dtype=np.uint8)
    k = k.reshape(len(codes), width).astype(np.intp)
    idx = (k[:, :-2] * _K + k[:, 1:-1]) * _K + k[:, 2:]
    lengths = np.array([len(c) for c in codes], dtype=np.intp)
    idx[np.arange(width - 2)[None, :] >= (lengths - 2)[:, None]] = _NO_SHINGLE
    ranks, low = _rank_tables()
    mins = ranks.take(idx.T, axis=0).min(axis=0)  # (shingle position, text, permutation) -> (text, permutation)
    sigs = low.take(_PERM_BASE + mins)
    for row, i in enumerate(rows):
        out[i] = sigs[row].tobytes()
    return out


def similarity(a: bytes | None, b: bytes | None) -> float:
    """Estimated Jaccard similarity of two signatures' shingle sets (0 when either is missing)."""
    if a is None or b is None or len(a) != len(b):
        return 0.0
    return float(np.count_nonzero(np.frombuffer(a, "<u2") == np.frombuffer(b, "<u2"))) / (len(a) // 2)


def b64(sig: bytes | None) -> str:
    """A signature as text for KV values."""
    return base64.b64encode(sig).decode() if sig else ""


def unb64(text: str) -> bytes | None:
    """The inverse of `b64`."""
    return base64.b64decode(text) if text else None


def digest(*parts: str) -> str:
    """A 16-hex-char key token."""
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()


def reporter_keys(env: Envelope) -> list[str]:
    """Identity keys of the reporter: contact and NIK work across channels, user id and handle within one."""
    rep = env.reporter
    keys: list[str] = []
    contact = contact_key(rep.contact) if rep.contact else ""
    if contact:
        keys.append(digest("contact", contact))
    if rep.nik:
        keys.append(digest("nik", rep.nik))
    if rep.user_id:
        keys.append(digest("user", env.channel, rep.user_id))
    elif rep.handle:
        keys.append(digest("handle", env.channel, rep.handle.lower().lstrip("@")))
    return keys


def attachment_hashes(env: Envelope) -> list[str]:
    """The sha256 of each attachment that has one, sorted."""
    return sorted({a.sha256 for a in env.attachments if a.sha256})

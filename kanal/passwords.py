"""Password hashes with hashlib.scrypt (standard library), for admins and desk officers alike: only hashes
are kept in config (`kanal admin hash-password` makes one)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1
_DUMMY = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44  # verified against when there is no user


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>` for a new password (random 16-byte salt unless given)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check against a `hash_password` string; False for a malformed hash. `None` (no such
    user) costs the same time as a wrong password."""
    encoded = stored or _DUMMY
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected), maxmem=64 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return stored is not None and hmac.compare_digest(got, expected)


def well_formed(stored: str) -> bool:
    """True when `stored` looks like a hash from `hash_password` (checked at start, to catch a pasted password)."""
    parts = stored.split("$")
    return len(parts) == 6 and parts[0] == "scrypt" and all(p.isdigit() for p in parts[1:4])

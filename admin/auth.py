"""Admin passwords (scrypt, stdlib) and the per-queue access rule every console route and inbox command uses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from admin.settings import AdminSettings, AdminUser

_N, _R, _P = 2**14, 8, 1


class AccessDenied(Exception):
    """The admin may not read or act on that queue; the message says which."""


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`: what goes into `password_hash` in kanal.toml."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check of a password against a `hash_password` string; False for any malformed hash."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def authenticate(settings: AdminSettings, username: str, password: str) -> AdminUser | None:
    """The admin if the credentials match, else None (same work whether or not the user exists)."""
    user = settings.users.get(username)
    if user is None:
        verify_password(password, hash_password("timing-equaliser", salt=b"0" * 16))
        return None
    return user if verify_password(password, user.password_hash.reveal()) else None


def require(user: AdminUser, username: str, queue: str) -> None:
    """Raise AccessDenied unless `username` may act on `queue`."""
    if not user.allowed(queue):
        raise AccessDenied(f"admin {username!r} is not allowed on queue {queue!r}")

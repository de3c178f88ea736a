"""Admin passwords (scrypt, stdlib) and the per-queue access rule every console route and inbox command uses."""

from __future__ import annotations

from admin.settings import AdminSettings, AdminUser
from kanal.passwords import hash_password, verify_password


class AccessDenied(Exception):
    """The admin may not read or act on that queue; the message says which."""


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

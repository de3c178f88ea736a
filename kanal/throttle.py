"""Login throttling for Kanal's own web pages (admin console, walk-in desks): a few tries, then a pause."""

from __future__ import annotations

import time


class LoginThrottle:
    """After `limit` failed logins of one known user within `window` seconds, that user waits out the window.

    In memory, per process: enough to stop password guessing against an intranet page. Only configured users
    are tracked, so made-up names cannot grow the map.
    """

    def __init__(self, limit: int = 5, window: float = 900.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, list[float]] = {}

    def _recent(self, user: str) -> list[float]:
        now = time.monotonic()
        return [t for t in self._failures.get(user, []) if now - t < self.window]

    def locked(self, user: str) -> bool:
        """True while `user` has used up their tries."""
        return len(self._recent(user)) >= self.limit

    def failed(self, user: str, known: bool) -> None:
        """Count a failed login (only for configured users)."""
        if known:
            self._failures[user] = [*self._recent(user), time.monotonic()]

    def succeeded(self, user: str) -> None:
        """Forget the user's failures."""
        self._failures.pop(user, None)

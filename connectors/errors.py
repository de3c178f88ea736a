"""The three ways a channel can fail, and what the runtime does with each.

- PermanentError (bad credentials, wrong access level, bad config): stop loudly, do not retry.
- TransientError (network, 5xx, 429): retry with backoff, or at `retry_at` when the provider announced it.
- BadPayload: this one input cannot be used; dead-letter it with the reason and go on.
"""

from __future__ import annotations

import time

# Exit code for a permanent failure: supervisors (kanal up, systemd RestartPreventExitStatus) do not restart it.
from kanal.supervisor import EXIT_PERMANENT

# Exit code of `kanal connector run X --once` when another replica held X's lease for the whole wait (EX_TEMPFAIL).
EXIT_LEASE_HELD = 75

__all__ = ["EXIT_LEASE_HELD", "EXIT_PERMANENT", "BadPayload", "ConnectorError", "PermanentError", "RateLimited",
           "SignatureError", "TransientError"]


class ConnectorError(Exception):
    """Base of the connector error tree."""


class PermanentError(ConnectorError):
    """Retrying cannot help (credentials revoked, access level too low, config wrong); `hint` says what to do."""

    def __init__(self, message: str, hint: str = "", credentials: bool = False) -> None:
        self.hint = hint
        self.credentials = credentials
        super().__init__(f"{message}. {hint}".strip() if hint else message)


class TransientError(ConnectorError):
    """Worth retrying; `retry_at` is a UNIX time announced by the provider (e.g. x-rate-limit-reset)."""

    def __init__(self, message: str, retry_at: float | None = None) -> None:
        self.retry_at = retry_at
        super().__init__(message)

    def wait_seconds(self, default: float) -> float:
        """How long to wait before the next try: until `retry_at` if given, else `default`."""
        if self.retry_at is None:
            return default
        return max(0.0, self.retry_at - time.time())


class RateLimited(TransientError):
    """The provider said 'too many requests' and when to come back."""


class BadPayload(ConnectorError):
    """One input is unusable; `reason` is a snake_case code counted in metrics, `detail` is for people."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class SignatureError(ConnectorError):
    """A webhook request is not from the provider: refuse it (403) and publish nothing."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)

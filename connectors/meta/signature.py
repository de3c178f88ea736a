"""X-Hub-Signature-256: `sha256=` + hex HMAC-SHA256 of the exact raw body, keyed with the app secret."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "x-hub-signature-256"


def sign(app_secret: str, body: bytes) -> str:
    """The header value Meta sends for `body` (also used by tests and the benchmark to sign as Meta does)."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def problem(app_secret: str, body: bytes, header: str | None) -> str | None:
    """None when the header matches the body, else a snake_case reason for the 403 log line."""
    if not header:
        return "missing_signature"
    scheme, _, digest = header.strip().partition("=")
    if scheme.lower() != "sha256" or not digest:
        return "malformed_signature"
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), digest.lower().encode()):  # bytes: any header is comparable
        return "bad_signature"
    return None

"""Errors raised when bytes do not hold a valid Kanal message; they name the field and the reason."""

from __future__ import annotations


class SchemaError(ValueError):
    """A message failed strict decoding: `path` is the JSON path of the bad field (``$`` for the whole)."""

    def __init__(self, kind: str, path: str, reason: str) -> None:
        self.kind = kind
        self.path = path
        self.reason = reason
        super().__init__(f"invalid {kind} at {path}: {reason}")


class UnsupportedVersion(SchemaError):
    """The message declares a contract version this code does not know; upgrade the consumer."""

    def __init__(self, kind: str, version: object) -> None:
        self.version = version
        super().__init__(kind, "$.v", f"unsupported version {version!r}; this build reads v=1")

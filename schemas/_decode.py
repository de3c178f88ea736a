"""One strict decoder used by every message type, so errors read the same everywhere."""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec

from schemas.errors import SchemaError, UnsupportedVersion

T = TypeVar("T")

_AT = re.compile(r"^(?P<reason>.*?)(?: - at `(?P<path>[^`]+)`)?$", re.DOTALL)
_version_probe = msgspec.json.Decoder(dict[str, object])


def strict_decode(data: bytes | str, typ: type[T], kind: str) -> T:
    """Decode JSON bytes into `typ`, raising SchemaError with the field path and reason on any problem."""
    try:
        return msgspec.json.decode(data, type=typ, strict=True)
    except msgspec.ValidationError as err:
        _check_version(data, kind, err)
        match = _AT.match(str(err))
        reason = match.group("reason") if match else str(err)
        path = (match.group("path") if match else None) or "$"
        raise SchemaError(kind, path, reason) from err
    except msgspec.DecodeError as err:
        raise SchemaError(kind, "$", f"not valid JSON: {err}") from err


def _check_version(data: bytes | str, kind: str, err: Exception) -> None:
    try:
        probe = _version_probe.decode(data)
    except msgspec.DecodeError:
        return
    version = probe.get("v")
    if version != 1:
        raise UnsupportedVersion(kind, version) from err

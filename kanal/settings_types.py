"""Value types for settings: durations written like `24h`, and secrets that never show in repr or logs."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


class Duration(timedelta):
    """A timedelta read from `90s`, `15m`, `24h`, `30d`, `1h30m`, or a number of seconds."""

    @classmethod
    def parse(cls, value: object) -> Duration:
        """Parse the config forms; raise ValueError with the accepted forms when it is none of them."""
        if isinstance(value, timedelta):
            return cls(seconds=value.total_seconds())
        if isinstance(value, int | float) and not isinstance(value, bool):
            return cls(seconds=float(value))
        if isinstance(value, str):
            text = value.strip().replace(" ", "")
            if re.fullmatch(r"\d+(?:\.\d+)?", text):
                return cls(seconds=float(text))
            parts = _PART.findall(text)
            if parts and "".join(n + u for n, u in parts) == text:
                return cls(seconds=sum(float(n) * _UNIT[u] for n, u in parts))
        raise ValueError(f"{value!r} is not a duration: write e.g. '500ms', '90s', '15m', '24h', '30d'")

    def __repr__(self) -> str:
        return f"Duration({self.total_seconds():g}s)"


class Secret:
    """A credential: compares and hashes by value, but repr/str/JSON show only `****`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value, for the one call that needs it (an Authorization header, a HMAC key)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def dec_hook(typ: type, obj: Any) -> Any:
    """msgspec hook that builds Duration and Secret values from plain config values."""
    if typ is Duration:
        return Duration.parse(obj)
    if typ is Secret:
        if not isinstance(obj, str):
            raise ValueError(f"expected a string secret, got {type(obj).__name__}")
        return Secret(obj)
    raise NotImplementedError(f"no config decoder for {typ!r}")


def enc_hook(obj: Any) -> Any:
    """msgspec hook for printing settings: durations as seconds, secrets masked."""
    if isinstance(obj, Secret):
        return "****"
    if isinstance(obj, timedelta):
        return f"{obj.total_seconds():g}s"
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")

"""Read one TOML file Kanal is configured with, with an error that names the file and what to fix."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any


def read_toml(path: Path, what: str, error: Callable[[str], Exception]) -> dict[str, Any]:
    """The parsed file; `error` (the caller's error type) says "cannot read <what> <path>" or "not valid TOML"."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise error(f"cannot read {what} {path}: {err.strerror}") from err
    except tomllib.TOMLDecodeError as err:
        raise error(f"{what} {path} is not valid TOML: {err}") from err

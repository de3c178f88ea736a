"""Command-line options every `kanal` sub-command shares (one definition, one help text)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="kanal.toml to read (default: $KANAL_CONFIG, else ./kanal.toml)"),
]

"""Command-line options every `kanal` sub-command shares (one definition, one help text)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="kanal.toml to read (default: $KANAL_CONFIG, else ./kanal.toml)"),
]

# Commands that need nothing from the config take `--config` too, so a script can pass it to every command.
UnusedConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="accepted as by every kanal command; this one reads nothing from it"),
]

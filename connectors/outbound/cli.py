"""`kanal notifier run`: the service that answers reporters (acknowledgements and status updates)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Messages back to reporters: acknowledgements and status updates.", no_args_is_help=True)


@app.command("run")
def run(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="kanal.toml to read")] = None,
) -> None:
    """Run the notifier until SIGTERM: reads KANAL_ADMIN, KANAL_STATUS and opt-outs on KANAL_IN."""
    from connectors.outbound import notifier
    from kanal.cli import load_config

    raise typer.Exit(asyncio.run(notifier.run(load_config(config))))

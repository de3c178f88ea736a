"""`kanal notifier run`: the service that answers reporters (acknowledgements and status updates)."""

from __future__ import annotations

import asyncio

import typer

from kanal.options import ConfigOption

app = typer.Typer(help="Messages back to reporters: acknowledgements and status updates.", no_args_is_help=True)


@app.command("run")
def run(
    config: ConfigOption = None,
) -> None:
    """Run the notifier until SIGTERM: reads KANAL_ADMIN, KANAL_STATUS and opt-outs on KANAL_IN."""
    from kanal.cli import load_config
    from notifier import service

    raise typer.Exit(asyncio.run(service.run(load_config(config))))

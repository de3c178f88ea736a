"""`kanal connector ...`: list channels, run an instance, inspect its checkpoint, scaffold a plugin."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from connectors import registry
from kanal.options import ConfigOption, UnusedConfigOption

app = typer.Typer(help="Channels and connector instances.", no_args_is_help=True)



@app.command("list")
def list_channels(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    no_probes: Annotated[bool, typer.Option("--no-probes", help="do not ask running instances for /readyz")] = False,
) -> None:
    """The configured instances (channel, mode, enabled, port, ready or why not), then every installed channel
    type (built-in or plugin): mode, settings (secrets marked) and whether it can run."""
    from kanal.cli import load_config
    from kanal.ops import instances

    cfg = load_config(config)
    try:
        entries = registry.discover()
    except registry.RegistryError as err:
        typer.echo(f"kanal: {err}", err=True)
        raise typer.Exit(2) from err
    configured = instances.rows(cfg, probe=not no_probes)
    rows: list[dict[str, Any]] = []
    for name, entry in sorted(entries.items()):
        spec = entry.spec
        rows.append({
            "channel": name,
            "mode": spec.mode if spec else "?",
            "available": entry.available,
            "reason": entry.reason,
            "source": entry.source,
            "summary": spec.summary if spec else "",
            "settings": registry.describe_settings(spec.settings) if spec else [],
        })
    if as_json:
        typer.echo(json.dumps({"instances": [vars(r) for r in configured], "channels": rows}, indent=2, default=str))
        return
    typer.echo(f"Instances in {cfg.source}:" if configured else f"No [connectors.<instance>] in {cfg.source}.")
    for r in configured:
        typer.echo(f"  {r.instance:<28} {r.channel:<9} {r.mode:<8} {'enabled' if r.enabled else 'disabled':<9} "
                   f"port {r.port:<6} {r.state}")
    typer.echo("Channels:")
    for row in rows:
        state = "available" if row["available"] else f"UNAVAILABLE: {row['reason']}"
        typer.echo(f"{row['channel']:<10} {row['mode']:<8} {state}")
        if row["summary"]:
            typer.echo(f"    {row['summary']}")
        for setting in row["settings"]:
            marks = [setting["type"]]
            if setting["secret"]:
                marks.append("secret")
            if setting["required"]:
                marks.append("required")
            elif setting["default"] not in (None, "", [], {}):
                marks.append(f"default {setting['default']}")
            typer.echo(f"    - {setting['name']} ({', '.join(marks)})")


@app.command("run")
def run(
    instance: Annotated[str, typer.Argument(help="the name of a [connectors.<instance>] section")],
    config: ConfigOption = None,
    once: Annotated[bool, typer.Option("--once", help="pollers: one pass, then exit")] = False,
    lease_wait: Annotated[float, typer.Option(
        help="with --once: seconds to wait while another replica holds the instance's lease, then exit 75")] = 30.0,
) -> None:
    """Run one connector instance until SIGTERM (exit 0), or exit 78 on a permanent error (credentials, access);
    with --once, exit 75 when another replica kept the instance's lease for --lease-wait seconds."""
    from kanal.cli import load_config
    from kanal.config import ConfigError

    cfg = load_config(config)
    from connectors.errors import EXIT_LEASE_HELD
    from connectors.runtime import run_instance

    try:
        code = asyncio.run(run_instance(cfg, instance, once, lease_wait))
    except (ConfigError, registry.RegistryError) as err:
        typer.echo(f"kanal: {err}", err=True)
        raise typer.Exit(2) from err
    if code == EXIT_LEASE_HELD:
        typer.echo(f"kanal: another replica held the lease of {instance} for {lease_wait:g}s (its holder is in the "
                   "lease_held line above): stop it (`kanal up`, kanal-connector@...) or let it poll", err=True)
    raise typer.Exit(code)


@app.command("checkpoint")
def checkpoint(
    instance: Annotated[str, typer.Argument(help="connector instance")],
    config: ConfigOption = None,
) -> None:
    """Print the saved cursor of a polling instance (as stored in the kanal_checkpoints KV bucket)."""
    from kanal import bus
    from kanal.cli import load_config
    from schemas import subjects

    cfg = load_config(config)

    async def show() -> None:
        nc = await bus.connect(cfg.nats, name="kanal-cli")
        try:
            kv = await nc.jetstream().key_value(subjects.KV_CHECKPOINTS)
            entry = await kv.get(instance)
            typer.echo((entry.value or b"").decode())
        finally:
            await nc.close()

    from nats.js.errors import KeyNotFoundError, NotFoundError

    try:
        asyncio.run(show())
    except KeyNotFoundError as err:
        typer.echo(f"kanal: {instance} has no checkpoint yet: it has not completed a poll (webhook instances "
                   f"never have one); run `kanal connector run {instance} --once` to make one", err=True)
        raise typer.Exit(1) from err
    except NotFoundError as err:
        typer.echo(f"kanal: the {subjects.KV_CHECKPOINTS} bucket does not exist yet: run `kanal nats provision` "
                   "or start any Kanal service once", err=True)
        raise typer.Exit(1) from err
    except Exception as err:  # NATS unreachable, refused, timed out: say which and stop
        typer.echo(f"kanal: could not read the checkpoint of {instance}: {err}", err=True)
        raise typer.Exit(1) from err


@app.command("new")
def new(
    name: Annotated[str, typer.Argument(help="channel id: lowercase letters, digits, '_' (e.g. 'qlue')")],
    directory: Annotated[Path | None, typer.Option("--dir", help="where to create the package")] = None,
    config: UnusedConfigOption = None,
) -> None:
    """Scaffold a webhook channel plugin package that installs and passes its own tests as generated.

    For a polling channel, start from it and follow docs/plugins.md (PollingConnector, PollerContract).
    """
    from connectors.scaffold import scaffold

    try:
        target = scaffold(name, directory or Path.cwd() / f"kanal-{name.replace('_', '-')}")
    except ValueError as err:
        typer.echo(f"kanal: {err}", err=True)
        raise typer.Exit(2) from err
    typer.echo(f"created {target}")
    typer.echo(f"next: cd {target} && pip install -e '.[test]' && pytest")

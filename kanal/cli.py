"""The `kanal` command line: `up`, `schema`, and the sub-commands of each component."""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Callable
from pathlib import Path

import msgspec
import typer

from kanal import config as config_mod
from kanal import log
from kanal.options import ConfigOption, UnusedConfigOption

app = typer.Typer(
    name="kanal",
    help="Kanal: intake for city complaint systems. Connectors publish envelopes to NATS; the router "
    "deduplicates them and delivers each to the right admin queue.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


# Sub-command groups, each owned by its component: (command name, module, attribute).
SUBCOMMANDS: list[tuple[str, str, str]] = [
    ("connector", "connectors.cli", "app"),
    ("router", "router.cli", "app"),
    ("route", "router.cli", "route_app"),
    ("geo", "router.cli", "geo_app"),
    ("inbox", "admin.cli", "inbox_app"),
    ("admin", "admin.cli", "app"),
    ("notifier", "notifier.cli", "app"),
    ("nats", "kanal.ops", "nats_app"),
    ("doctor", "kanal.ops", "doctor_app"),
]


def load_config(path: Path | None) -> config_mod.Config:
    """Load the config and set up logging, or exit 2 with the config error."""
    try:
        cfg = config_mod.load(path)
    except config_mod.ConfigError as err:
        typer.echo(f"kanal: {err}", err=True)
        raise typer.Exit(2) from err
    log.configure(cfg.log.level, cfg.log.format)
    log.register_secrets(config_mod.secret_values(cfg.nats))
    return cfg


@app.command()
def up(config: ConfigOption = None) -> None:
    """Run the whole system here: embedded NATS (unless [nats] url is set), the router, every enabled connector,
    the notifier and, where enabled, the admin console and the CRM forwarder; /healthz on [kanal] health_port."""
    from kanal import up as up_mod

    cfg = load_config(config)
    raise typer.Exit(asyncio.run(up_mod.run(cfg)))


schema_app = typer.Typer(help="Print the JSON Schema of the contract's messages.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")


def _print_schema(typ: type) -> None:
    from kanal.settings_types import enc_hook

    del enc_hook
    typer.echo(json.dumps(msgspec.json.schema(typ), indent=2, ensure_ascii=False))


# The contract's message types, each printed by `kanal schema <name>`.
SCHEMA_TYPES = {
    "envelope": ("Envelope", "JSON Schema of the Envelope (what connectors publish on kanal.in.<channel>.<instance>)."),
    "routed": ("RoutedItem", "JSON Schema of a RoutedItem (what admins read on kanal.admin.<queue>)."),
    "status": ("StatusUpdate", "JSON Schema of a StatusUpdate (kanal.status.<item_id>)."),
    "deadletter": ("DeadLetter", "JSON Schema of a DeadLetter (kanal.dlq.<stage>)."),
}


def _schema_command(type_name: str) -> Callable[..., None]:
    def show(config: UnusedConfigOption = None) -> None:
        import schemas

        _print_schema(getattr(schemas, type_name))

    return show


def _register_schema_commands() -> None:
    for name, (type_name, help_text) in SCHEMA_TYPES.items():
        schema_app.command(name, help=help_text)(_schema_command(type_name))


_register_schema_commands()


@schema_app.command("asyncapi")
def schema_asyncapi(config: ConfigOption = None) -> None:
    """AsyncAPI 3.0 document of the subjects (FastStream's, with the contract's payload schemas)."""
    from kanal import asyncapi

    cfg = config_mod.load(config) if config else config_mod.load(env={})
    typer.echo(json.dumps(asyncapi.document(cfg), indent=2, ensure_ascii=False, sort_keys=True))


@schema_app.command("subjects")
def schema_subjects(config: ConfigOption = None) -> None:
    """The streams and subjects, as JSON (with the config's duplicate window and retention when given)."""
    from schemas import subjects

    nats = (config_mod.load(config) if config else config_mod.load(env={})).nats
    streams = subjects.streams(nats.duplicate_window, nats.retention)
    typer.echo(msgspec.json.format(msgspec.json.encode(streams, enc_hook=str), indent=2).decode())


def _register_subcommands() -> None:
    for name, module, attr in SUBCOMMANDS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name in {module, module.rpartition(".")[0]}:
                continue  # component not part of this build
            raise
        sub = getattr(mod, attr, None)
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=name)


def _plain_help(typer_app: typer.Typer) -> None:
    """Help texts mention config keys like [nats] url: show brackets as written, not as Rich markup."""
    typer_app.rich_markup_mode = None
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _plain_help(group.typer_instance)


_register_subcommands()
_plain_help(app)


def main() -> None:
    """Console-script entry point."""
    app()

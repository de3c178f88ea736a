"""`kanal inbox <queue>` (list, follow, ack, reroute, stage) and `kanal admin` (serve, forward, hash-password)."""

from __future__ import annotations

import asyncio
import getpass
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from admin.auth import AccessDenied, hash_password
from admin.settings import AdminSettings, AdminUser, ForwarderSettings
from kanal.config import Config, ConfigError
from kanal.options import ConfigOption

if TYPE_CHECKING:
    from admin.inbox import Entry, Inbox

T = TypeVar("T")

inbox_app = typer.Typer(
    help="An admin's inbox: `kanal inbox <queue>` lists open items; `kanal inbox <queue> ack|reroute|stage <item>` "
    "acts on one (item = id, KNL reference or #seq).",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    # `kanal inbox <queue> --follow --as x` and `kanal inbox <queue> reroute <item> --to q --reason r`
    context_settings={"allow_interspersed_args": True, "ignore_unknown_options": True},
)
app = typer.Typer(help="The admin console and the CRM forwarder.", no_args_is_help=True,
                  pretty_exceptions_enable=False)

AsOption = Annotated[
    str | None,
    typer.Option("--as", help="the admin (a user under admin.users in kanal.toml); "
                 "default $KANAL_ADMIN_USER, or the only one"),
]


def _config(path: Path | None) -> Config:
    from kanal.cli import load_config

    return load_config(path)


def admin_settings(config: Config) -> AdminSettings:
    """`[admin]` decoded, or exit 2 naming the bad key."""
    try:
        return config.section("admin", AdminSettings)
    except ConfigError as err:
        typer.echo(f"kanal: {err}", err=True)
        raise typer.Exit(2) from err


def who(settings: AdminSettings, name: str | None) -> tuple[str, AdminUser]:
    """The acting admin. With no [admin.users] configured, the operator acts with access to every queue."""
    name = name or os.environ.get("KANAL_ADMIN_USER")
    if not settings.users:
        from kanal.settings_types import Secret

        return name or getpass.getuser(), AdminUser(password_hash=Secret(""), superadmin=True)
    if name is None and len(settings.users) == 1:
        name = next(iter(settings.users))
    if name is None:
        raise _fail(f"say which admin you are: --as <name> (one of {', '.join(sorted(settings.users))})")
    user = settings.users.get(name)
    if user is None:
        raise _fail(f"no admin {name!r} under [admin.users] (known: {', '.join(sorted(settings.users))})")
    return name, user


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"kanal: {message}", err=True)
    return typer.Exit(code)


def _run(main: Callable[[], Awaitable[T]]) -> T:
    from admin.inbox import InboxError
    from admin.status import StatusRefused
    from admin.store import ItemNotFound
    from kanal.bus import BusError

    try:
        return asyncio.run(main())  # type: ignore[arg-type]
    except AccessDenied as err:
        raise _fail(f"refused: {err}", 3) from err
    except StatusRefused as err:
        raise _fail(f"refused: {err.reason}", 3) from err
    except (InboxError, ItemNotFound) as err:
        raise _fail(str(err), 1) from err
    except BusError as err:
        raise _fail(str(err), 1) from err


@asynccontextmanager
async def _inbox(config: Config, queue: str, as_: str | None) -> AsyncIterator[Inbox]:
    """An admin's open inbox on one queue; its consumer and connection are closed on exit."""
    from admin.inbox import Inbox
    from admin.store import ItemStore
    from kanal import bus

    settings = admin_settings(config)
    name, user = who(settings, as_)
    nc = await bus.connect(config.nats, name=f"kanal-inbox-{name}")
    try:
        js = nc.jetstream()
        await bus.provision(js, config)
        store = await ItemStore.open(nc, settings.items_bucket, config.nats.replicas)
        inbox = await Inbox(store, queue, name, user, settings.ack_wait.total_seconds()).open()
        try:
            yield inbox
        finally:
            await inbox.close()
    finally:
        await nc.close()


@inbox_app.callback()
def inbox(
    ctx: typer.Context,
    queue: Annotated[str, typer.Argument(help="queue name, e.g. kelurahan.3171011001, kecamatan.317101, triage")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep running and print new items")] = False,
    show_all: Annotated[bool, typer.Option("--all", help="include acknowledged and rerouted items")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per item and line (id, ref, queue, "
                                          "stage, channel, text, location, attachments, follow_ups, incident, "
                                          "duplicate_of)")] = False,
    as_: AsOption = None,
    config: ConfigOption = None,
) -> None:
    """List the open items of a queue (oldest first); with --follow, keep printing new ones."""
    ctx.obj = {"queue": queue, "as": as_, "config": config}
    if ctx.invoked_subcommand is not None:
        return
    cfg = _config(config)

    async def main() -> None:
        import json

        from admin.render import entry_json, entry_text

        def show(entry: Entry) -> None:
            typer.echo(json.dumps(entry_json(entry), ensure_ascii=False) if as_json
                       else entry_text(entry) + "\n")

        async with _inbox(cfg, queue, as_) as box:
            entries = await box.items(include_handled=show_all)
            for entry in entries:
                show(entry)
            typer.echo(f"{queue}: {sum(e.handling is None for e in entries)} open item(s)", err=True)
            if follow:
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, stop.set)
                last = max((e.stored.seq for e in entries), default=0)
                if not entries:
                    last = max((s.seq for s in await box.store.queue(queue)), default=0)
                typer.echo(f"{queue}: following; Ctrl-C to stop", err=True)
                async for entry in box.follow(stop, after_seq=last):
                    show(entry)

    _run(main)


def _ctx_args(ctx: typer.Context, as_: str | None, config: Path | None) -> tuple[str, str | None, Config]:
    obj = ctx.obj or {}
    return obj["queue"], as_ or obj.get("as"), _config(config or obj.get("config"))


@inbox_app.command("ack")
def ack(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(help="item id, KNL reference or #seq")],
    as_: AsOption = None,
    config: ConfigOption = None,
) -> None:
    """Acknowledge an item: it leaves the queue's open list, recorded with your name and the time."""
    queue, name, cfg = _ctx_args(ctx, as_, config)

    async def main() -> None:
        async with _inbox(cfg, queue, name) as box:
            done = await box.ack(item)
            typer.echo(f"acknowledged #{done.seq} in {queue} by {done.by}")

    _run(main)


@inbox_app.command("reroute")
def reroute(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(help="item id, KNL reference or #seq")],
    to: Annotated[str, typer.Option("--to", help="target queue, e.g. kecamatan.317101")],
    reason: Annotated[str, typer.Option("--reason", help="why it belongs there (the next admin reads it)")],
    as_: AsOption = None,
    config: ConfigOption = None,
) -> None:
    """Move an item to another queue with a reason; recorded on the item and in this queue."""
    queue, name, cfg = _ctx_args(ctx, as_, config)

    async def main() -> None:
        async with _inbox(cfg, queue, name) as box:
            moved = await box.reroute(item, to, reason)
            typer.echo(f"rerouted {moved.item.ref} from {queue} to {to} (now #{moved.seq})")

    _run(main)


@inbox_app.command("stage")
def stage(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(help="item id, KNL reference or #seq")],
    to: Annotated[str, typer.Argument(help="next stage: koordinasi, disposisi, proses, tindak_lanjut, ...")],
    note: Annotated[str | None, typer.Option("--note", help="a note shown with the stage")] = None,
    as_: AsOption = None,
    config: ConfigOption = None,
) -> None:
    """Move an item to its next stage (stages cannot be skipped)."""
    queue, name, cfg = _ctx_args(ctx, as_, config)

    async def main() -> None:
        from admin.status import change_stage, stage_info

        async with _inbox(cfg, queue, name) as box:
            entry = await box.find(item)
            update = await change_stage(box.store, entry.stored, to, username=box.admin, user=box.user, note=note)
            typer.echo(f"{update.ref}: stage is now {stage_info(update.stage).label}")

    _run(main)


@app.command("hash-password")
def hash_password_cmd(
    password: Annotated[str | None, typer.Option(help="the password (prompted, hidden, when omitted)")] = None,
) -> None:
    """Print a scrypt hash for `password_hash` under [admin.users.<name>]."""
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    typer.echo(hash_password(password))


@app.command("serve")
def serve(config: ConfigOption = None) -> None:
    """Run the admin web console ([admin] host/port) until SIGTERM/SIGINT."""
    from admin.console import serve as run_console

    cfg = _config(config)
    settings = admin_settings(cfg)
    raise typer.Exit(asyncio.run(run_console(cfg, settings)))


@app.command("forward")
def forward(config: ConfigOption = None) -> None:
    """Run the CRM forwarder ([forwarder] url, auth, timeout) until SIGTERM/SIGINT."""
    from admin.forwarder import serve as run_forwarder

    cfg = _config(config)
    try:
        settings = cfg.section("forwarder", ForwarderSettings)
    except ConfigError as err:
        raise _fail(str(err)) from err
    raise typer.Exit(asyncio.run(run_forwarder(cfg, settings)))

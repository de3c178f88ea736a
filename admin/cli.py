"""`kanal inbox <queue>` (list, follow, ack, reroute, stage, category, dispose ...) and `kanal admin` (serve, ...)."""

from __future__ import annotations

import asyncio
import getpass
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NamedTuple, TypeVar

import typer

from admin.auth import AccessDenied
from admin.cliparse import InboxCommand, InboxGroup
from admin.settings import AdminSettings, AdminUser, ForwarderSettings
from kanal.config import Config, ConfigError
from kanal.options import ConfigOption, UnusedConfigOption
from kanal.passwords import hash_password

if TYPE_CHECKING:
    from admin.dispositionmap import DispositionMap
    from admin.inbox import Entry, Inbox
    from router.categories import Classifier

T = TypeVar("T")

inbox_app = typer.Typer(
    help="An admin's inbox: `kanal inbox <queue>` lists open items; `kanal inbox <queue> "
    "ack|reroute|stage|category|dispose <item>` acts on one (item = id, KNL reference or #seq); `disposed` and "
    "`corrections` list what was passed on and how categories were corrected. Listing options go before the "
    "subcommand, its own after it: `kanal inbox <queue> <subcommand> --help`.",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    # `kanal inbox <queue> --follow --as x` and `kanal inbox <queue> --as x reroute <item> --to q --reason r`
    cls=InboxGroup,
)
app = typer.Typer(help="The admin console and the CRM forwarder.", no_args_is_help=True,
                  pretty_exceptions_enable=False)

AsOption = Annotated[
    str | None,
    typer.Option("--as", help="the admin (a user under admin.users in kanal.toml); "
                 "default $KANAL_ADMIN_USER, or the only one"),
]
ItemArgument = Annotated[str, typer.Argument(metavar="ITEM", help="item id, KNL reference or #seq")]


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
    queue: Annotated[str, typer.Argument(
        metavar="QUEUE", help="queue name, e.g. kelurahan.3171011001, kecamatan.317101, triage")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep running and print new items")] = False,
    show_all: Annotated[bool, typer.Option("--all", help="include acknowledged and rerouted items")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per item and line (id, ref, queue, "
                                          "stage, channel, text, location, attachments, fragments, follow_ups, "
                                          "incident, duplicate_of, category)")] = False,
    text: Annotated[str | None, typer.Option("--q", "-q", help="only items whose text or reference has all "
                                             "these words")] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="only items at this stage (menunggu...)")] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="only items from this channel")] = None,
    category: Annotated[str | None, typer.Option("--category", help="only items of this category")] = None,
    start: Annotated[str | None, typer.Option("--since", help="received on or after this day (YYYY-MM-DD, "
                                              "WIB)")] = None,
    end: Annotated[str | None, typer.Option("--until", help="received on or before this day (YYYY-MM-DD, "
                                            "WIB)")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="only items past their stage's deadline "
                                          "([admin] deadlines)")] = False,
    as_: AsOption = None,
    config: ConfigOption = None,
) -> None:
    """List the open items of a queue (oldest first), filtered like the console's queue page; with --follow,
    keep printing new ones."""
    ctx.obj = {"queue": queue, "as": as_, "config": config}
    if ctx.invoked_subcommand is not None:
        return
    cfg = _config(config)
    from admin import finder

    try:
        wanted = finder.parse({"q": text or "", "stage": stage or "", "channel": channel or "",
                               "category": category or "", "from": start or "", "to": end or "",
                               "overdue": "1" if overdue else ""})
    except finder.FilterError as err:  # the message names the console's parameters: say this command's options
        param, sep, rest = str(err).partition("=")
        option = {"from": "--since", "to": "--until", "stage": "--stage"}.get(param)
        message = f"{option} {rest}" if sep and option else str(err)
        raise _fail(message.replace("from is after to", "--since is after --until")) from err
    limits = finder.Deadlines({k: v.total_seconds() for k, v in admin_settings(cfg).deadlines.items()})

    def keep(entry: Entry) -> bool:
        facts = finder.facts_of(entry.stored.item, entry.status)
        return finder.matches(facts, wanted, limits, datetime.now(UTC).timestamp())

    async def main() -> None:
        import msgspec

        from admin.render import entry_json, entry_text

        async with _inbox(cfg, queue, as_) as box:

            async def show(entry: Entry) -> str:
                if not as_json:
                    return entry_text(entry) + "\n"
                item_id = entry.stored.item.item_id
                state = (await box.store.states([item_id]))[item_id]
                return msgspec.json.encode(entry_json(entry, state)).decode()

            entries = [e for e in await box.items(include_handled=show_all) if keep(e)]
            for entry in entries:
                typer.echo(await show(entry))
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
                    if keep(entry):
                        typer.echo(await show(entry))

    _run(main)


class InboxCall(NamedTuple):
    """What an inbox subcommand acts on: the queue (given before the subcommand), who acts, the config."""

    queue: str
    admin: str | None
    config: Config


def _ctx_args(ctx: typer.Context, as_: str | None, config: Path | None) -> InboxCall:
    obj = ctx.obj or {}
    return InboxCall(obj["queue"], as_ or obj.get("as"), _config(config or obj.get("config")))


def _on_inbox(call: InboxCall, work: Callable[[Inbox], Awaitable[None]]) -> None:
    """Run a subcommand's `work` on the admin's open inbox; refusals and errors exit with what to do."""

    async def main() -> None:
        async with _inbox(call.config, call.queue, call.admin) as box:
            await work(box)

    _run(main)


@inbox_app.command("ack", cls=InboxCommand)
def ack(
    ctx: typer.Context,
    item: ItemArgument,
    as_: AsOption = None,
    config: ConfigOption = None,
) -> None:
    """Acknowledge an item: it leaves the queue's open list, recorded with your name and the time."""
    args = _ctx_args(ctx, as_, config)

    async def work(box: Inbox) -> None:
        done = await box.ack(item)
        typer.echo(f"acknowledged #{done.seq} in {box.queue} by {done.by}")

    _on_inbox(args, work)


@inbox_app.command("reroute", cls=InboxCommand)
def reroute(
    ctx: typer.Context,
    item: ItemArgument,
    to: Annotated[str, typer.Option("--to", help="target queue, e.g. kecamatan.317101")],
    reason: Annotated[str, typer.Option("--reason", help="why it belongs there (the next admin reads it)")],
    as_: AsOption = None,
    config: ConfigOption = None,
) -> None:
    """Move an item to another queue with a reason; recorded on the item and in this queue."""
    args = _ctx_args(ctx, as_, config)

    async def work(box: Inbox) -> None:
        moved = await box.reroute(item, to, reason)
        typer.echo(f"rerouted {moved.item.ref} from {box.queue} to {to} (now #{moved.seq})")

    _on_inbox(args, work)


@inbox_app.command("stage", cls=InboxCommand)
def stage(
    ctx: typer.Context,
    item: ItemArgument,
    to: Annotated[str, typer.Argument(
        metavar="STAGE", help="next stage: koordinasi, disposisi, proses, tindak_lanjut, ...")],
    note: Annotated[str | None, typer.Option("--note", help="a note shown with the stage")] = None,
    as_: AsOption = None,
    config: ConfigOption = None,
) -> None:
    """Move an item to its next stage (stages cannot be skipped)."""
    args = _ctx_args(ctx, as_, config)

    async def work(box: Inbox) -> None:
        from admin.status import change_stage, stage_info

        entry = await box.find(item)
        update = await change_stage(box.store, entry.stored, to, username=box.admin, user=box.user, note=note)
        typer.echo(f"{update.ref}: stage is now {stage_info(update.stage).label}")

    _on_inbox(args, work)


def _classifier_and_map(cfg: Config) -> tuple[Classifier, DispositionMap | None]:
    """The categories (from the disposition map, else the shipped file) and the map, or exit 2 saying why."""
    from admin.dispositionmap import DispositionError, DispositionMap
    from router.categories import CategoriesError, Classifier

    settings = admin_settings(cfg)
    try:
        if settings.disposition:
            dmap = DispositionMap.load(cfg.path(settings.disposition))
            return dmap.classifier, dmap
        return Classifier.load(Path(__file__).resolve().parent.parent / "deploy/rules/categories.toml"), None
    except (DispositionError, CategoriesError) as err:
        raise _fail(f"{err} (fix [admin] disposition in {cfg.source}: relative paths are taken from that file's "
                    "folder)") from err


@inbox_app.command("category", cls=InboxCommand)
def category(
    ctx: typer.Context,
    item: ItemArgument,
    to: Annotated[str, typer.Argument(
        metavar="CATEGORY", help="the right category id (docs/categories.md), e.g. saluran_air")],
    as_: AsOption = None,
    config: ConfigOption = None,
) -> None:
    """Correct what an item is about; recorded (who, when, from, to) and counted."""
    args = _ctx_args(ctx, as_, config)
    classifier, _ = _classifier_and_map(args.config)

    async def work(box: Inbox) -> None:
        from admin.dispose import correct_category

        entry = await box.find(item)
        done = await correct_category(box.store, entry.stored, to, by=box.admin, user=box.user,
                                      classifier=classifier)
        typer.echo(f"{entry.stored.item.ref}: category {done.from_category or '-'} -> {done.to_category} "
                   f"({classifier.label(done.to_category)}), by {done.by}")

    _on_inbox(args, work)


@inbox_app.command("dispose", cls=InboxCommand)
def dispose(
    ctx: typer.Context,
    item: ItemArgument,
    note: Annotated[str | None, typer.Option("--note", help="a note for the suku dinas")] = None,
    as_: AsOption = None,
    config: ConfigOption = None,
) -> None:
    """Pass an item to the suku dinas of its category (stage Disposisi); the queue keeps a read-only record."""
    args = _ctx_args(ctx, as_, config)
    _, dmap = _classifier_and_map(args.config)
    if dmap is None:
        raise _fail("no disposition map: set [admin] disposition = \"deploy/rules/disposition.toml\"")

    async def work(box: Inbox) -> None:
        from admin.dispose import dispose as dispose_item

        entry = await box.find(item)
        moved, target = await dispose_item(box.store, entry.stored, dmap, by=box.admin, user=box.user,
                                           note=note)
        typer.echo(f"{moved.item.ref}: Disposisi ke {target.label} ({target.queue}, now #{moved.seq})")

    _on_inbox(args, work)


@inbox_app.command("disposed", cls=InboxCommand)
def disposed_list(ctx: typer.Context, as_: AsOption = None, config: ConfigOption = None) -> None:
    """The items this queue disposed, newest first, with where they went and their stage now."""
    args = _ctx_args(ctx, as_, config)

    async def work(box: Inbox) -> None:
        from admin.dispose import disposed
        from admin.status import stage_info

        rows = await disposed(box.store, box.queue)
        for row in rows:
            d = row.disposition
            typer.echo(f"#{row.stored.seq}  {row.stored.item.ref}  [{stage_info(row.stage).label}]  -> "
                       f"{d.to_queue}  by {d.by} at {d.at:%Y-%m-%d %H:%M} UTC: {d.reason}")
        typer.echo(f"{box.queue}: {len(rows)} disposed item(s)", err=True)

    _on_inbox(args, work)


@inbox_app.command("corrections", cls=InboxCommand)
def corrections(ctx: typer.Context, as_: AsOption = None, config: ConfigOption = None) -> None:
    """How often admins corrected one category into another (every queue): where the classifier is wrong."""
    args = _ctx_args(ctx, as_, config)

    async def work(box: Inbox) -> None:
        from admin.dispose import correction_counts

        for (before, after), count in (await correction_counts(box.store)).items():
            typer.echo(f"{count:6}  {before} -> {after}")

    _on_inbox(args, work)


@app.command("hash-password")
def hash_password_cmd(
    password: Annotated[str | None, typer.Option(help="the password (prompted, hidden, when omitted)")] = None,
    config: UnusedConfigOption = None,
) -> None:
    """Print a scrypt hash: for `password_hash` under [admin.users.<name>], or a desk officer in `officers`."""
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    typer.echo(hash_password(password))


@app.command("find")
def find(ref: Annotated[str, typer.Argument(help="a report reference, e.g. KNL-7Q1Z-BE3A-0MTP")],
         config: ConfigOption = None) -> None:
    """Where a report is now: its queue (after any reroute), stage and links; no reporter data, no text."""
    from admin.locate import describe, locate
    from kanal import wilayah

    cfg = _config(config)
    found = _run(lambda: locate(cfg, ref, admin_settings(cfg).items_bucket))
    if found is None:
        raise _fail(f"{ref}: no routed report has this reference (check it, or wait until the router has routed it)",
                    1)
    for line in describe(found, wilayah.load(cfg)):
        typer.echo(line)


@app.command("serve")
def serve(config: ConfigOption = None) -> None:
    """Run the admin web console ([admin] host/port) until SIGTERM/SIGINT."""
    from admin.console import serve as run_console

    cfg = _config(config)
    settings = admin_settings(cfg)
    _classifier_and_map(cfg)  # an unreadable [admin] disposition: one line and exit 2, before connecting
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

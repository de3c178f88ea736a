"""How `kanal inbox <queue> [listing options] [<subcommand> <its arguments and options>]` is split and shown.

A Click group parses its own options only up to its subcommand's name; `kanal inbox` takes its queue first and
may take its listing options (`--as`, `-c`, `--follow` ...) on either side of it, so the stock group would
either stop at the queue or, told to take options anywhere, swallow the subcommand's own (reroute's `--to`).
`InboxGroup` finds where the subcommand starts (the second word that is neither an option nor an option's
value) and hands everything from there to the subcommand untouched. Usage lines name arguments as Click does
(`kanal inbox QUEUE reroute [OPTIONS] ITEM`), not as Typer's `{queue}`, which reads like something to type.
"""

from __future__ import annotations

# Typer (0.29) bundles its own Click: its parameters and contexts are these classes, not the `click` package's.
from typer._click import Command, Context, Parameter
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption


def _usage_piece(param: Parameter) -> str:
    """`QUEUE` for a required argument, `[NOTE]` for an optional one, with `...` when it takes several."""
    name = (param.metavar or param.name or "").upper()
    if not param.required:
        name = f"[{name}]"
    return f"{name}..." if param.nargs != 1 else name


def _usage_pieces(command: Command, ctx: Context) -> list[str]:
    pieces = [command.options_metavar] if command.options_metavar else []
    return pieces + [_usage_piece(p) for p in command.get_params(ctx) if isinstance(p, TyperArgument)]


class InboxContext(Context):
    """A subcommand's context whose path names the group's arguments plainly: `kanal inbox QUEUE reroute`."""

    @property
    def command_path(self) -> str:
        path = self.info_name or ""
        if self.parent is not None:
            parent = self.parent.command
            pieces = [_usage_piece(p) for p in parent.get_params(self) if isinstance(p, TyperArgument)]
            path = " ".join([self.parent.command_path, *pieces, path])
        return path.strip()


class InboxCommand(TyperCommand):
    """An inbox subcommand (ack, reroute ...): plain usage line, its own help and errors."""

    context_class = InboxContext

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        return _usage_pieces(self, ctx)


class InboxGroup(TyperGroup):
    """`kanal inbox`: its options before or after the queue, the subcommand's options only after its name."""

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        return [*_usage_pieces(self, ctx), "[COMMAND [ARGS]...]"]

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, split_group_args(self, args))


def split_group_args(group: Command, args: list[str]) -> list[str]:
    """`args` reordered as the group's options, its positional arguments, then the subcommand and all after it.

    The subcommand starts at the first word beyond the group's own positional arguments that is neither an option
    nor the value of one of the group's options; Click, which stops parsing the group at its first positional
    word, then gives the subcommand everything from its name on, options included."""
    takes_value = {name for p in group.params if isinstance(p, TyperOption) and not p.is_flag and not p.count
                   for name in (*p.opts, *p.secondary_opts)}
    positional_count = sum(1 for p in group.params if isinstance(p, TyperArgument))
    options: list[str] = []
    positional: list[str] = []
    index = 0
    while index < len(args):
        word = args[index]
        is_option = word.startswith("-") and word != "-"
        if word == "--" or (not is_option and len(positional) == positional_count):
            break
        if is_option:
            options.append(word)
            if word in takes_value and index + 1 < len(args):
                index += 1
                options.append(args[index])
        else:
            positional.append(word)
        index += 1
    return [*options, *positional, *args[index:]]

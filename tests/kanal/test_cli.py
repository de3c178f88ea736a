"""The `kanal` command keeps the README's promise: every command reads `--config FILE`."""

from __future__ import annotations

from typing import Any

import typer

from kanal.cli import app


def _leaves(command: Any, path: str = "kanal") -> list[tuple[str, Any]]:
    if hasattr(command, "commands"):  # a group (typer's click)
        found: list[tuple[str, Any]] = []
        if command.invoke_without_command and command.callback is not None and path != "kanal":
            found.append((path, command))  # a group that runs by itself (`kanal doctor`, `kanal inbox <queue>`)
        for name, sub in command.commands.items():
            found += _leaves(sub, f"{path} {name}")
        return found
    return [(path, command)]


def test_every_command_takes_config() -> None:
    missing = [path for path, command in _leaves(typer.main.get_command(app))
               if not any("--config" in getattr(p, "opts", []) for p in command.params)]
    assert missing == [], f"commands without --config: {missing}"

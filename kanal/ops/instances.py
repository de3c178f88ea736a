"""The configured connector instances as an operator needs to see them: channel, mode, enabled, port, ready or why not.

`kanal connector list` prints them beside the installed channel types; readiness is each running instance's
own `/readyz` (the same probe `kanal doctor` makes).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from connectors import registry
from connectors.runtime import resolve
from kanal.config import Config, ConfigError
from kanal.ops import doctor


@dataclass
class InstanceRow:
    """One `[connectors.<instance>]` section and its state."""

    instance: str
    channel: str
    mode: str
    enabled: bool
    port: int
    ready: bool
    state: str  # "ready", or why not


def rows(config: Config, probe: bool = True) -> list[InstanceRow]:
    """Every configured instance, sorted by name; with `probe`, asks each running one for /readyz."""
    found: list[InstanceRow] = []
    resolved: list[tuple[InstanceRow, doctor.Resolved]] = []
    for name, section in sorted(config.connectors.items()):
        enabled = bool(section.get("enabled", True))
        row = InstanceRow(name, str(section.get("channel", "?")), "?", enabled, int(section.get("port", 0) or 0),
                          False, "disabled (enabled = false)")
        found.append(row)
        try:
            spec, common, settings = resolve(config, name)
        except (ConfigError, registry.RegistryError) as err:
            with contextlib.suppress(registry.RegistryError):  # the channel's mode, even with settings unfinished
                row.mode = registry.get(row.channel).mode
            row.state = f"{row.state}; before enabling it: {err}" if not enabled else f"cannot run: {err}"
            continue
        row.mode, row.port = spec.instance_mode(settings), common.port
        if not enabled:
            continue
        row.state = "not checked"
        resolved.append((row, doctor.Resolved(name, spec, common, settings)))
    if probe and resolved:
        findings = asyncio.run(doctor.check_running([r for _, r in resolved], within=1.0))
        for (row, _), finding in zip(resolved, findings, strict=True):
            row.ready = finding.message.startswith("ready")  # "ready (...)" or "ready, but: ..."
            row.state = finding.message
    return found

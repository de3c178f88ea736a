"""Channel discovery through the `kanal.connectors` entry-point group (built-in channels use it too)."""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import msgspec

from connectors.spec import ChannelSpec
from kanal.settings_types import Secret

GROUP = "kanal.connectors"
# Channels to add without packaging them, e.g. while developing: "pkg.module:spec,other.module:spec".
EXTRA_ENV = "KANAL_EXTRA_CHANNELS"


class RegistryError(Exception):
    """The installed plugins conflict or one is broken; the message names the plugin."""


@dataclass(frozen=True)
class Entry:
    """A registered channel and whether it can run here."""

    spec: ChannelSpec | None
    name: str
    source: str
    available: bool
    reason: str = ""


def discover(extra: list[ChannelSpec] | None = None) -> dict[str, Entry]:
    """Every channel, by id. Two plugins claiming one id is an error; a broken or incomplete one is listed."""
    found: dict[str, Entry] = {}
    for ep in entry_points(group=GROUP):
        entry = _load(ep)
        _add(found, entry)
    for path in filter(None, (p.strip() for p in os.environ.get(EXTRA_ENV, "").split(","))):
        module, _, attr = path.partition(":")
        try:
            spec = getattr(importlib.import_module(module), attr)
        except Exception as err:
            raise RegistryError(f"{EXTRA_ENV} names {path!r}, which cannot be imported: {err!r}") from err
        _add(found, _check(spec, spec.id, f"{EXTRA_ENV} ({path})"))
    for spec in extra or []:
        _add(found, _check(spec, spec.id, "registered in code"))
    return found


def _add(found: dict[str, Entry], entry: Entry) -> None:
    if entry.name in found and found[entry.name].source != entry.source:
        raise RegistryError(
            f"two plugins claim channel id '{entry.name}': {found[entry.name].source} and {entry.source}; "
            "uninstall one of them"
        )
    found[entry.name] = entry


def _load(ep: EntryPoint) -> Entry:
    source = f"{ep.dist.name if ep.dist else '?'} ({ep.value})"
    try:
        spec = ep.load()
    except Exception as err:  # a plugin that cannot even be imported is listed, not fatal
        return Entry(None, ep.name, source, False, f"cannot import: {err!r}")
    if not isinstance(spec, ChannelSpec):
        return Entry(None, ep.name, source, False, f"entry point is {type(spec).__name__}, not a ChannelSpec")
    if spec.id != ep.name:
        return Entry(spec, ep.name, source, False, f"entry point name '{ep.name}' differs from channel id '{spec.id}'")
    return _check(spec, ep.name, source)


def _check(spec: ChannelSpec, name: str, source: str) -> Entry:
    missing = [module for module in spec.requires if importlib.util.find_spec(module) is None]
    if missing:
        return Entry(spec, name, source, False, f"missing optional dependency: {', '.join(missing)} "
                     f"(pip install 'kanal[{spec.id}]')")
    return Entry(spec, name, source, True)


def get(channel: str, extra: list[ChannelSpec] | None = None) -> ChannelSpec:
    """The spec of a usable channel, or RegistryError saying why it cannot run."""
    entries = discover(extra)
    entry = entries.get(channel)
    if entry is None:
        known = ", ".join(sorted(entries)) or "none"
        raise RegistryError(f"no channel '{channel}' is installed (installed: {known})")
    if not entry.available or entry.spec is None:
        raise RegistryError(f"channel '{channel}' is unavailable: {entry.reason}")
    return entry.spec


def describe_settings(settings: type[msgspec.Struct]) -> list[dict[str, Any]]:
    """The settings a channel reads: name, type, default, and whether it is a secret."""
    rows: list[dict[str, Any]] = []
    for field in msgspec.structs.fields(settings):
        type_name = _type_name(field.type)
        default: Any = None
        if field.default is not msgspec.NODEFAULT:
            default = "****" if isinstance(field.default, Secret) else field.default
        rows.append({
            "name": field.name,
            "type": type_name,
            "required": field.required,
            "default": default,
            "secret": "Secret" in type_name,
        })
    return rows


def _type_name(typ: Any) -> str:
    text = getattr(typ, "__name__", None) or str(typ)
    return str(text).replace("kanal.settings_types.", "").replace("typing.", "")

"""What must not reach production: the demo logins, placeholder secrets, and a login or webhook served in clear.

Why: kanal.example.toml runs out of the box, so its demo passwords (printed in the README) and its
`replace-with-...` secrets can go live unnoticed, and a console bound to 0.0.0.0 without TLS sends passwords and
session cookies across the network in clear. `kanal doctor` fails on each of these and `kanal up` logs them.
Pure: reads the loaded config only (no NATS, no network).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from kanal.config import Config

# The demo logins the README and kanal.example.toml publish (console admins, desk officer): anyone can sign in
# with them, so a hash that matches one of these is as good as no password.
DEMO_PASSWORDS = ("demo-pusat-2026", "demo-lurah-gambir", "demo-gambir-2026")
PLACEHOLDER = "replace-with"  # what every secret in kanal.example.toml starts with (or contains)


@dataclass(frozen=True)
class Unsafe:
    """One unsafe setting: where it is, what is wrong, and what to do."""

    where: str
    message: str
    fix: str


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a hostname or "" (all interfaces): reachable from elsewhere


def is_demo_hash(stored: str) -> bool:
    """True when a scrypt hash from kanal.toml verifies against one of the published demo passwords."""
    from kanal.passwords import verify_password  # console and desk hashes share one format

    return bool(stored) and any(verify_password(password, stored) for password in DEMO_PASSWORDS)


def _truthy(value: Any) -> bool:
    """A TOML boolean, or one written in the environment (`KANAL_ADMIN__HTTPS_ONLY=true`)."""
    return value is True or (isinstance(value, str) and value.strip().lower() in {"true", "1"})


def _reveal(value: Any) -> str:
    reveal = getattr(value, "reveal", None)
    return str(reveal() if callable(reveal) else value or "")


def demo_logins(config: Config) -> list[Unsafe]:
    """Every enabled console admin and desk officer whose password is a published demo password."""
    found: list[Unsafe] = []
    if config.enabled("admin"):
        for name, user in sorted(_tables(config.admin.get("users"))):
            if is_demo_hash(_reveal(user.get("password_hash"))):
                found.append(Unsafe(f"[admin.users.{name}]", "uses a demo password published in the README",
                                    "make a new hash with `kanal admin hash-password` and put it in password_hash "
                                    "(or password_hash_file)"))
    for instance, section in sorted(config.connectors.items()):
        if not section.get("enabled", True):
            continue
        for name, stored in sorted(_tables(section.get("officers"), values=True)):
            if is_demo_hash(_reveal(stored)):
                found.append(Unsafe(f"[connectors.{instance}] officers.{name}",
                                    "uses a demo password published in the README",
                                    "make a new hash with `python -m connectors.desk.hashpw` and replace it"))
    return found


def _tables(node: Any, values: bool = False) -> Iterator[tuple[str, Any]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if values or isinstance(value, Mapping):
                yield str(key), value


def placeholders(config: Config) -> list[Unsafe]:
    """Every key of an enabled part of the config still holding kanal.example.toml's `replace-with-...` text."""
    services = ("router", "admin", "forwarder", "outbound")
    sections: list[tuple[str, Any]] = [(name, getattr(config, name)) for name in services if config.enabled(name)]
    sections += [(f"connectors.{name}", section) for name, section in sorted(config.connectors.items())
                 if section.get("enabled", True)]
    found: list[Unsafe] = []
    for prefix, section in sections:
        for key in _placeholder_keys(section, prefix):
            found.append(Unsafe(key, "still holds the example's placeholder (replace-with-...)",
                                f"set the real value, better from a file: {key.rpartition('.')[2]}_file = "
                                "\"/run/credentials/kanal/...\""))
    for name in ("password", "token"):
        value = getattr(config.nats, name)
        if value is not None and PLACEHOLDER in value.reveal():
            found.append(Unsafe(f"nats.{name}", "still holds a placeholder", f"set [nats] {name}_file"))
    return found


def _placeholder_keys(node: Any, where: str) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _placeholder_keys(value, f"{where}.{key}")
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _placeholder_keys(value, where)
    elif PLACEHOLDER in _reveal(node):
        yield where


def exposed(config: Config, modes: Mapping[str, str]) -> list[Unsafe]:
    """A console, or an instance taking requests (webhook, app, desk), bound beyond loopback with no TLS in
    front: the console's `https_only`, an instance's https `public_url`, say that a TLS proxy serves them.

    `modes` maps each enabled instance to the mode it runs in (pollers serve health and metrics only).
    """
    found: list[Unsafe] = []
    admin = config.admin
    if config.enabled("admin"):
        host = str(admin.get("host", "127.0.0.1"))
        if not is_loopback(host) and not _truthy(admin.get("https_only", False)):
            found.append(Unsafe("[admin]", f"the console listens on {host or 'every address'} without TLS in "
                                "front: passwords and session cookies cross the network in clear",
                                "put an https proxy in front and set [admin] https_only = true, or host = "
                                "\"127.0.0.1\""))
    for instance, mode in sorted(modes.items()):
        section = config.connectors.get(instance, {})
        host = str(section.get("host", "127.0.0.1"))
        public = urlparse(str(section.get("public_url") or ""))
        if mode == "webhook" and not is_loopback(host) and public.scheme != "https":
            found.append(Unsafe(f"[connectors.{instance}]", f"takes requests on {host or 'every address'} "
                                "without TLS in front: reports and signatures cross the network in clear",
                                "serve it through an https proxy and set public_url to that https URL, or host = "
                                "\"127.0.0.1\""))
    return found


def instance_modes(config: Config) -> dict[str, str]:
    """The mode of each enabled instance whose channel resolves (the others are reported elsewhere)."""
    from connectors import registry
    from connectors.runtime import resolve
    from kanal.config import ConfigError

    modes: dict[str, str] = {}
    for instance, section in config.connectors.items():
        if not section.get("enabled", True):
            continue
        try:
            spec, _common, settings = resolve(config, instance)
        except (ConfigError, registry.RegistryError):
            continue
        modes[instance] = spec.instance_mode(settings)
    return modes


def check(config: Config, modes: Mapping[str, str] | None = None) -> list[Unsafe]:
    """Everything above, for `kanal doctor` (FAIL) and `kanal up` (a warning each)."""
    chosen = instance_modes(config) if modes is None else modes
    return demo_logins(config) + placeholders(config) + exposed(config, chosen)

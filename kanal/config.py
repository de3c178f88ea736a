"""`kanal.toml`: one config file, overridable by KANAL_* environment variables, decoded into typed Structs.

Rules: a key `X_file` reads the secret X from that file; `KANAL_NATS__URL=...` overrides `[nats] url`
(double underscore between levels; `-` in instance names may be written `_`; a value that starts with `[` or
`{` is a JSON list or table); an unknown key or a wrong type is refused at start with the key's path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec
from msgspec import Struct

from kanal.settings_types import Duration, Secret, dec_hook
from kanal.tomlfile import read_toml

T = TypeVar("T")
ENV_PREFIX = "KANAL_"


class ConfigError(Exception):
    """The config cannot be used; the message names the key path and what to change."""


class NatsSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How to reach NATS. An empty `url` starts an embedded nats-server on loopback."""

    url: str = ""
    user: str | None = None
    password: Secret | None = None
    token: Secret | None = None
    creds_path: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_hostname: str | None = None
    embedded_host: str = "127.0.0.1"
    embedded_port: int = 4222
    embedded_store: str = "var/nats"
    embedded_config: str | None = None
    duplicate_window: Duration = Duration(hours=24)
    retention: Duration = Duration(days=90)
    replicas: int = 1
    connect_timeout: Duration = Duration(seconds=5)
    lease_ttl: Duration = Duration(seconds=15)


class LogSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Log level and format; `auto` is console on a terminal and JSON otherwise."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class KanalSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where local state (spools, embedded NATS data) lives, where `kanal up` answers health checks, and the
    limits every HTTP server applies to its clients."""

    data_dir: str = "var"
    health_host: str = "127.0.0.1"
    health_port: int = 8470
    # every HTTP server: a request's headers and body must arrive within this (else 408) ...
    http_read_timeout: Duration = Duration(seconds=30)
    # ... and one client address may hold at most this many connections at once (else 429)
    http_max_connections_per_client: int = 100
    # reverse proxies in front of the HTTP servers (addresses or CIDR networks): their X-Forwarded-For and
    # X-Forwarded-Proto name the client; connections from them are not counted per address; nobody else's are read
    trusted_proxies: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.1", "::1"])


# Each service section's `enabled` when the file does not say (`kanal up`, `kanal nats config`, doctor read it).
SERVICES_ENABLED = {"router": True, "admin": False, "forwarder": False, "outbound": True}


class Config(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole file. Component sections stay raw here and are decoded by their owner via `section()`."""

    kanal: KanalSettings = KanalSettings()
    nats: NatsSettings = NatsSettings()
    log: LogSettings = LogSettings()
    router: dict[str, Any] = {}
    admin: dict[str, Any] = {}
    forwarder: dict[str, Any] = {}
    outbound: dict[str, Any] = {}
    conversations: dict[str, Any] = {}
    connectors: dict[str, dict[str, Any]] = {}
    base_dir: str = "."
    source: str = "<defaults>"

    def path(self, value: str) -> Path:
        """A path from the config, relative paths taken from the config file's folder."""
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else (Path(self.base_dir) / candidate).resolve()

    def enabled(self, service: str) -> bool:
        """Whether the router, admin (console), forwarder or outbound (notifier) section is on; a connector
        instance's section holds its own `enabled` (default true). Both are booleans once loaded."""
        return bool(getattr(self, service).get("enabled", SERVICES_ENABLED[service]))

    def section(self, name: str, typ: type[T], data: Mapping[str, Any] | None = None) -> T:
        """Decode one raw section into `typ`, naming `name.key` in the error."""
        raw = getattr(self, name) if data is None else data
        return convert(raw, typ, name)


_TRUE = {"true", "1"}  # what msgspec takes for every other boolean from the environment
_FALSE = {"false", "0"}


def _as_bool(value: Any, where: str) -> bool:
    """A TOML boolean, or a string from the environment (`KANAL_ADMIN__ENABLED=false`)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigError(f"{where}.enabled = {value!r}: write true or false")


def _normalise_enabled(data: dict[str, Any]) -> None:
    """Turn every component's `enabled` into a bool now, so a bad value stops the load with its name."""
    sections = [(name, data.get(name)) for name in SERVICES_ENABLED]
    connectors = data.get("connectors")
    if isinstance(connectors, dict):
        sections += [(f"connectors.{name}", section) for name, section in connectors.items()]
    for where, section in sections:
        if isinstance(section, dict) and "enabled" in section:
            section["enabled"] = _as_bool(section["enabled"], where)


def convert(raw: Any, typ: type[T], prefix: str) -> T:
    """msgspec.convert with config hooks, turning `$.a.b` error paths into `prefix.a.b`."""
    try:
        return msgspec.convert(raw, typ, strict=False, dec_hook=dec_hook)
    except msgspec.ValidationError as err:
        message = str(err)
        reason, _, where = message.partition(" - at `$")
        where = where.rstrip("`")
        key = f"{prefix}{where}".lstrip(".")
        if reason.startswith("Object contains unknown field"):
            field = reason.split("`")[1] if "`" in reason else "?"
            key = f"{key}.{field}" if key else field
            reason = "unknown key (check the spelling; see kanal.example.toml for the keys this build reads)"
        raise ConfigError(f"config key '{key}': {reason}") from err


def load(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read `path` (or KANAL_CONFIG, or ./kanal.toml if present, else defaults) plus the environment."""
    env = os.environ if env is None else env
    chosen = path or env.get("KANAL_CONFIG")
    if chosen is None and Path("kanal.toml").exists():
        chosen = "kanal.toml"
    data: dict[str, Any] = {}
    base_dir = Path.cwd()
    source = "<defaults>"
    if chosen is not None:
        file = Path(chosen)
        if not file.exists():
            raise ConfigError(f"config file {file} does not exist: copy kanal.example.toml to {file} and edit it")
        data = read_toml(file, "config file", ConfigError)
        base_dir = file.resolve().parent
        source = str(file)
    apply_env(data, env)
    _normalise_enabled(data)
    resolve_files(data, base_dir, "")
    for reserved in ("base_dir", "source"):
        if reserved in data:
            raise ConfigError(f"config key '{reserved}': unknown key")
    data["base_dir"] = str(base_dir)
    data["source"] = source
    return convert(data, Config, "")


def apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """Overlay KANAL_SECTION__KEY[__KEY...] variables onto the parsed file."""
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        parts = name[len(ENV_PREFIX) :].split("__")
        node = data
        path: list[str] = []
        for part in parts[:-1]:
            key = _match_key(node, part)
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"environment variable {name}: '{key}' is a value, not a section")
            node = child
            path.append(key)
        key = _match_key(node, parts[-1])
        node[key] = _env_value(name, ".".join([*path, key]), value)


def _env_value(name: str, where: str, value: str) -> Any:
    """A variable's text as the key's value: a list or table when written as JSON (TOML has no other
    one-line form for them), else the text, which the key's type then converts (numbers, booleans, durations)."""
    if not value.lstrip().startswith(("[", "{")):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"config key '{where}' (environment variable {name}): not valid JSON ({err.msg} at character "
            f"{err.pos}); write a list as [\"a\", \"b\"] and a table as {{\"key\": \"value\"}}"
        ) from err


def _match_key(node: Mapping[str, Any], part: str) -> str:
    wanted = part.lower().replace("-", "_")
    for key in node:
        if key.lower().replace("-", "_") == wanted:
            return key
    return part.lower()


def resolve_files(node: dict[str, Any], base_dir: Path, where: str) -> None:
    """Replace every `X_file = "path"` by `X = <file contents>` (trailing newline stripped)."""
    for key in list(node):
        value = node[key]
        path = f"{where}.{key}" if where else key
        if isinstance(value, dict):
            resolve_files(value, base_dir, path)
        elif key.endswith("_file") and isinstance(value, str):
            target = key[: -len("_file")]
            if target in node:
                raise ConfigError(f"config key '{path}': set either {target} or {key}, not both")
            file = Path(value).expanduser()
            file = file if file.is_absolute() else base_dir / file
            try:
                node[target] = file.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as err:
                raise ConfigError(f"config key '{path}': cannot read secret file {file}: {err.strerror}") from err
            del node[key]


def secret_values(obj: Any) -> list[str]:
    """Every Secret inside a settings object, revealed, for the log masker's value list."""
    found: list[str] = []
    if isinstance(obj, Secret):
        found.append(obj.reveal())
    elif isinstance(obj, Struct):
        for field in obj.__struct_fields__:
            found.extend(secret_values(getattr(obj, field)))
    elif isinstance(obj, dict):
        for value in obj.values():
            found.extend(secret_values(value))
    return found

"""What a channel plugin declares (id, mode, settings, normaliser) and what its normaliser returns."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from msgspec import Struct

from kanal.settings_types import Duration
from schemas import Envelope

Mode = Literal["webhook", "poll"]


class NormaliseContext(Struct, frozen=True, kw_only=True):
    """What a pure normaliser may know besides the payload: who received it, for which account, and when."""

    channel: str
    instance: str
    account: str
    received_at: datetime


class Rejected(Struct, frozen=True, kw_only=True):
    """One event inside a payload that cannot become an envelope: dead-lettered with the reason."""

    reason: str
    detail: str
    data: bytes = b""


class Ignored(Struct, frozen=True, kw_only=True):
    """One event that is not a complaint (delivery receipt, echo, reaction): counted and logged, not routed."""

    reason: str
    detail: str = ""


class Outcome(Struct, frozen=True, kw_only=True):
    """Everything one raw payload became; nothing in the payload is left unaccounted for."""

    envelopes: tuple[Envelope, ...] = ()
    rejected: tuple[Rejected, ...] = ()
    ignored: tuple[Ignored, ...] = ()


Normaliser = Callable[[bytes, NormaliseContext], Outcome]


class InstanceSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Keys every `[connectors.<instance>]` section may have, whatever the channel."""

    channel: str
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 0
    public_url: str | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    media_max_bytes: int = 25 * 1024 * 1024
    poll_interval: Duration = Duration(seconds=60)
    silence_after: Duration | None = None
    publish_timeout: Duration = Duration(seconds=2)
    spool_dir: str | None = None
    spool_max_bytes: int = 1024**3  # bytes the spool may hold while NATS is away; past it, 503 + Retry-After
    stop_timeout: Duration = Duration(seconds=15)


@dataclass(frozen=True)
class ChannelSpec:
    """A channel as registered under the `kanal.connectors` entry-point group.

    Import-safe: `settings` must import without the channel's optional dependencies; the connector class and
    the normaliser are named by import path and loaded only when the channel runs.
    """

    id: str
    mode: Mode
    summary: str
    settings: type[Struct]
    connector: str
    normaliser: str
    requires: tuple[str, ...] = ()
    docs: str = ""
    extras: dict[str, Any] = field(default_factory=dict)
    # A provider calls this webhook at `public_url` (its console needs that URL; Twilio signs it). False for
    # endpoints Kanal serves to people and apps directly, where public_url only shapes the links it returns.
    provider_calls: bool = True
    # The provider's signature covers the URL it called (Twilio's does; Meta's, Telegram's and X's cover the
    # body only), so the instance must know that URL: `public_url` when a proxy is in front.
    signs_url: bool = False

    def instance_mode(self, settings: object) -> Mode:
        """The mode one instance runs in: its own `mode` setting (Telegram "polling", X "webhook") when the
        channel has one, else the channel's."""
        chosen = getattr(settings, "mode", None)
        if chosen in ("poll", "polling"):
            return "poll"
        if chosen == "webhook":
            return "webhook"
        return self.mode

    def load_connector(self) -> type[Any]:
        """The connector class (imports the channel's dependencies)."""
        loaded: type[Any] = _load(self.connector)
        return loaded

    def load_normaliser(self) -> Normaliser:
        """The pure normaliser function."""
        loaded: Normaliser = _load(self.normaliser)
        return loaded


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)

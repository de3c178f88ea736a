"""structlog set-up: JSON off a TTY, console on one, and a processor that masks secrets and personal data."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO, cast

import structlog

# Keys whose values are credentials: always replaced whole.
SECRET_KEYS = frozenset(
    {
        "password",
        "token",
        "secret",
        "auth_token",
        "app_secret",
        "access_token",
        "access_token_secret",
        "bot_token",
        "api_key",
        "api_secret",
        "bearer_token",
        "verify_token",
        "client_secret",
        "secret_token",
        "authorization",
        "consumer_secret",
        "refresh_token",
        "password_hash",
    }
)
# Keys whose values are a reporter's personal data: partly shown so ops can still correlate.
PERSONAL_KEYS = frozenset({"contact", "phone", "email", "nik", "from_", "sender", "msisdn", "wa_id", "reporter"})

_known_secrets: set[str] = set()


def register_secrets(values: Iterable[str]) -> None:
    """Remember secret values so they are masked wherever they appear in a log line, under any key."""
    _known_secrets.update(v for v in values if len(v) >= 6)


def mask_personal(value: str) -> str:
    """`081112722060` -> `08*******060`; `budi@example.id` -> `b***@example.id`."""
    local, at, domain = value.partition("@")
    if at and local and "." in domain:
        return f"{local[:1]}***@{domain}"
    if len(value) <= 4:
        return "****"
    keep = 3 if len(value) > 8 else 1
    return value[:2] + "*" * (len(value) - 2 - keep) + value[-keep:]


def _mask_value(key: str, value: Any) -> Any:
    lowered = key.lower()
    if lowered in SECRET_KEYS or lowered.endswith(("_secret", "_token", "_password")):
        return "****" if value else value
    if lowered in PERSONAL_KEYS:
        if isinstance(value, str):
            return mask_personal(value)
        if isinstance(value, dict):  # a reporter block: every identifying field is personal data
            return {k: mask_personal(v) if isinstance(v, str) else v for k, v in value.items()}
        return "****" if value else value
    if isinstance(value, dict):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, str) and _known_secrets:
        for secret in _known_secrets:
            if secret in value:
                value = value.replace(secret, "****")
    return value


def mask_processor(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask credential keys, personal-data keys and any registered secret value."""
    for key in list(event):
        event[key] = _mask_value(key, event[key])
    return event


# Libraries that log every request at info or debug (httpx: "HTTP Request: GET <url>", where Bot API URLs carry
# the token; twilio: each request's parameters, reporters' phone numbers included; httpcore: each connection
# step). Kanal logs the events that matter itself (media_download_failed, send results ...), with personal
# data masked by key, which a library's message text is not.
CHATTY_LIBRARIES = ("httpx", "httpcore", "hpack", "urllib3", "tweepy", "twilio", "telegram", "aiosmtpd", "mail.log")


def _component(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """For a library's stdlib log record: its logger name as the `component` (`faststream`, `uvicorn.error`)."""
    record = event.get("_record")
    if record is not None and "component" not in event:
        event["component"] = record.name
    return event


class _Stderr:
    """`sys.stderr` as it is at each write, not at configure time (a CLI runner or test may swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure(level: str = "info", fmt: str = "auto", stream: Any = None) -> None:
    """Configure structlog once per process; `fmt` is auto, json or console.

    Libraries that log through the standard `logging` module (FastStream, uvicorn) are rendered the same
    way, with their logger name as `component`, so a process writes one format.
    """
    out = stream or cast(TextIO, _Stderr())
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    shared: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    numeric = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *shared,
            structlog.processors.format_exc_info,
            mask_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _component],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            mask_processor,
            renderer,
        ],
    ))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)
    for chatty in CHATTY_LIBRARIES:  # a line per HTTP request or connection step: only their warnings
        logging.getLogger(chatty).setLevel(logging.WARNING)


def get(name: str | None = None, **context: Any) -> Any:
    """A structlog logger carrying `context` (`name` in the `component` key).

    It stays a lazy proxy until first used, so module-level loggers follow `configure()` even when they
    are created before it runs.
    """
    if name:
        context["component"] = name
    return structlog.get_logger(**context)

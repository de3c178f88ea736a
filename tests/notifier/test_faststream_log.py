"""FastStream writes through Kanal's log format, and an idle pull's timeout is one line, not an error."""

from __future__ import annotations

import io
import json
import logging

from kanal import log
from notifier.service import faststream_logger


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def test_faststream_records_are_kanal_json_and_idle_timeouts_are_not_errors() -> None:
    out = io.StringIO()
    log.configure("info", "json", stream=out)
    try:
        _log_three(faststream_logger())
    finally:
        log.configure("debug", "json")  # as tests/conftest.py set it for the session
    idle, real = _lines(out)
    assert idle["component"] == "notifier.faststream"
    assert idle["level"] == "info" and "exception" not in idle
    assert real["level"] == "error" and "ValueError: a real failure" in str(real["exception"])


def _log_three(logger: logging.Logger) -> None:
    try:
        raise TimeoutError  # what nats-py raises when the server's expiry of an empty pull beats its timer
    except TimeoutError as err:
        logger.log(logging.ERROR, "Task-19 raised an exception, retrying...", exc_info=err)
    try:
        raise ValueError("a real failure")
    except ValueError as err:
        logger.log(logging.ERROR, "Task-20 raised an exception, retrying...", exc_info=err)
    logger.log(logging.INFO, "`Routed` waiting for messages")  # start-up chatter: only at debug

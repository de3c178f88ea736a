"""The log masker: credentials never appear, personal data is partly hidden."""

from __future__ import annotations

import io
import json

import structlog

from kanal import log


def _emit(**fields: object) -> dict[str, object]:
    out = io.StringIO()
    log.configure("debug", "json", stream=out)
    structlog.get_logger().info("probe", **fields)
    line: dict[str, object] = json.loads(out.getvalue().splitlines()[-1])
    log.configure("debug", "json")
    return line


def test_secret_keys_are_masked() -> None:
    line = _emit(auth_token="abcdef123456", app_secret="x" * 10, password="hunter22")
    assert line["auth_token"] == "****"
    assert line["app_secret"] == "****"
    assert line["password"] == "****"


def test_registered_secret_values_are_masked_anywhere() -> None:
    log.register_secrets(["tok-9f8e7d6c5b"])
    line = _emit(error="401 for https://api.example/x?token=tok-9f8e7d6c5b")
    assert "tok-9f8e7d6c5b" not in json.dumps(line)


def test_personal_fields_are_partly_masked() -> None:
    line = _emit(contact="+6281234567890", email="budi.santoso@example.id", nik="3171010101010001",
                 reporter={"display_name": "Budi", "contact": "+6281234567890"})
    assert line["contact"] == "+6*********890"
    assert line["email"] == "b***@example.id"
    assert "3171010101010001" not in json.dumps(line)
    assert "+6281234567890" not in json.dumps(line)


def test_every_field_of_a_reporter_block_is_masked() -> None:
    line = _emit(reporter={"handle": "@budi_jkt", "user_id": "+6281234567890", "display_name": "Budi Santoso",
                           "anonymous": False})
    text = json.dumps(line)
    for value in ("+6281234567890", "@budi_jkt", "Budi Santoso"):
        assert value not in text
    assert line["reporter"]["anonymous"] is False  # type: ignore[index]

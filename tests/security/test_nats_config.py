"""`kanal nats config` binds loopback and leaves the (unauthenticated) monitoring port off unless asked."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kanal.cli import app
from kanal.ops import natsconf


def _server(text: str) -> dict[str, object]:
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    loaded: dict[str, object] = json.loads(body)
    return loaded


def test_defaults_are_loopback_without_monitoring(tmp_path: Path) -> None:
    toml = tmp_path / "kanal.toml"
    toml.write_text('[nats]\nurl = "nats://127.0.0.1:4222"\n')
    result = CliRunner().invoke(app, ["nats", "config", "-c", str(toml), "--secrets-dir", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    server = _server(result.stdout)
    assert server["host"] == "127.0.0.1" and "http_port" not in server
    asked = CliRunner().invoke(app, ["nats", "config", "-c", str(toml), "--secrets-dir", str(tmp_path / "s"),
                                     "--host", "10.0.0.4", "--http-port", "8222"])
    assert asked.exit_code == 0, asked.output
    assert _server(asked.stdout)["host"] == "10.0.0.4" and _server(asked.stdout)["http_port"] == 8222


def test_a_connector_may_publish_raw_payloads_of_its_own_instance_only() -> None:
    user = natsconf.connector_permissions("twilio", "sms-a")
    assert user.publish is not None
    raw = [s for s in user.publish if s.startswith("kanal.raw")]
    assert raw == ["kanal.raw.sms-a.>"]

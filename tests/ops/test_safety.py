"""Issue #19: the README's demo logins, the example's placeholders and clear-text listeners do not go live quietly."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from admin.settings import AdminSettings
from kanal.config import load
from kanal.ops import safety
from kanal.up import warn_unsafe

ANY = "0.0.0.0"  # noqa: S104  (the point of these tests)
EXAMPLE = Path(__file__).resolve().parents[2] / "kanal.example.toml"


def test_kanal_up_logs_a_warning_for_each_unsafe_setting() -> None:
    with capture_logs() as logs:
        warn_unsafe(load(EXAMPLE, env={}))
    unsafe = {entry["where"] for entry in logs if entry["event"] == "unsafe_setting"}
    assert {"[admin.users.pusat]", "[connectors.desk-kec-gambir] officers.petugas",
            "connectors.twilio-sms-08111272206.auth_token"} <= unsafe
    assert all(entry["log_level"] == "warning" for entry in logs if entry["event"] == "unsafe_setting")


def test_loopback_is_told_from_every_other_address() -> None:
    assert all(safety.is_loopback(h) for h in ("127.0.0.1", "127.0.1.1", "::1", "[::1]", "localhost"))
    assert not any(safety.is_loopback(h) for h in (ANY, "::", "", "10.0.0.5", "kanal.example.go.id"))


async def test_the_console_refuses_a_non_loopback_address_while_a_demo_password_is_in_use() -> None:
    from admin.console import serve

    config = load(EXAMPLE, env={"KANAL_ADMIN__HOST": ANY, "KANAL_NATS__URL": "nats://127.0.0.1:1"})
    settings = config.section("admin", AdminSettings)
    with capture_logs() as logs:
        code = await serve(config, settings)  # returns before it connects anywhere
    assert code == 2
    refused = [entry for entry in logs if entry["event"] == "demo_password_exposed"]
    assert refused and refused[0]["users"] == ["lurah-gambir", "pusat"]


def test_https_only_from_the_environment_is_read_as_a_boolean() -> None:
    for text, flagged in (("false", True), ("0", True), ("true", False), ("TRUE", False)):
        config = load(EXAMPLE, env={"KANAL_ADMIN__HOST": ANY, "KANAL_ADMIN__HTTPS_ONLY": text})
        assert any(u.where == "[admin]" for u in safety.exposed(config, {})) is flagged, text

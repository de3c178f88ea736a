"""Channel discovery: built-ins and plugins by entry point, unavailable ones listed with a reason, clashes refused."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from connectors import registry
from tests.connectors.sample_channels import feed, hook


def test_built_in_channels_are_registered_by_entry_point() -> None:
    entries = registry.discover()
    for channel in ("twilio", "kannel", "meta", "telegram", "x", "email", "lapor", "news", "app", "desk"):
        assert channel in entries
        assert entries[channel].source.startswith("kanal ")


def test_missing_optional_dependency_is_listed_not_fatal() -> None:
    needy = dataclasses.replace(hook, id="needy", requires=("kanal_module_that_is_not_installed",))
    entry = registry.discover([needy])["needy"]
    assert not entry.available
    assert "missing optional dependency: kanal_module_that_is_not_installed" in entry.reason
    with pytest.raises(registry.RegistryError, match="unavailable"):
        registry.get("needy", [needy])


def test_two_plugins_claiming_one_id_is_an_error() -> None:
    clash = dataclasses.replace(feed, id="twilio")
    with pytest.raises(registry.RegistryError, match="two plugins claim channel id 'twilio'"):
        registry.discover([clash])


def test_cli_lists_modes_settings_and_secrets() -> None:
    env = {**os.environ, "KANAL_EXTRA_CHANNELS": "tests.connectors.sample_channels:hook"}
    result = subprocess.run([sys.executable, "-m", "kanal", "connector", "list", "--json"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    rows = {row["channel"]: row for row in json.loads(result.stdout)["channels"]}
    assert rows["hook"]["mode"] == "webhook"
    settings = {s["name"]: s for s in rows["hook"]["settings"]}
    assert settings["secret"]["secret"] is True
    assert settings["account"]["secret"] is False
    text = subprocess.run([sys.executable, "-m", "kanal", "connector", "list"], capture_output=True, text=True,
                          env=env, timeout=60).stdout
    assert "secret (Secret, secret, required)" in text


def test_unknown_instance_says_what_is_configured(tmp_path: object) -> None:
    result = subprocess.run([sys.executable, "-m", "kanal", "connector", "run", "nope", "--config",
                             "kanal.example.toml"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "no [connectors.nope] section" in result.stderr


async def test_list_shows_the_configured_instances_and_whether_each_is_ready(nats_url: str, tmp_path: Path) -> None:
    """Issue #19: `kanal connector list --config x.toml` said "No such option" and showed channel types only."""
    from connectors.runtime import Instance
    from kanal.bus import free_port
    from kanal.testing import make_config
    from tests.connectors.sample_channels import hook

    port, idle = free_port(), free_port()
    cfg = tmp_path / "kanal.toml"
    cfg.write_text(f'[connectors.up]\nchannel = "hook"\naccount = "a"\nsecret = "s"\nport = {port}\n'
                   f'[connectors.down]\nchannel = "hook"\naccount = "a"\nsecret = "s"\nport = {idle}\n'
                   '[connectors.off]\nchannel = "hook"\nenabled = false\naccount = "a"\nsecret = "s"\n'
                   '[connectors.typo]\nchannel = "hook"\naccount = "a"\nsecrett = "s"\n')
    section = {"channel": "hook", "account": "a", "secret": "s", "port": port}
    instance = Instance(make_config(nats_url, tmp_path, connectors={"up": section}), "up", hook)
    running = asyncio.create_task(instance.run())
    try:
        await asyncio.wait_for(instance.listening.wait(), 30)
        env = {**os.environ, "KANAL_EXTRA_CHANNELS": "tests.connectors.sample_channels:hook"}
        done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "kanal", "connector", "list", "--config",
                                                        str(cfg), "--json"], capture_output=True, text=True, env=env,
                                       timeout=60)
        text = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "kanal", "connector", "list", "-c",
                                                        str(cfg)], capture_output=True, text=True, env=env, timeout=60)
    finally:
        instance.stop.set()
        await asyncio.wait_for(running, 30)
    assert done.returncode == 0, done.stderr
    rows = {row["instance"]: row for row in json.loads(done.stdout)["instances"]}
    assert rows["up"] | {"state": ""} == {"instance": "up", "channel": "hook", "mode": "webhook", "enabled": True,
                                          "port": port, "ready": True, "state": ""}
    assert rows["up"]["state"].startswith("ready")
    assert not rows["down"]["ready"] and "not answering" in rows["down"]["state"]
    assert rows["off"]["enabled"] is False and rows["off"]["state"].startswith("disabled")
    assert not rows["typo"]["ready"] and "secrett" in rows["typo"]["state"]
    assert f"Instances in {cfg}" in text.stdout and "Channels:" in text.stdout


def test_a_disabled_instance_shows_its_mode_and_what_it_needs_before_enabling() -> None:
    """The example's IMAP mailbox is disabled and has no credential yet: its mode is the channel's, not "?"."""
    from kanal.config import load
    from kanal.ops import instances

    rows = {row.instance: row for row in instances.rows(load(Path("kanal.example.toml")), probe=False)}
    mail = rows["email-dki"]
    assert (mail.channel, mail.mode, mail.enabled, mail.ready) == ("email", "poll", False, False)
    assert mail.state.startswith("disabled (enabled = false); before enabling it: ")
    assert "password_file" in mail.state

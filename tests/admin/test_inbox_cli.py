"""`kanal inbox` as docs/admin.md writes it: options before and after the subcommand, each subcommand's help."""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from typer.testing import CliRunner

from admin import cli
from kanal.cli import app
from tests.admin.helpers import GAMBIR, item, publish
from tests.admin.test_inbox import _write_config

DOCS = Path(__file__).resolve().parents[2] / "docs" / "admin.md"
# subcommand -> its function in admin/cli.py
SUBCOMMANDS = {"ack": "ack", "reroute": "reroute", "stage": "stage", "category": "category", "dispose": "dispose",
               "disposed": "disposed_list", "corrections": "corrections"}


def _documented(subcommand: str) -> list[str]:
    """The argv of docs/admin.md's example line for `kanal inbox <queue> --as <admin> <subcommand> ...`."""
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        words = shlex.split(line, comments=True)
        if words[:2] == ["kanal", "inbox"] and subcommand in words[2:6]:
            return words[1:]
    raise AssertionError(f"docs/admin.md has no `kanal inbox ... {subcommand}` example")


def _kanal(args: list[str], config: Path) -> subprocess.CompletedProcess[str]:
    """`kanal <args>` in a new process reading its config from $KANAL_CONFIG, as the docs' examples do."""
    env = {**os.environ, "KANAL_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-m", "kanal", *args], capture_output=True, text=True, timeout=60,
                          check=False, env=env)


async def test_the_documented_reroute_runs_as_written(provisioned: NATS, nats_url: str, tmp_path: Path) -> None:
    report = item("cli-reroute", text="Saluran air tersumbat di Jl. Majapahit")
    (seq,) = await publish(provisioned, report)
    config = _write_config(tmp_path, nats_url)
    argv = [f"#{seq}" if word == "#42" else word for word in _documented("reroute")]
    assert argv[:4] == ["inbox", GAMBIR, "--as", "lurah-gambir"] and "--to" in argv and "--reason" in argv

    run = await asyncio.to_thread(_kanal, argv, config)
    assert run.returncode == 0, run.stderr
    assert f"rerouted {report.ref} from {GAMBIR} to kecamatan.317101" in run.stdout

    run = await asyncio.to_thread(_kanal, ["inbox", "kecamatan.317101", "--as", "pusat", "--json"], config)
    assert run.returncode == 0, run.stderr
    assert report.ref in run.stdout
    run = await asyncio.to_thread(_kanal, ["inbox", GAMBIR, "--as", "lurah-gambir", "--all"], config)
    assert run.returncode == 0, run.stderr
    assert "kecamatan.317101" in run.stdout and "saluran: wewenang kecamatan" in run.stdout


async def test_group_options_go_on_either_side_of_the_queue(provisioned: NATS, nats_url: str,
                                                            tmp_path: Path) -> None:
    report = item("cli-ack", text="Lampu jalan mati")
    await publish(provisioned, report)
    config = _write_config(tmp_path, nats_url)
    run = await asyncio.to_thread(_kanal, ["inbox", "--as", "lurah-gambir", GAMBIR, "-c", str(config),
                                           "ack", report.ref], config)
    assert run.returncode == 0, run.stderr
    assert "acknowledged" in run.stdout and "by lurah-gambir" in run.stdout


def test_a_missing_option_exits_2_with_the_subcommands_usage() -> None:
    result = CliRunner().invoke(app, ["inbox", GAMBIR, "--as", "lurah-gambir", "reroute", "#42",
                                      "--reason", "saluran"])
    assert result.exit_code == 2
    assert "Usage: kanal inbox QUEUE reroute [OPTIONS] ITEM" in result.output
    assert "Missing option '--to'" in result.output and "{queue}" not in result.output


def test_a_listing_option_after_a_subcommand_is_refused() -> None:
    result = CliRunner().invoke(app, ["inbox", GAMBIR, "disposed", "--json"])
    assert result.exit_code == 2
    assert "No such option: --json" in result.output


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_each_subcommand_shows_its_own_help(subcommand: str) -> None:
    result = CliRunner().invoke(app, ["inbox", GAMBIR, "--as", "lurah-gambir", subcommand, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: kanal inbox QUEUE {subcommand} [OPTIONS]")
    doc = getattr(cli, SUBCOMMANDS[subcommand]).__doc__
    assert doc is not None
    first_words = " ".join(doc.split()[:4])
    assert first_words in " ".join(result.output.split())
    assert "--follow" not in result.output  # the listing's options are the group's, not this subcommand's


def test_the_date_filter_cannot_be_taken_for_reroutes_target() -> None:
    result = CliRunner().invoke(app, ["inbox", GAMBIR, "--help"])
    assert result.exit_code == 0
    assert "--since" in result.output and "--until" in result.output
    assert "--to " not in result.output and "--from " not in result.output

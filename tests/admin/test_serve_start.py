"""`kanal admin serve` with a file it needs at start missing: one line naming the file and the fix, exit 2."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from kanal.cli import app


def test_serve_names_an_unreadable_disposition_map_without_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "kanal.toml"
    config.write_text('[nats]\nurl = "nats://127.0.0.1:1"\n[admin]\ndisposition = "rules/disposition.toml"\n'
                      '[admin.users.pusat]\npassword_hash = "x"\nsuperadmin = true\n')
    result = CliRunner().invoke(app, ["admin", "serve", "--config", str(config)])
    assert result.exit_code == 2
    assert str(tmp_path / "rules" / "disposition.toml") in result.output
    assert "fix [admin] disposition in" in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)

"""One password module for admins and desk officers: salted scrypt, constant-time checks, no plain text."""

from __future__ import annotations

from kanal.passwords import hash_password, verify_password, well_formed


def test_password_hashes() -> None:
    hashed = hash_password("rahasia-sekali")
    assert well_formed(hashed) and "rahasia" not in hashed
    assert verify_password("rahasia-sekali", hashed) and not verify_password("rahasia-sekal1", hashed)
    assert not verify_password("rahasia-sekali", None) and not verify_password("x", "plain-password")
    assert hash_password("rahasia-sekali") != hashed  # salted
    assert not well_formed("plain-password")


def test_one_hash_command_for_admins_and_officers() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "kanal", "admin", "hash-password", "--password", "sandi-petugas-1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.strip()
    assert well_formed(printed) and verify_password("sandi-petugas-1", printed)

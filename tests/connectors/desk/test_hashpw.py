"""`python -m connectors.desk.hashpw`: the way an operator makes an officer's password hash."""

from __future__ import annotations

import subprocess
import sys

from connectors.desk.passwords import verify


def test_hashpw_prints_a_hash_that_verifies() -> None:
    done = subprocess.run([sys.executable, "-m", "connectors.desk.hashpw", "--stdin"], input="sandi-petugas-1\n",
                          capture_output=True, text=True, check=True)
    hashed = done.stdout.strip()
    assert hashed.startswith("scrypt$") and "sandi" not in hashed
    assert verify("sandi-petugas-1", hashed)


def test_hashpw_refuses_a_short_password() -> None:
    done = subprocess.run([sys.executable, "-m", "connectors.desk.hashpw", "--stdin"], input="pendek\n",
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == "" and "at least 8" in done.stderr

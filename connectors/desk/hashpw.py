"""`python -m connectors.desk.hashpw`: make a password hash for a desk officer's `officers` entry.

Prompts twice (or reads one line from stdin with --stdin) and prints `scrypt$...` to put in kanal.toml:
    [connectors.desk-kec-gambir]
    officers = { petugas1 = "scrypt$16384$8$1$...$..." }
"""

from __future__ import annotations

import getpass
import sys

from connectors.desk.passwords import make


def main(argv: list[str]) -> int:
    """Read a password, print its hash; exit 2 when the two entries differ or it is too short."""
    if "--stdin" in argv:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Officer password: ")
        if getpass.getpass("Again: ") != password:
            print("hashpw: the two passwords differ; nothing printed", file=sys.stderr)
            return 2
    if len(password) < 8:
        print("hashpw: use at least 8 characters", file=sys.stderr)
        return 2
    print(make(password))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Audit the locked dependencies against PyPI's published advisories: `make audit`.

For every `name==version` pin in the lock files it reads the `vulnerabilities` that PyPI publishes with the
release (PyPI imports them from the Python Packaging Advisory Database and OSV; pip-audit's default service
reads the same field). The per-release document (`/pypi/<name>/<version>/json`) is read first; where a
registry mirror serves only the project document (`/pypi/<name>/json`, as the registry this project is built
against does), that document is used when its latest release is the pinned one, since its advisories are the
latest release's.

Strict: a pin that cannot be looked up is a failure, never a silent skip. Exit 0: every pin was checked and none
has a known vulnerability; 1: a vulnerability was found or a pin could not be checked; 2: the lock cannot be read.

    python scripts/audit.py requirements.lock requirements-dev.lock [--index https://pypi.org/pypi]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


class Finding(NamedTuple):
    name: str
    version: str
    vulns: list[dict[str, Any]]
    error: str | None = None


def pins(paths: list[Path]) -> set[tuple[str, str]]:
    """Every pinned `(name, version)` in the lock files (a universal lock may pin a name per Python version)."""
    return {(re.sub(r"[-_.]+", "-", name).lower(), version)
            for path in paths for name, version in PIN.findall(path.read_text(encoding="utf-8"))}


def _get(url: str, timeout: float) -> dict[str, Any] | None:
    """The JSON document at `url`, or None when the registry has no such document (404)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (https registry URL)
            doc: dict[str, Any] = json.load(resp)
            return doc
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


def check(index: str, name: str, version: str, timeout: float = 20.0) -> Finding:
    """One pin's advisories, or the reason it could not be checked."""
    try:
        doc = _get(f"{index}/{name}/{version}/json", timeout)
        if doc is None:
            doc = _get(f"{index}/{name}/json", timeout)
            latest = doc["info"]["version"] if doc else None
            if latest != version:
                return Finding(name, version, [], f"not checked: this registry serves advisories only for the "
                                                  f"latest release ({latest}); audit this pin where pypi.org's "
                                                  f"per-release API is reachable")
        assert doc is not None
        return Finding(name, version, list(doc.get("vulnerabilities") or []))
    except (OSError, ValueError, KeyError) as err:
        return Finding(name, version, [], f"lookup failed: {err}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("locks", nargs="+", type=Path, help="lock files with name==version pins")
    parser.add_argument("--index", default="https://pypi.org/pypi", help="the registry's JSON API root")
    args = parser.parse_args(argv)
    try:
        pinned = pins(args.locks)
    except OSError as err:
        print(f"audit: {err}", file=sys.stderr)
        return 2
    with ThreadPoolExecutor(max_workers=8) as pool:
        findings = list(pool.map(lambda p: check(args.index.rstrip("/"), *p), sorted(pinned)))
    vulnerable = [f for f in findings if f.vulns]
    unchecked = [f for f in findings if f.error]
    for f in vulnerable:
        for v in f.vulns:
            fixed = ", ".join(v.get("fixed_in") or []) or "no fixed release"
            aliases = ", ".join(v.get("aliases") or [])
            print(f"VULNERABLE {f.name}=={f.version}: {v.get('id')} ({aliases}) fixed in {fixed}")
    for f in unchecked:
        print(f"UNCHECKED  {f.name}=={f.version}: {f.error}")
    print(f"audit: {len(findings)} pins, {len(findings) - len(unchecked)} checked, "
          f"{sum(len(f.vulns) for f in vulnerable)} known vulnerabilities, {len(unchecked)} not checked")
    return 1 if vulnerable or unchecked else 0


if __name__ == "__main__":
    sys.exit(main())

"""`make audit` (scripts/audit.py) against a local registry speaking PyPI's JSON API."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.serve import serving

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kanal_audit_script", ROOT / "scripts" / "audit.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ADVISORY = {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-0001"], "fixed_in": ["1.0.1"]}


class Registry:
    """PyPI's JSON API: per-release documents for `releases`, project documents for `projects`."""

    def __init__(self, releases: dict[tuple[str, str], list[dict[str, Any]]],
                 projects: dict[str, tuple[str, list[dict[str, Any]]]]) -> None:
        self.releases, self.projects, self.port = releases, projects, 0

    def app(self) -> Starlette:
        async def release(request: Request) -> Response:
            key = (request.path_params["name"], request.path_params["version"])
            if key not in self.releases:
                return Response(status_code=404)
            return JSONResponse({"info": {"version": key[1]}, "vulnerabilities": self.releases[key]})

        async def project(request: Request) -> Response:
            name = request.path_params["name"]
            if name not in self.projects:
                return Response(status_code=404)
            latest, vulns = self.projects[name]
            return JSONResponse({"info": {"version": latest}, "vulnerabilities": vulns})

        return Starlette(routes=[Route("/pypi/{name}/{version}/json", release),
                                 Route("/pypi/{name}/json", project)])


def _lock(tmp_path: Path, *pins: str) -> Path:
    path = tmp_path / "requirements.lock"
    path.write_text("".join(f"{pin} \\\n    --hash=sha256:{'0' * 64}\n" for pin in pins))
    return path


async def _audit(registry: Registry, lock: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    async with serving(registry):
        code = await asyncio.to_thread(_script().main, [str(lock), "--index", f"http://127.0.0.1:{registry.port}/pypi"])
    return code, capsys.readouterr().out


async def test_a_clean_locked_set_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = Registry({("alpha", "1.0.0"): []}, {"beta": ("2.0.0", [])})
    lock = _lock(tmp_path, "alpha==1.0.0", "Beta==2.0.0 ; python_version >= '3.11'")
    code, out = await _audit(registry, lock, capsys)
    assert code == 0, out
    assert "2 pins, 2 checked, 0 known vulnerabilities, 0 not checked" in out


async def test_a_known_vulnerability_fails_the_audit_and_names_the_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = Registry({("alpha", "1.0.0"): [ADVISORY]}, {"beta": ("2.0.0", [ADVISORY])})
    code, out = await _audit(registry, _lock(tmp_path, "alpha==1.0.0", "beta==2.0.0"), capsys)
    assert code == 1
    assert "VULNERABLE alpha==1.0.0: PYSEC-2099-1 (CVE-2099-0001) fixed in 1.0.1" in out
    assert "VULNERABLE beta==2.0.0" in out  # read from the project document: the pin is its latest release


async def test_a_pin_that_cannot_be_looked_up_fails_instead_of_being_skipped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = Registry({}, {"alpha": ("1.1.0", [])})  # no per-release document, and the pin is not the latest
    code, out = await _audit(registry, _lock(tmp_path, "alpha==1.0.0", "gamma==3.0"), capsys)
    assert code == 1
    assert "UNCHECKED  alpha==1.0.0: not checked: this registry serves advisories only for the latest release (1.1.0)" \
        in out
    assert "UNCHECKED  gamma==3.0" in out
    assert "2 pins, 0 checked" in out


def test_a_universal_lock_pins_a_name_once_per_python_version(tmp_path: Path) -> None:
    lock = _lock(tmp_path, "numpy==2.4.6 ; python_full_version < '3.12'",
                 "numpy==2.5.5 ; python_full_version >= '3.12'", "typing-extensions==4.15.0")
    assert _script().pins([lock]) == {("numpy", "2.4.6"), ("numpy", "2.5.5"), ("typing-extensions", "4.15.0")}

"""Desk test settings and a logged-in client helper."""

from __future__ import annotations

import re
from typing import Any

import httpx

from kanal.passwords import hash_password

PASSWORD = "meja-gambir-2026"
HASH = hash_password(PASSWORD)
SESSION_SECRET = "desk-session-secret-1234567890"  # shared by both desks on purpose: the worst case
GAMBIR: dict[str, Any] = {"office_code": "317101", "office_name": "Kecamatan Gambir", "office_kind": "kecamatan",
                          "officers": {"petugas": HASH}, "session_secret": SESSION_SECRET,
                          "max_body_bytes": 3_000_000, "max_file_bytes": 1_000_000}
MENTENG: dict[str, Any] = {**GAMBIR, "office_code": "317106", "office_name": "Kecamatan Menteng"}
BALAI_KOTA: dict[str, Any] = {**GAMBIR, "office_code": "31", "office_name": "Balai Kota DKI Jakarta",
                              "office_kind": "balai_kota"}


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


def key_of(html: str) -> str:
    """The submission key of the complaint form."""
    found = re.search(r'name="key" value="([0-9a-f]{32})"', html)
    assert found, "form has no submission key"
    return found.group(1)


async def login(client: httpx.AsyncClient, password: str = PASSWORD, username: str = "petugas") -> httpx.Response:
    """Log in through the form (GET for the token, then POST)."""
    page = await client.get("/desk/login")
    return await client.post("/desk/login", data={"csrf": csrf_of(page.text), "username": username,
                                                   "password": password})

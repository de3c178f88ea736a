"""The console fixtures of tests/admin, for the privacy and login tests here."""

from __future__ import annotations

from tests.admin.conftest import admin_settings, client_factory, console

__all__ = ["admin_settings", "client_factory", "console"]

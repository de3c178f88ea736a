"""Settings of a `lapor` instance: where the LAPOR! integration API is and how to authenticate."""

from __future__ import annotations

from msgspec import Struct

from kanal.settings_types import Duration, Secret


class LaporSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[connectors.<instance>]` keys of the LAPOR! channel besides the common ones."""

    # The envelope account: the K/L/D unit LAPOR! dispositions to, e.g. "pemprov-dki".
    account: str
    # Base URL of the integration API (from the LAPOR! admin page, developer role).
    base_url: str
    # Token issued by the LAPOR! admin, sent as `<auth_header>: <auth_scheme> <token>` (scheme "" = bare).
    token: Secret
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    # Reports per request (and per checkpoint).
    page_size: int = 50
    # First run only: read reports updated within this period.
    first_run_lookback: Duration = Duration(days=7)
    # Hosts besides base_url's that get the token when downloading attachments (e.g. "storage.lapor.go.id").
    media_auth_hosts: tuple[str, ...] = ()
    timeout: Duration = Duration(seconds=30)

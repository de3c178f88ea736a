"""Settings of a `desk` instance (one walk-in desk = one office); imports without any optional library."""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from kanal.settings_types import Duration, Secret

OfficeKind = Literal["kelurahan", "kecamatan", "walikota", "balai_kota", "inspektorat"]

# Balai Kota desks ask which region a complaint is about: the five kota and Kepulauan Seribu (BPS codes).
REGIONS: dict[str, str] = {
    "3101": "Kepulauan Seribu",
    "3171": "Jakarta Selatan",
    "3172": "Jakarta Timur",
    "3173": "Jakarta Pusat",
    "3174": "Jakarta Barat",
    "3175": "Jakarta Utara",
}


class DeskSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[connectors.<instance>]` keys of the desk channel, besides the common ones (host, port, ...).

    `officers` maps a username to a password hash made with `kanal admin hash-password`; only hashes
    belong in config. The office comes from here, never from the form: `office_code` is Envelope.account.
    """

    office_code: str  # e.g. "317101" (Kecamatan Gambir); Balai Kota / Inspektorat use their own codes
    office_name: str  # e.g. "Kecamatan Gambir"
    office_kind: OfficeKind
    officers: dict[str, Secret]  # username -> "scrypt$..." hash
    session_secret: Secret | None = None  # signs session cookies; unset: a random one per start (logs out on restart)
    session_max_age: Duration = Duration(hours=8)
    secure_cookie: bool = False  # true when served over HTTPS (sets the cookie's Secure flag)
    timezone: str = "Asia/Jakarta"  # for the time printed on the receipt
    max_files: int = 5
    max_file_bytes: int = 10 * 1024 * 1024
    max_description_chars: int = 4000
    categories: list[str] = []  # offered as a select; empty: free text
    # where the citizen follows the report, printed on the receipt ("https://…/laporan/{ref}", as [outbound])
    status_url: str | None = None

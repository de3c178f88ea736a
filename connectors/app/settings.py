"""Settings of an `app` instance (the citizen app API); imports without any optional library."""

from __future__ import annotations

from msgspec import Struct

from kanal.settings_types import Duration


class AppSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[connectors.<instance>]` keys of the app channel, besides the common ones (host, port, public_url ...).

    Set the common `max_body_bytes` above `max_photos * max_photo_bytes` (the whole multipart request).
    """

    account: str = "jaki"  # the app this instance serves: Envelope.account
    timezone: str = "Asia/Jakarta"  # for EXIF times written without OffsetTimeOriginal (phones use local time)
    max_photo_age: Duration = Duration(hours=2)  # a photo taken longer ago than this is refused, as JAKI does
    max_photos: int = 5
    max_photo_bytes: int = 10 * 1024 * 1024
    max_description_chars: int = 4000
    categories: list[str] = []  # empty: any category is accepted
    status_page_limit: int = 30  # GET /laporan/<ref> views per client address per minute
    wilayah: str | None = None  # code list (kode,level,nama,parent_kode) naming the kelurahan on the status page
    strip_private_gps: bool = False  # public reports always lose EXIF GPS in storage; private ones too if true

"""THE field mapping of the LAPOR! integration API — the one module to correct against the real API.

No public specification exists (see ../shared/samples/lapor/lapor_sp4n_api_notes.md): the integration docs
are only visible to a K/L/D admin with the developer role. Everything below is an ASSUMPTION built from
what is public: Indonesian field names (`judul`, `isi`, `kategori`, `lampiran`, `pelapor`, `anonim`,
`rahasia` as in the legacy API and the XML push format), numeric "Tracking ID" (e.g. 1916449), status
lifecycle. When the real docs are at hand, change the names here (and tests/fakes/lapor.py); the client,
the cursor and the normaliser read only `Report` and the constants below.

Assumed endpoint (keyset pagination, oldest change first):
    GET {base_url}/laporan?diperbarui_setelah=<RFC 3339>&id_setelah=<tracking id>&batas=<n>
    -> {"data": [<laporan>, ...], "meta": {"jumlah": n}}
returning reports whose (tanggal_diperbarui, tracking_id) is strictly after the given pair, sorted by
that pair. The client re-checks order and the bound itself, so a server that only honours
`diperbarui_setelah` inclusively still gives no gap and no repeat (unless more than `batas` reports share
one second: then `id_setelah` must be honoured).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import msgspec
from msgspec import Struct

LIST_PATH = "/laporan"
PARAM_UPDATED_AFTER = "diperbarui_setelah"
PARAM_AFTER_ID = "id_setelah"
PARAM_LIMIT = "batas"
LIST_KEY = "data"
PUBLIC_URL = "https://www.lapor.go.id/laporan/detil/{tracking_id}"
# LAPOR! runs on Jakarta time; a timestamp without an offset is read as WIB.
WIB = timezone(timedelta(hours=7), "WIB")


class Kategori(Struct, frozen=True, kw_only=True):
    id: str | int | None = None
    nama: str | None = None


class Lokasi(Struct, frozen=True, kw_only=True):
    alamat: str | None = None
    kelurahan: str | None = None
    kecamatan: str | None = None
    kota: str | None = None
    lat: float | str | None = None
    lng: float | str | None = None


class Lampiran(Struct, frozen=True, kw_only=True):
    nama: str | None = None
    url: str
    tipe: str | None = None  # MIME type


class Pelapor(Struct, frozen=True, kw_only=True):
    nama: str | None = None
    email: str | None = None
    telepon: str | None = None
    nik: str | None = None


class Laporan(Struct, frozen=True, kw_only=True):
    """One report as the API sends it."""

    tracking_id: str | int
    judul: str = ""
    isi: str = ""
    kategori: Kategori | None = None
    lokasi: Lokasi | None = None
    lampiran: list[Lampiran] = []
    tanggal_dibuat: str
    tanggal_diperbarui: str | None = None
    status: str | None = None
    anonim: bool = False
    rahasia: bool = False
    pelapor: Pelapor | None = None
    sumber: str | None = None  # web, sms, twitter, app...


class Keys(Struct, frozen=True, kw_only=True):
    """Just what the cursor needs, read leniently so one broken report cannot stop the page."""

    tracking_id: str | int | None = None
    tanggal_dibuat: str | None = None
    tanggal_diperbarui: str | None = None


class ListBody(Struct, frozen=True, kw_only=True):
    data: list[msgspec.Raw] = []


@dataclass(frozen=True)
class Attachment:
    url: str
    name: str | None
    media_type: str | None


@dataclass(frozen=True)
class Report:
    """A LAPOR! report in Kanal's terms."""

    tracking_id: str
    title: str
    content: str
    category: str | None
    address: str | None
    lat: float | None
    lon: float | None
    attachments: tuple[Attachment, ...]
    created_at: datetime
    updated_at: datetime
    status: str | None
    anonymous: bool
    confidential: bool
    name: str | None
    email: str | None
    phone: str | None
    nik: str | None
    source: str | None


_laporan = msgspec.json.Decoder(Laporan)
_keys = msgspec.json.Decoder(Keys)
_list = msgspec.json.Decoder(ListBody)


def parse_time(value: str) -> datetime:
    """RFC 3339 / `YYYY-MM-DD HH:MM:SS`; without an offset it is WIB."""
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=WIB)


def decode(raw: bytes) -> Report:
    """One report's JSON -> Report; raises msgspec.DecodeError or ValueError when it is unusable."""
    item = _laporan.decode(raw)
    where = item.lokasi or Lokasi()
    person = item.pelapor or Pelapor()
    address = ", ".join(p for p in (where.alamat, where.kelurahan, where.kecamatan, where.kota) if p) or None
    created = parse_time(item.tanggal_dibuat)
    return Report(
        tracking_id=str(item.tracking_id), title=item.judul.strip(), content=item.isi.strip(),
        category=item.kategori.nama if item.kategori else None, address=address,
        lat=_number(where.lat), lon=_number(where.lng),
        attachments=tuple(Attachment(a.url, a.nama, a.tipe) for a in item.lampiran),
        created_at=created,
        updated_at=parse_time(item.tanggal_diperbarui) if item.tanggal_diperbarui else created,
        status=item.status, anonymous=item.anonim, confidential=item.rahasia,
        name=None if item.anonim else person.nama, email=None if item.anonim else person.email,
        phone=None if item.anonim else person.telepon, nik=None if item.anonim else person.nik,
        source=item.sumber,
    )


def page_items(body: bytes) -> list[msgspec.Raw]:
    """The reports of one list response, each still raw."""
    return list(_list.decode(body).data)


def order_key(raw: bytes) -> tuple[datetime, int, str] | None:
    """(updated, tracking id) of a raw report, for the cursor; None when the report lacks them."""
    try:
        keys = _keys.decode(raw)
        stamp = keys.tanggal_diperbarui or keys.tanggal_dibuat
        if keys.tracking_id is None or stamp is None:
            return None
        return key(parse_time(stamp), str(keys.tracking_id))
    except (msgspec.DecodeError, ValueError):
        return None


def key(updated: datetime, tracking_id: str) -> tuple[datetime, int, str]:
    """Sort key: update time, then the tracking id numerically (ids are numeric codes)."""
    return updated, int(tracking_id) if tracking_id.isdigit() else -1, tracking_id


def _number(value: float | str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return None

"""Uploaded photos, without I/O: is it really an image, when and where was it taken, and a copy without GPS.

Pillow decides what a file is (the declared Content-Type is not trusted); EXIF is read with Pillow (JPEG,
PNG, WebP alike) and GPS is removed with piexif for JPEG/WebP (lossless: only the EXIF segment changes) or
by re-saving with Pillow otherwise. Orientation and the other EXIF tags are kept.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

import piexif
from PIL import Image, ImageOps, UnidentifiedImageError

try:  # HEIC/HEIF (iPhone) only when pillow-heif is installed; otherwise such photos are refused as unknown.
    from pillow_heif import register_heif_opener  # type: ignore[import-not-found, unused-ignore]

    register_heif_opener()
    HEIF = True
except ImportError:
    HEIF = False

MEDIA_TYPES: dict[str, str] = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
if HEIF:
    MEDIA_TYPES["HEIF"] = "image/heic"

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_OFFSET_TIME_ORIGINAL = 0x9011
_OFFSET_TIME_DIGITIZED = 0x9012
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


class NotAnImage(ValueError):
    """The bytes are not an image of an accepted format (whatever their declared type)."""


@dataclass(frozen=True)
class Photo:
    """What an uploaded image is: its real media type, when it was taken and where (if EXIF says)."""

    media_type: str
    format: str
    width: int
    height: int
    taken_at: datetime | None
    lat: float | None
    lon: float | None


def accepted_formats() -> str:
    """Human list of accepted formats, for error messages."""
    shown = {"WEBP": "WebP", "HEIF": "HEIC"}
    names = [shown.get(name, name) for name in MEDIA_TYPES]
    return ", ".join(names[:-1]) + " or " + names[-1]


def inspect(data: bytes, local_tz: tzinfo) -> Photo:
    """Open `data` with Pillow (content sniffing) and read EXIF time and GPS; NotAnImage when it is none."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                probe.verify()
            image = Image.open(io.BytesIO(data))
            image_format = image.format or ""
            if image_format not in MEDIA_TYPES:
                raise NotAnImage(f"a {image_format or 'unknown'} file; send {accepted_formats()}")
            exif = image.getexif()
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as err:
        if isinstance(err, NotAnImage):
            raise
        raise NotAnImage(f"not a readable image; send {accepted_formats()}") from err
    lat, lon = _gps(exif)
    return Photo(media_type=MEDIA_TYPES[image_format], format=image_format, width=width, height=height,
                 taken_at=_taken_at(exif, local_tz), lat=lat, lon=lon)


def _taken_at(exif: Image.Exif, local_tz: tzinfo) -> datetime | None:
    """DateTimeOriginal (else DateTimeDigitized) with OffsetTime* when present, else in `local_tz`."""
    sub = exif.get_ifd(_EXIF_IFD)
    for stamp_tag, offset_tag in ((_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL),
                                  (_DATETIME_DIGITIZED, _OFFSET_TIME_DIGITIZED)):
        stamp = _text(sub.get(stamp_tag))
        if not stamp:
            continue
        try:
            naive = datetime.strptime(stamp.strip(), "%Y:%m:%d %H:%M:%S")
        except ValueError:
            continue  # "0000:00:00 00:00:00" and other placeholders: no usable time
        offset = _OFFSET.match((_text(sub.get(offset_tag)) or "").strip())
        if offset:
            sign = -1 if offset.group(1) == "-" else 1
            delta = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3)))
            return naive.replace(tzinfo=timezone(sign * delta))
        return naive.replace(tzinfo=local_tz)
    return None


def _gps(exif: Image.Exif) -> tuple[float | None, float | None]:
    gps = exif.get_ifd(_GPS_IFD)
    try:
        lat = _degrees(gps.get(2), _text(gps.get(1)))
        lon = _degrees(gps.get(4), _text(gps.get(3)))
    except (TypeError, ValueError, ZeroDivisionError):
        return None, None
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None, None
    return lat, lon


def _degrees(value: Any, ref: str | None) -> float | None:
    if not value or not ref:
        return None
    d, m, s = (float(part) for part in value)
    result = d + m / 60 + s / 3600
    return -result if ref.strip().upper() in ("S", "W") else result


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").rstrip("\x00")
    return value if isinstance(value, str) else None


def without_gps(data: bytes, photo: Photo) -> tuple[bytes, str]:
    """The same image with its GPS IFD removed (orientation and other tags kept), and its media type.

    HEIC cannot be rewritten here, so a HEIC photo comes back as a JPEG.
    """
    if photo.format in ("JPEG", "WEBP"):
        try:
            exif = piexif.load(data)
            if not exif.get("GPS") and piexif.ImageIFD.GPSTag not in exif.get("0th", {}):
                return data, photo.media_type
            exif["GPS"] = {}
            exif["0th"].pop(piexif.ImageIFD.GPSTag, None)
            exif.pop("thumbnail", None)  # a thumbnail may carry its own copy of the scene, not of GPS: drop it
            exif["1st"] = {}
            out = io.BytesIO()
            piexif.insert(piexif.dump(exif), data, out)
            return out.getvalue(), photo.media_type
        except Exception:  # piexif cannot write some makers' tags: re-save with Pillow instead
            return _resave_without_gps(data, photo)
    return _resave_without_gps(data, photo)


def _resave_without_gps(data: bytes, photo: Photo) -> tuple[bytes, str]:
    with Image.open(io.BytesIO(data)) as opened:
        image: Image.Image = opened
        exif = image.getexif()
        if _GPS_IFD in exif:
            del exif[_GPS_IFD]
        out = io.BytesIO()
        save_format = photo.format if photo.format in ("JPEG", "PNG", "WEBP") else "JPEG"
        options: dict[str, Any] = {"exif": exif.tobytes()}
        if save_format == "JPEG":
            options["quality"] = 95
            if image.mode not in ("RGB", "L"):
                image = ImageOps.exif_transpose(image).convert("RGB")
        elif save_format == "WEBP":
            options["quality"] = 95
        image.save(out, format=save_format, **options)
        return out.getvalue(), MEDIA_TYPES[save_format]


def has_gps(data: bytes) -> bool:
    """True when the image's EXIF still carries a GPS position (used by tests and audits)."""
    with Image.open(io.BytesIO(data)) as image:
        return _gps(image.getexif()) != (None, None) or bool(image.getexif().get_ifd(_GPS_IFD))

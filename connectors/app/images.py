"""Uploaded photos, without I/O: is it really an image, when and where was it taken, and a copy without GPS.

Pillow decides what a file is (the declared Content-Type is not trusted); EXIF is read with Pillow (JPEG,
PNG, WebP alike); GPS (and, for anonymous reports, what identifies the phone) is removed with piexif for
JPEG/WebP (lossless: only the EXIF segment changes) or by re-saving with Pillow otherwise. Orientation and
the capture time are kept.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
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


class ImpossibleTime(NotAnImage):
    """The photo's EXIF capture time cannot be a real time (e.g. out of the range of any calendar we use)."""


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
        offset_text = (_text(sub.get(offset_tag)) or "").strip()
        offset = _OFFSET.match(offset_text)
        try:
            if offset:
                sign = -1 if offset.group(1) == "-" else 1
                delta = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3)))
                taken = naive.replace(tzinfo=timezone(sign * delta))
            else:
                taken = naive.replace(tzinfo=local_tz)
            taken.astimezone(UTC)  # every comparison converts to UTC: it must exist there
            return taken
        except (OverflowError, ValueError) as err:  # 0001:01:01 00:00:00 at +14:00 is before year 1 in UTC
            raise ImpossibleTime(f"dated {stamp.strip()} {offset_text}".rstrip() + ", a time no camera can "
                                 "have taken it; take a new photo of the problem") from err
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


# EXIF that identifies the phone or its owner (TIFF/EXIF tag numbers): removed from anonymous reports' photos.
DEVICE_TAGS_0TH = (271, 272, 305, 315, 316, 33432)  # Make, Model, Software, Artist, HostComputer, Copyright
DEVICE_TAGS_EXIF = (37500, 37510, 42016, 42032, 42033, 42035, 42036, 42037)
# MakerNote (serials inside), UserComment, ImageUniqueID, CameraOwnerName, BodySerialNumber, LensMake,
# LensModel, LensSerialNumber


def without_gps(data: bytes, photo: Photo) -> tuple[bytes, str]:
    """The same image with its GPS IFD removed (orientation and other tags kept), and its media type."""
    return scrubbed(data, photo, gps=True, device=False)


def scrubbed(data: bytes, photo: Photo, *, gps: bool, device: bool) -> tuple[bytes, str]:
    """The image without its GPS IFD (`gps`) and without what identifies the phone or its owner (`device`:
    make, model, serials, owner, maker notes); orientation and the capture time are kept.

    JPEG/WebP are rewritten losslessly (only the EXIF segment changes); HEIC cannot be rewritten here, so a
    HEIC photo comes back as a JPEG.
    """
    if photo.format in ("JPEG", "WEBP"):
        try:
            exif = piexif.load(data)
            if not _scrub_piexif(exif, gps, device):
                return data, photo.media_type
            exif.pop("thumbnail", None)  # a thumbnail may carry its own copy of the scene: drop it
            exif["1st"] = {}
            out = io.BytesIO()
            piexif.insert(piexif.dump(exif), data, out)
            return out.getvalue(), photo.media_type
        except Exception:  # piexif cannot write some makers' tags: re-save with Pillow instead
            return _resave_scrubbed(data, photo, gps, device)
    return _resave_scrubbed(data, photo, gps, device)


def _scrub_piexif(exif: dict[str, Any], gps: bool, device: bool) -> bool:
    """Remove the chosen tags from a piexif dict in place; True when anything was removed."""
    changed = False
    if gps and (exif.get("GPS") or piexif.ImageIFD.GPSTag in exif.get("0th", {})):
        exif["GPS"] = {}
        exif["0th"].pop(piexif.ImageIFD.GPSTag, None)
        changed = True
    if device:
        for ifd, tags in (("0th", DEVICE_TAGS_0TH), ("Exif", DEVICE_TAGS_EXIF)):
            for tag in tags:
                if exif.get(ifd, {}).pop(tag, None) is not None:
                    changed = True
    return changed


def _resave_scrubbed(data: bytes, photo: Photo, gps: bool, device: bool) -> tuple[bytes, str]:
    with Image.open(io.BytesIO(data)) as opened:
        image: Image.Image = opened
        exif = image.getexif()
        if gps and _GPS_IFD in exif:
            del exif[_GPS_IFD]
        if device:
            for tag in DEVICE_TAGS_0TH:
                exif.pop(tag, None)
            sub = exif.get_ifd(_EXIF_IFD)
            for tag in DEVICE_TAGS_EXIF:
                sub.pop(tag, None)
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


def device_tags(data: bytes) -> dict[int, Any]:
    """The identifying device/owner tags an image still carries (used by tests and audits)."""
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        found = {tag: exif[tag] for tag in DEVICE_TAGS_0TH if tag in exif}
        sub = exif.get_ifd(_EXIF_IFD)
        found.update({tag: sub[tag] for tag in DEVICE_TAGS_EXIF if tag in sub})
        return found


def has_gps(data: bytes) -> bool:
    """True when the image's EXIF still carries a GPS position (used by tests and audits)."""
    with Image.open(io.BytesIO(data)) as image:
        return _gps(image.getexif()) != (None, None) or bool(image.getexif().get_ifd(_GPS_IFD))

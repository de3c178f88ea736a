"""Real photos for the app and desk tests: JPEGs made with Pillow, EXIF (time, offset, GPS) written with piexif."""

from __future__ import annotations

import io
from datetime import datetime
from fractions import Fraction

import piexif
from PIL import Image

MONAS = (-6.175392, 106.827153)  # Monumen Nasional, Gambir


def _rational(value: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction((value - degrees - minutes / 60) * 3600).limit_denominator(10000)
    return (degrees, 1), (minutes, 1), (seconds.numerator, seconds.denominator)


def jpeg(taken_at: datetime | None = None, gps: tuple[float, float] | None = None, offset: str | None = None,
         orientation: int | None = None, size: tuple[int, int] = (64, 48), colour: str = "#2a6f97",
         pad_to: int = 0) -> bytes:
    """A JPEG whose EXIF carries DateTimeOriginal (naive local time as phones write it), offset and GPS."""
    exif: dict[str, dict[int, object]] = {"0th": {}, "Exif": {}, "GPS": {}}
    if orientation is not None:
        exif["0th"][piexif.ImageIFD.Orientation] = orientation
    if taken_at is not None:
        exif["Exif"][piexif.ExifIFD.DateTimeOriginal] = taken_at.strftime("%Y:%m:%d %H:%M:%S").encode()
    if offset is not None:
        exif["Exif"][piexif.ExifIFD.OffsetTimeOriginal] = offset.encode()
    if gps is not None:
        lat, lon = gps
        exif["GPS"] = {
            piexif.GPSIFD.GPSLatitudeRef: b"S" if lat < 0 else b"N",
            piexif.GPSIFD.GPSLatitude: _rational(lat),
            piexif.GPSIFD.GPSLongitudeRef: b"W" if lon < 0 else b"E",
            piexif.GPSIFD.GPSLongitude: _rational(lon),
        }
    out = io.BytesIO()
    image = Image.new("RGB", size, colour)
    options: dict[str, object] = {"quality": 90}
    if any(exif.values()):
        options["exif"] = piexif.dump(exif)
    if pad_to:
        options["comment"] = b"x" * pad_to  # makes a big but valid JPEG
    image.save(out, format="JPEG", **options)
    return out.getvalue()


def png() -> bytes:
    """A small PNG without EXIF."""
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "#c9a227").save(out, format="PNG")
    return out.getvalue()

"""Photo inspection and GPS removal for each accepted format, without the API around it."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import piexif
import pytest
from PIL import Image

from connectors.app import images
from tests.connectors.app.photos import MONAS, jpeg

JAKARTA = ZoneInfo("Asia/Jakarta")


def _with_exif(fmt: str) -> bytes:
    """A PNG or WebP carrying the same EXIF (GPS, time, orientation) as a phone JPEG."""
    source = Image.open(io.BytesIO(jpeg(datetime(2026, 11, 24, 9, 30), MONAS, orientation=3)))
    out = io.BytesIO()
    source.save(out, format=fmt, exif=source.getexif().tobytes())
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_gps_is_read_and_removed_in_every_format(fmt: str) -> None:
    data = _with_exif(fmt)
    photo = images.inspect(data, JAKARTA)
    assert photo.format == fmt and photo.lat == pytest.approx(MONAS[0], abs=1e-5)
    assert photo.taken_at is not None and photo.taken_at.utcoffset().total_seconds() == 7 * 3600  # type: ignore[union-attr]
    stripped, media_type = images.without_gps(data, photo)
    assert media_type == photo.media_type and images.has_gps(data) and not images.has_gps(stripped)
    with Image.open(io.BytesIO(stripped)) as image:
        assert image.format == fmt and image.getexif().get(piexif.ImageIFD.Orientation) == 3


def test_jpeg_without_gps_is_returned_unchanged() -> None:
    data = jpeg(datetime(2026, 11, 24, 9, 30))
    assert images.without_gps(data, images.inspect(data, JAKARTA)) == (data, "image/jpeg")


def test_placeholder_exif_time_means_unknown() -> None:
    exif = piexif.dump({"Exif": {piexif.ExifIFD.DateTimeOriginal: b"0000:00:00 00:00:00"}})
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="JPEG", exif=exif)
    assert images.inspect(out.getvalue(), JAKARTA).taken_at is None


def test_truncated_jpeg_is_not_an_image() -> None:
    with pytest.raises(images.NotAnImage):
        images.inspect(jpeg()[:40], JAKARTA)

"""The one MIME-type-to-kind mapping every channel uses."""

from __future__ import annotations

import pytest

from connectors.mediatypes import kind_of


@pytest.mark.parametrize(
    ("media_type", "name", "kind"),
    [
        ("image/jpeg", None, "image"),
        ("IMAGE/PNG; name=foto.png", None, "image"),
        ("video/mp4", None, "video"),
        ("audio/ogg; codecs=opus", None, "audio"),
        ("application/pdf", None, "document"),
        ("text/plain", None, "document"),
        ("message/rfc822", None, "document"),
        ("application/octet-stream", "laporan.pdf", "document"),
        (None, "https://lapor.go.id/files/123/foto-jalan.JPG?size=large", "image"),
        (None, "https://lapor.go.id/files/rekaman.mp4", "video"),
        (None, "surat.docx", "document"),
        (None, None, "other"),
        (None, "https://lapor.go.id/files/123", "other"),
        ("font/woff2", None, "other"),
        ("image/jpeg", "surat.pdf", "image"),  # a declared type wins over the name
    ],
)
def test_kind_from_type_then_name(media_type: str | None, name: str | None, kind: str) -> None:
    assert kind_of(media_type, name) == kind

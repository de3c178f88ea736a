"""The one mapping from a MIME type (or, failing that, a file name or URL) to an envelope attachment kind.

Pure: used by the normalisers and by the media store alike, so a photo is an `image` whichever channel sent it.
"""

from __future__ import annotations

import mimetypes
from urllib.parse import urlsplit

from schemas.envelope import AttachmentKind

_MEDIA = ("image", "video", "audio")
_DOCUMENT = ("application", "text", "message")  # PDFs, office files, plain text, forwarded mail
_UNKNOWN = ("", "application/octet-stream", "binary/octet-stream")


def kind_of(media_type: str | None, name: str | None = None) -> AttachmentKind:
    """`image`, `video`, `audio`, `document` or `other` for `media_type`; when the type says nothing
    (missing or octet-stream), the extension of `name` (a file name or URL) decides."""
    declared = (media_type or "").split(";", 1)[0].strip().lower()
    if declared in _UNKNOWN and name:
        guessed, _ = mimetypes.guess_type(urlsplit(name).path if "://" in name else name)
        if guessed:
            declared = guessed
    major = declared.split("/", 1)[0]
    if major in _MEDIA:
        return major  # type: ignore[return-value]
    if major in _DOCUMENT:
        return "document"
    return "other"

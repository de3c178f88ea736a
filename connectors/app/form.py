"""Field checks for submitted forms (app API and desk page): each bad field gets a message a person can act on."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.datastructures import UploadFile

from kanal.phone import normalise_phone
from schemas.envelope import Visibility

_NIK = re.compile(r"^[0-9]{16}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_TRUE = {"true", "1", "yes", "on", "ya"}
_FALSE = {"false", "0", "no", "off", "tidak", ""}
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


@dataclass
class Errors:
    """Field -> message; empty means valid."""

    fields: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        """Keep the first problem of each field (the one to fix first)."""
        self.fields.setdefault(name, message)

    def __bool__(self) -> bool:
        return bool(self.fields)


def text(values: dict[str, str], name: str, errors: Errors, *, required: bool = False, max_chars: int = 500,
         label: str | None = None) -> str | None:
    """A trimmed text field, or None when empty."""
    value = (values.get(name) or "").strip()
    if not value:
        if required:
            errors.add(name, f"{label or name} is required")
        return None
    if len(value) > max_chars:
        errors.add(name, f"{label or name} is {len(value)} characters; the limit is {max_chars}")
        return None
    return value


def nik(values: dict[str, str], name: str, errors: Errors) -> str | None:
    """The 16-digit NIK (national id number), optional."""
    value = re.sub(r"[\s.-]", "", values.get(name) or "")
    if not value:
        return None
    if not _NIK.match(value):
        errors.add(name, "NIK must be exactly 16 digits")
        return None
    return value


def phone(value: str, name: str, errors: Errors) -> str | None:
    """An Indonesian or international phone number, in E.164 (+62...): one form for every channel."""
    if not value.strip():
        return None
    number = normalise_phone(value)
    if number is None:
        errors.add(name, "phone number is not valid, e.g. 0812 3456 7890 or +62 812 3456 7890")
    return number


def email(value: str, name: str, errors: Errors) -> str | None:
    """An e-mail address (shape only), lower-cased domain."""
    value = value.strip()
    if not value:
        return None
    if not _EMAIL.match(value) or len(value) > 254:
        errors.add(name, "e-mail address is not valid, e.g. nama@contoh.id")
        return None
    local, _, domain = value.partition("@")
    return f"{local}@{domain.lower()}"


def contact(values: dict[str, str], name: str, errors: Errors) -> str | None:
    """A phone number or an e-mail address in one field (desk form)."""
    value = (values.get(name) or "").strip()
    if not value:
        return None
    if "@" in value:
        return email(value, name, errors)
    return phone(value, name, errors)


def flag(values: dict[str, str], name: str, errors: Errors) -> bool:
    """A boolean form field: true/false, 1/0, yes/no, on/off (absent is false)."""
    value = (values.get(name) or "").strip().lower()
    if value in _TRUE:
        return True
    if value not in _FALSE:
        errors.add(name, "must be true or false")
    return False


def visibility(values: dict[str, str], name: str, errors: Errors) -> Visibility:
    """`private` (default: only officials see it) or `public`."""
    value = (values.get(name) or "private").strip().lower()
    if value == "public":
        return "public"
    if value != "private":
        errors.add(name, "must be 'private' or 'public'")
    return "private"


def number(values: dict[str, str], name: str, errors: Errors, low: float, high: float) -> float | None:
    """A decimal number within [low, high], optional."""
    raw = (values.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        errors.add(name, "must be a decimal number, e.g. -6.1754")
        return None
    if not low <= value <= high or value != value:
        errors.add(name, f"must be between {low:g} and {high:g}")
        return None
    return value


def upload_name(upload: UploadFile, index: int) -> str:
    """The file's base name (no client path), shortened."""
    name = re.split(r"[\\/]", upload.filename or "")[-1].strip()
    return name[:120] or f"photo-{index}"


async def read_uploads(uploads: list[UploadFile], limit: int, errors: Errors, field: str, label: str,
                       too_large: Callable[[str, int], str]) -> tuple[list[tuple[str, str, bytes]], bool]:
    """Each upload within `limit` bytes as (label, name, bytes); one over it is an error on `field` and is
    never kept. `label` is formatted with `index` and `name`; `too_large(label, size)` words the error.
    Also returns whether one was too large (the answer is then 413, not 422)."""
    found: list[tuple[str, str, bytes]] = []
    over = False
    for index, upload in enumerate(uploads, start=1):
        name = upload_name(upload, index)
        data = await upload.read()
        shown = label.format(index=index, name=name)
        if len(data) > limit:
            over = True
            errors.add(field, too_large(shown, len(data)))
            continue
        found.append((shown, name, data))
    return found, over

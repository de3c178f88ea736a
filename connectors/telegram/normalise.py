"""Pure mapping of one Telegram `Update` (Bot API JSON, as pushed to a webhook or read by getUpdates).

A message's text or caption, its largest photo, document, video, voice or audio (by file_id: downloaded
later through getFile), its location or venue. Edits, channel posts, callbacks and the other update kinds
are not new complaints and are ignored with the kind as detail.

Chat ids are user ids in private chats, so ids outside the reporter block use a short digest of the chat id.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import msgspec

from connectors.errors import BadPayload
from connectors.mediatypes import kind_of
from connectors.spec import Ignored, NormaliseContext, Outcome
from schemas import Attachment, Envelope, Location, Reporter, Thread, envelope_id

FILE_PREFIX = "tg-file:"  # Attachment.source_url for a Telegram file_id (the real URL carries the bot token)


class User(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    is_bot: bool = False
    first_name: str = ""
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None  # the user's app language (IETF tag, "en", "id", "pt-br"), when Telegram has it


class Chat(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    type: str = "private"


class PhotoSize(msgspec.Struct, frozen=True, kw_only=True):
    file_id: str
    width: int = 0
    height: int = 0
    file_size: int | None = None


class File(msgspec.Struct, frozen=True, kw_only=True):
    """Document, video, voice or audio: the fields Kanal uses."""

    file_id: str
    file_name: str | None = None
    mime_type: str | None = None
    file_size: int | None = None


class TgLocation(msgspec.Struct, frozen=True, kw_only=True):
    latitude: float
    longitude: float
    horizontal_accuracy: float | None = None


class Venue(msgspec.Struct, frozen=True, kw_only=True):
    location: TgLocation
    title: str = ""
    address: str = ""


class MessageRef(msgspec.Struct, frozen=True, kw_only=True):
    message_id: int


class Message(msgspec.Struct, frozen=True, kw_only=True):
    message_id: int
    date: int
    chat: Chat
    from_: User | None = msgspec.field(name="from", default=None)
    text: str | None = None
    caption: str | None = None
    photo: list[PhotoSize] = []
    document: File | None = None
    video: File | None = None
    voice: File | None = None
    audio: File | None = None
    location: TgLocation | None = None
    venue: Venue | None = None
    reply_to_message: MessageRef | None = None
    forward_origin: dict[str, object] | None = None
    forward_date: int | None = None


class Update(msgspec.Struct, frozen=True, kw_only=True):
    update_id: int
    message: Message | None = None


_keys = msgspec.json.Decoder(dict[str, msgspec.Raw])
_update = msgspec.json.Decoder(Update)


def chat_key(chat_id: int) -> str:
    """A short stable digest of a chat id, for ids and threads that must not carry a user id."""
    return hashlib.blake2b(str(chat_id).encode(), digest_size=6, person=b"kanal-tg-chat").hexdigest()


def normalise(raw: bytes, ctx: NormaliseContext) -> Outcome:
    """One Update -> one envelope, or Ignored with the reason; BadPayload when it is not an Update."""
    try:
        kinds = [k for k in _keys.decode(raw) if k != "update_id"]
        update = _update.decode(raw)
    except msgspec.DecodeError as err:  # ValidationError is a DecodeError
        raise BadPayload("malformed_update", f"not a Telegram Update: {err}") from err
    if update.message is None:
        kind = kinds[0] if kinds else "empty"
        reason = "edited_message" if kind.startswith("edited_") else "unsupported_update"
        return Outcome(ignored=(Ignored(reason=reason, detail=f"update {update.update_id}: {kind}"),))
    message = update.message
    sender = message.from_
    if sender is not None and sender.is_bot:
        return Outcome(ignored=(Ignored(reason="from_bot", detail=f"update {update.update_id}"),))
    attachments = _attachments(message)
    location = _location(message)
    text = message.text or message.caption or ""
    if not text and not attachments and location is None:
        return Outcome(ignored=(Ignored(reason="no_content", detail=f"update {update.update_id}"),))
    key = chat_key(message.chat.id)
    external_id = f"{key}:{message.message_id}"
    reporter = Reporter(anonymous=True) if sender is None else Reporter(
        user_id=str(sender.id), handle=f"@{sender.username}" if sender.username else None,
        display_name=" ".join(p for p in (sender.first_name, sender.last_name) if p) or None)
    reply = message.reply_to_message
    envelope = Envelope(
        id=envelope_id(ctx.channel, ctx.account, external_id), channel=ctx.channel, instance=ctx.instance,
        account=ctx.account, external_id=external_id, kind="direct_message",
        created_at=datetime.fromtimestamp(message.date, UTC), received_at=ctx.received_at, reporter=reporter,
        visibility="private", text=text, attachments=attachments, location=location, language=_language(sender),
        thread=Thread(conversation=f"telegram:{key}", reply_to=f"{key}:{reply.message_id}" if reply else None),
        flags=("forwarded",) if message.forward_origin or message.forward_date else (),
    )
    return Outcome(envelopes=(envelope,))


def _language(sender: User | None) -> str | None:
    """The language of the sender's Telegram app ("en" of "en-GB"): the notifier answers in it when it can."""
    code = (sender.language_code or "").split("-")[0].lower() if sender is not None else ""
    return code if code.isalpha() and 2 <= len(code) <= 3 else None


def _attachments(message: Message) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.file_size or 0, p.width * p.height))
        found.append(Attachment(kind="image", media_type="image/jpeg", size=largest.file_size,
                                source_url=FILE_PREFIX + largest.file_id))
    for item, default_type in ((message.document, None), (message.video, "video/mp4"),
                               (message.voice, "audio/ogg"), (message.audio, "audio/mpeg")):
        if item is not None:
            media_type = item.mime_type or default_type
            found.append(Attachment(kind=kind_of(media_type), media_type=media_type, size=item.file_size,
                                    name=item.file_name, source_url=FILE_PREFIX + item.file_id))
    return tuple(found)


def _location(message: Message) -> Location | None:
    point = message.venue.location if message.venue else message.location
    if point is None:
        return None
    address = ", ".join(p for p in (message.venue.title, message.venue.address) if p) if message.venue else None
    try:
        return msgspec.convert({"lat": point.latitude, "lon": point.longitude, "source": "provider",
                                "accuracy_m": point.horizontal_accuracy, "address": address or None}, Location)
    except msgspec.ValidationError:
        return None

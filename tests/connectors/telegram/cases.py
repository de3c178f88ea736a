"""Telegram Updates in Bot API JSON (as a webhook receives them and getUpdates returns them)."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.telegram import message, text_message, user

PHOTO_SIZES = [
    {"file_id": "AgACAgUAAxkBAAIBd2VPhotoSmall", "file_unique_id": "AQADuq0xG1", "file_size": 1320,
     "width": 90, "height": 67},
    {"file_id": "AgACAgUAAxkBAAIBd2VPhotoLarge", "file_unique_id": "AQADuq0xG3", "file_size": 98812,
     "width": 1280, "height": 960},
    {"file_id": "AgACAgUAAxkBAAIBd2VPhotoMedium", "file_unique_id": "AQADuq0xG2", "file_size": 21002,
     "width": 320, "height": 240},
]


def update(update_id: int, **kinds: Any) -> bytes:
    return json.dumps({"update_id": update_id, **kinds}, ensure_ascii=False).encode()


TEXT = update(815000001, message=text_message(
    101, "Selamat pagi, got mampet di Jl. Tebet Barat Dalam, air meluap ke jalan 😡🌧️"))
PHOTO = update(815000002, message=message(102, photo=PHOTO_SIZES, caption="Lubang besar di Jl. Gatot Subroto 🕳️"))
DOCUMENT = update(815000003, message=message(103, document={
    "file_name": "surat_pengaduan_RT05.pdf", "mime_type": "application/pdf",
    "file_id": "BQACAgUAAxkBAAIBeGVDocument", "file_unique_id": "AgADxw8AAk", "file_size": 48213}))
LOCATION = update(815000004, message=message(104, location={
    "latitude": -6.244669, "longitude": 106.800483, "horizontal_accuracy": 12.5}))
VENUE = update(815000005, message=message(105, venue={
    "location": {"latitude": -6.175392, "longitude": 106.827153}, "title": "Monumen Nasional",
    "address": "Gambir, Jakarta Pusat", "foursquare_id": "4b0587f8f964a5203c9c22e3"},
    location={"latitude": -6.175392, "longitude": 106.827153}))
GROUP = update(815000006, message=message(106, sender=user(5598765432, "Siti", None, None), chat_id=-1001234567890,
                                         text="Lampu PJU mati sejak kemarin malam", reply_to_message=message(
                                             100, text="Ada yang tahu nomor pengaduan?"),
                                         forward_origin={"type": "hidden_user", "date": 1763950000,
                                                         "sender_user_name": "Warga"}))
EDITED = update(815000007, edited_message={**text_message(101, "Got mampet (diedit)"), "edit_date": 1763953300})
CALLBACK = update(815000008, callback_query={"id": "4382bfdwdsb323b2d9", "from": user(), "chat_instance": "-8",
                                             "data": "kategori:banjir"})
FROM_BOT = update(815000009, message=message(107, sender={"id": 777, "is_bot": True, "first_name": "Bot"},
                                             text="halo"))
SERVICE = update(815000010, message=message(108, new_chat_members=[user(5500000001)]))
CHANNEL_POST = update(815000011, channel_post={"message_id": 5, "date": 1763953200, "text": "Info",
                                               "chat": {"id": -1009876543210, "type": "channel", "title": "DKI"}})

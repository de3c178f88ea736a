"""Meta webhook bodies in the real wire shapes (Graph webhooks reference), so a clone without ../shared is covered.

Ids look like real ones (numeric strings, `m_`/`mid.$` message ids, `wamid.` WhatsApp ids); texts are the
kind of Indonesian complaints Jakarta receives, with emoji.
"""

from __future__ import annotations

import json
from typing import Any

PAGE = "104729381029384"          # Pemprov DKI page id
OTHER_PAGE = "998877665544332"    # a page this instance does not serve
IG = "17841405822304914"          # Instagram professional account id
WABA = "102290129340398"          # WhatsApp Business Account id (entry.id)
PHONE = "106540352242922"         # WhatsApp phone_number_id (the account)
PSID = "6253972964654236"         # a Messenger user's page-scoped id
IGSID = "533726131851236"
WA_ID = "6281234567890"
BSUID = "ID.1502576394655843"     # business-scoped user id: two-letter country, a period, letters and digits

TEXT_ID = "Jalan di depan rumah saya berlubang besar 😡🚧, sudah 3 minggu belum diperbaiki. Mohon segera!"


def dumps(body: dict[str, Any]) -> bytes:
    """Compact JSON with \\u escapes for non-ASCII, as Meta sends it (the signature covers these bytes)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode()


def _entry(kind: str, entry_id: str, time: int, events: tuple[dict[str, Any], ...],
           changes: list[dict[str, Any]] | None) -> bytes:
    """A body of one entry: `messaging` events and/or `changes` (omitted when empty, as Meta omits them)."""
    entry: dict[str, Any] = {"id": entry_id, "time": time}
    if events:
        entry["messaging"] = list(events)
    if changes:
        entry["changes"] = changes
    return dumps({"object": kind, "entry": [entry]})


def page(*events: dict[str, Any], page_id: str = PAGE, changes: list[dict[str, Any]] | None = None) -> bytes:
    return _entry("page", page_id, 1732418400123, events, changes)


def messenger(mid: str, text: str | None = None, *, attachments: list[dict[str, Any]] | None = None,
              sender: str = PSID, recipient: str = PAGE, **message: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"mid": mid, **message}
    if text is not None:
        body["text"] = text
    if attachments is not None:
        body["attachments"] = attachments
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": 1732418399876,
            "message": body}


def receipt(kind: str) -> dict[str, Any]:
    bodies: dict[str, dict[str, Any]] = {
        "delivery": {"mids": ["m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgX"],
                     "watermark": 1732418399000},
        "read": {"watermark": 1732418399000},
    }
    return {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": 1732418399876, kind: bodies[kind]}


def reaction(mid: str, *, sender: str = PSID, recipient: str = PAGE, **fields: Any) -> dict[str, Any]:
    """A Messenger `message_reactions` / Instagram reaction event (Messenger Platform webhook reference)."""
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": 1732418399912,
            "reaction": {"mid": mid, "action": "react", **fields}}


def feed(item: str, verb: str = "add", *, author: str = PSID, name: str = "Budi Santoso",
         **value: Any) -> dict[str, Any]:
    return {"field": "feed", "value": {"from": {"id": author, "name": name}, "item": item, "verb": verb,
                                        "created_time": 1732418400, **value}}


def instagram(*events: dict[str, Any], changes: list[dict[str, Any]] | None = None, account: str = IG) -> bytes:
    return _entry("instagram", account, 1732418400, events, changes)


def whatsapp(*messages: dict[str, Any], statuses: list[dict[str, Any]] | None = None, phone: str = PHONE,
             errors: list[dict[str, Any]] | None = None, contacts: list[dict[str, Any]] | None = None) -> bytes:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "628111272206", "phone_number_id": phone},
    }
    if messages:
        value["contacts"] = contacts if contacts is not None else [{"profile": {"name": "Siti Rahayu"}, "wa_id": WA_ID}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = statuses
    if errors:
        value["errors"] = errors
    return dumps({"object": "whatsapp_business_account",
                  "entry": [{"id": WABA, "changes": [{"value": value, "field": "messages"}]}]})


def wa(wamid: str, kind: str, content: Any = None, *, sender: str | None = WA_ID, **extra: Any) -> dict[str, Any]:
    """One messages[] element; `sender=None` leaves `from` out (a username user whose number Meta withholds)."""
    message: dict[str, Any] = {"id": wamid, "timestamp": "1732418401", "type": kind, **extra}
    if sender is not None:
        message["from"] = sender
    if content is not None:
        message[kind] = content
    return message


def wamid(n: int) -> str:
    return f"wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjBDMEE{n:04d}RDA3RjZGQjE1QQA="

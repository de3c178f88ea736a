"""Meta webhook payloads as msgspec Structs: the wire shapes of page, instagram and whatsapp_business_account.

Only the fields Kanal reads are declared; unknown fields are tolerated (Meta adds fields without notice).
Events stay `msgspec.Raw` until decoded one by one, so one malformed event cannot sink its batch.
"""

from __future__ import annotations

import msgspec
from msgspec import Raw, Struct, field

# Meta ids are JSON strings, but a few older payloads carry numbers.
Id = str | int
Stamp = int | float | str


class Top(Struct, kw_only=True):
    """The POST body: which product it is about, and its entries (one per page/account)."""

    object: str = ""
    entry: list[Raw] = []


class Entry(Struct, kw_only=True):
    """One entry: the page / Instagram account / WhatsApp business account it is addressed to."""

    id: Id
    time: Stamp | None = None
    messaging: list[Raw] = []
    standby: list[Raw] = []
    changes: list[Raw] = []


class Party(Struct, kw_only=True):
    id: Id


class Coordinates(Struct, kw_only=True):
    lat: float
    long: float


class AttachmentPayload(Struct, kw_only=True):
    url: str | None = None
    coordinates: Coordinates | None = None
    title: str | None = None
    sticker_id: Id | None = None


class MessageAttachment(Struct, kw_only=True):
    """Messenger / Instagram attachment; the "fallback" type has a null payload and an upper-case URL key."""

    type: str
    payload: AttachmentPayload | None = None
    title: str | None = None
    fallback_url: str | None = field(default=None, name="URL")
    url: str | None = None


class ReplyTo(Struct, kw_only=True):
    mid: str | None = None


class Reaction(Struct, kw_only=True):
    """Messenger `message_reactions` / Instagram `reaction` event: who reacted how to which message."""

    mid: str = ""
    action: str = "react"
    reaction: str | None = None
    emoji: str | None = None


class Postback(Struct, kw_only=True):
    """A tap on a button Kanal (or the page) sent: its title is what the person chose."""

    title: str = ""
    payload: str | None = None
    mid: str | None = None


class Message(Struct, kw_only=True):
    mid: str
    text: str | None = None
    attachments: list[MessageAttachment] | None = None
    is_echo: bool = False
    is_deleted: bool = False
    is_unsupported: bool = False
    reply_to: ReplyTo | None = None


class MessagingEvent(Struct, kw_only=True):
    """One entry[].messaging[] element; events other than `message` are told apart by their key."""

    sender: Party | None = None
    recipient: Party | None = None
    timestamp: Stamp | None = None
    message: Message | None = None
    reaction: Reaction | None = None
    postback: Postback | None = None


class Change(Struct, kw_only=True):
    """One entry[].changes[] element: `field` says what changed, `value` is field-specific."""

    field: str
    value: Raw = Raw(b"null")


class Author(Struct, kw_only=True):
    id: Id | None = None
    name: str | None = None
    username: str | None = None
    self_ig_scoped_id: Id | None = None


class FeedValue(Struct, kw_only=True):
    """Page `feed` change: a post, status, photo, video, comment or reaction, added, edited or removed."""

    item: str = ""
    verb: str = ""
    author: Author | None = field(default=None, name="from")
    post_id: str | None = None
    comment_id: str | None = None
    parent_id: str | None = None
    message: str | None = None
    created_time: Stamp | None = None
    photo: str | None = None
    photos: list[str] | None = None
    video: str | None = None
    link: str | None = None


class IgMedia(Struct, kw_only=True):
    id: Id
    media_product_type: str | None = None


class IgComment(Struct, kw_only=True):
    """Instagram `comments` / `live_comments` change value."""

    id: Id
    text: str = ""
    author: Author | None = field(default=None, name="from")
    media: IgMedia | None = None
    parent_id: Id | None = None


class IgMention(Struct, kw_only=True):
    """Instagram `mentions` change value: ids only (the text is behind the Graph API)."""

    media_id: Id
    comment_id: Id | None = None


class WaMetadata(Struct, kw_only=True):
    phone_number_id: Id
    display_phone_number: str = ""


class WaProfile(Struct, kw_only=True):
    name: str | None = None
    username: str | None = None  # set when the user adopted a WhatsApp username


class WaContact(Struct, kw_only=True):
    """The sender as `contacts[]` names them: `wa_id` (their phone number, omitted for a username user whose
    number Meta withholds), `user_id` (business-scoped user id, BSUID) and profile name / username."""

    wa_id: str | None = None
    profile: WaProfile | None = None
    user_id: str | None = None
    parent_user_id: str | None = None


class WaErrorData(Struct, kw_only=True):
    details: str = ""


class WaError(Struct, kw_only=True):
    code: int | None = None
    title: str = ""
    message: str = ""
    error_data: WaErrorData | None = None


class WaValue(Struct, kw_only=True):
    """WhatsApp Cloud API `messages` change value."""

    metadata: WaMetadata
    messaging_product: str = ""
    contacts: list[WaContact] = []
    messages: list[Raw] = []
    statuses: list[Raw] = []
    errors: list[WaError] = []


class WaStatus(Struct, kw_only=True):
    id: str = ""
    status: str = ""
    timestamp: str | int | None = None
    errors: list[WaError] = []


class WaText(Struct, kw_only=True):
    body: str = ""


class WaMedia(Struct, kw_only=True):
    id: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None
    url: str | None = None


class WaLocation(Struct, kw_only=True):
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    url: str | None = None


class WaReply(Struct, kw_only=True):
    id: str = ""
    title: str = ""
    description: str | None = None


class WaFlowReply(Struct, kw_only=True):
    """A WhatsApp Flow's answer: `response_json` is a JSON *string* of the fields the person filled in."""

    name: str = ""
    body: str = ""
    response_json: str = ""


class WaInteractive(Struct, kw_only=True):
    type: str = ""
    button_reply: WaReply | None = None
    list_reply: WaReply | None = None
    nfm_reply: WaFlowReply | None = None


class WaReaction(Struct, kw_only=True):
    """`message_id` is the message reacted to; no `emoji` means the reaction was removed."""

    message_id: str = ""
    emoji: str | None = None


class WaName(Struct, kw_only=True):
    formatted_name: str = ""


class WaPhone(Struct, kw_only=True):
    phone: str = ""


class WaSharedContact(Struct, kw_only=True):
    """One contact card the person shared (`contacts` message)."""

    name: WaName | None = None
    phones: list[WaPhone] = []


class WaProduct(Struct, kw_only=True):
    product_retailer_id: str = ""
    quantity: int | str = 1


class WaOrder(Struct, kw_only=True):
    catalog_id: str | None = None
    text: str | None = None
    product_items: list[WaProduct] = []


class WaSystem(Struct, kw_only=True):
    """Identity changes (`user_changed_number`, `user_changed_user_id`): no one wrote this."""

    type: str = ""
    body: str = ""


class WaButton(Struct, kw_only=True):
    text: str = ""
    payload: str | None = None


class WaContext(Struct, kw_only=True):
    id: str | None = None
    sender: str | None = field(default=None, name="from")
    forwarded: bool = False
    frequently_forwarded: bool = False


class WaMessage(Struct, kw_only=True):
    """One WhatsApp messages[] element."""

    id: str
    timestamp: Stamp
    type: str
    sender: str | None = field(default=None, name="from")  # the phone number; absent for a username user
    from_user_id: str | None = None  # the sender's business-scoped user id (BSUID)
    group_id: str | None = None  # set when the message was sent to a WhatsApp group the business is in
    text: WaText | None = None
    image: WaMedia | None = None
    document: WaMedia | None = None
    audio: WaMedia | None = None
    voice: WaMedia | None = None
    video: WaMedia | None = None
    sticker: WaMedia | None = None
    location: WaLocation | None = None
    interactive: WaInteractive | None = None
    button: WaButton | None = None
    reaction: WaReaction | None = None
    contacts: list[WaSharedContact] | None = None
    order: WaOrder | None = None
    system: WaSystem | None = None
    context: WaContext | None = None
    errors: list[WaError] = []


top = msgspec.json.Decoder(Top)
entry = msgspec.json.Decoder(Entry)
messaging_event = msgspec.json.Decoder(MessagingEvent)
change = msgspec.json.Decoder(Change)
feed_value = msgspec.json.Decoder(FeedValue)
ig_comment = msgspec.json.Decoder(IgComment)
ig_mention = msgspec.json.Decoder(IgMention)
wa_value = msgspec.json.Decoder(WaValue)
wa_status = msgspec.json.Decoder(WaStatus)
wa_message = msgspec.json.Decoder(WaMessage)
keys = msgspec.json.Decoder(dict[str, Raw])

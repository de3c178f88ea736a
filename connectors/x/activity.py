"""Pure: an Account Activity webhook delivery (X's v1.1 object format) -> envelopes.

One POST carries `for_user_id` (the subscribed account) and one kind of event list. Kanal reads:
- `tweet_create_events`: tweets that mention, reply to or quote the account (and the account's own tweets,
  which are ignored) -> `post`, or `comment` when replying; retweets ignored.
- `direct_message_events` of type `message_create`, with the `users` map for names -> `direct_message`; the
  account's own sent messages come back as events too and are ignored.
Every other list (favorites, follows, deletions, typing, read receipts ...) is acknowledged and ignored with
the reason `activity_not_a_message`. Ids, kinds, threads and attachments match the v2 poller's, so a mention
that arrives both ways is one envelope id (the router drops the second as an exact repeat).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

import msgspec
from msgspec import Struct

from connectors.errors import BadPayload
from connectors.spec import Ignored, NormaliseContext, Outcome, Rejected
from connectors.x.payload import NOT_A_LANGUAGE, bbox_location, snowflake_time
from schemas import Attachment, Envelope, Location, Reporter, Thread, envelope_id


class Variant(Struct, frozen=True, kw_only=True):
    content_type: str = ""
    url: str = ""
    bitrate: int | None = None


class VideoInfo(Struct, frozen=True, kw_only=True):
    variants: list[Variant] = []


class Media(Struct, frozen=True, kw_only=True):
    id_str: str = ""
    type: str = "photo"
    media_url_https: str | None = None
    video_info: VideoInfo | None = None


class Entities(Struct, frozen=True, kw_only=True):
    media: list[Media] = []


class TweetUser(Struct, frozen=True, kw_only=True):
    id_str: str
    screen_name: str | None = None
    name: str | None = None


class Point(Struct, frozen=True, kw_only=True):
    coordinates: list[float] = []  # [lon, lat]


class BoundingBox(Struct, frozen=True, kw_only=True):
    coordinates: list[list[list[float]]] = []  # one ring of [lon, lat]


class Place(Struct, frozen=True, kw_only=True):
    full_name: str | None = None
    name: str | None = None
    bounding_box: BoundingBox | None = None


class Extended(Struct, frozen=True, kw_only=True):
    full_text: str = ""
    entities: Entities | None = None
    extended_entities: Entities | None = None


class Quoted(Struct, frozen=True, kw_only=True):
    text: str = ""
    full_text: str | None = None
    truncated: bool = False
    extended_tweet: Extended | None = None


class Retweeted(Struct, frozen=True, kw_only=True):
    id_str: str = ""


class Tweet(Struct, frozen=True, kw_only=True):
    id_str: str
    created_at: str | None = None  # "Wed Oct 10 20:19:24 +0000 2018"
    text: str = ""
    full_text: str | None = None
    truncated: bool = False
    extended_tweet: Extended | None = None
    user: TweetUser
    in_reply_to_status_id_str: str | None = None
    retweeted_status: Retweeted | None = None
    quoted_status: Quoted | None = None
    coordinates: Point | None = None
    place: Place | None = None
    entities: Entities = Entities()
    extended_entities: Entities | None = None
    lang: str | None = None


class DmAttachment(Struct, frozen=True, kw_only=True):
    type: str = ""
    media: Media | None = None


class MessageData(Struct, frozen=True, kw_only=True):
    text: str = ""
    attachment: DmAttachment | None = None


class Target(Struct, frozen=True, kw_only=True):
    recipient_id: str


class MessageCreate(Struct, frozen=True, kw_only=True):
    target: Target
    sender_id: str
    message_data: MessageData = MessageData()


class DmEvent(Struct, frozen=True, kw_only=True):
    type: str
    id: str
    created_timestamp: str | None = None  # milliseconds since the epoch, as a string
    message_create: MessageCreate | None = None


class DmUser(Struct, frozen=True, kw_only=True):
    id: str
    name: str | None = None
    screen_name: str | None = None


class Activity(Struct, frozen=True, kw_only=True):
    """The fields Kanal reads of one delivery; the other event lists only make it non-empty."""

    for_user_id: str
    tweet_create_events: list[msgspec.Raw] = []
    direct_message_events: list[msgspec.Raw] = []
    users: dict[str, DmUser] = {}


_activity = msgspec.json.Decoder(Activity)
_tweet = msgspec.json.Decoder(Tweet)
_dm = msgspec.json.Decoder(DmEvent)


def is_activity(raw: bytes) -> bool:
    """Whether a raw item is a webhook delivery (the poller's raw items are API v2 responses)."""
    return raw.lstrip().startswith(b"{") and b'"for_user_id"' in raw


def normalise(raw: bytes, ctx: NormaliseContext) -> Outcome:
    """Every tweet and message of the delivery: an envelope, Ignored, or Rejected (a malformed element)."""
    try:
        body = _activity.decode(raw)
    except msgspec.DecodeError as err:
        raise BadPayload("malformed_x_activity", str(err)) from err
    results: list[Envelope | Ignored | Rejected] = []
    for element in body.tweet_create_events:
        try:
            results.append(_tweet_envelope(_tweet.decode(element), body.for_user_id, ctx))
        except msgspec.DecodeError as err:
            results.append(Rejected(reason="malformed_x_tweet", detail=str(err), data=bytes(element)))
    for element in body.direct_message_events:
        try:
            results.append(_dm_envelope(_dm.decode(element), body, ctx))
        except msgspec.DecodeError as err:
            results.append(Rejected(reason="malformed_x_dm_event", detail=str(err), data=bytes(element)))
    if not results:
        results.append(Ignored(reason="activity_not_a_message",
                               detail=f"account {body.for_user_id}: no tweet or direct message in this event"))
    return Outcome(envelopes=tuple(r for r in results if isinstance(r, Envelope)),
                   ignored=tuple(r for r in results if isinstance(r, Ignored)),
                   rejected=tuple(r for r in results if isinstance(r, Rejected)))


def _tweet_envelope(tweet: Tweet, account_id: str, ctx: NormaliseContext) -> Envelope | Ignored:
    if tweet.retweeted_status is not None:
        return Ignored(reason="retweet", detail=tweet.id_str)
    if tweet.user.id_str == account_id:
        return Ignored(reason="own_post", detail=tweet.id_str)
    text = html.unescape(_full_text(tweet.text, tweet.full_text, tweet.truncated, tweet.extended_tweet))
    quoted = tweet.quoted_status
    if quoted is not None:
        quote = html.unescape(_full_text(quoted.text, quoted.full_text, quoted.truncated, quoted.extended_tweet))
        if quote:
            text += "\n\n> " + quote.replace("\n", "\n> ")
    extended = tweet.extended_tweet if tweet.truncated else None
    entities = (extended.extended_entities or extended.entities) if extended else None
    media = (entities or tweet.extended_entities or tweet.entities).media
    replied = tweet.in_reply_to_status_id_str
    return Envelope(
        id=envelope_id(ctx.channel, ctx.account, tweet.id_str), channel=ctx.channel, instance=ctx.instance,
        account=ctx.account, external_id=tweet.id_str, kind="comment" if replied else "post",
        created_at=_tweet_time(tweet.created_at) or snowflake_time(tweet.id_str) or ctx.received_at,
        received_at=ctx.received_at,
        reporter=Reporter(handle=tweet.user.screen_name, display_name=tweet.user.name, user_id=tweet.user.id_str),
        visibility="public", text=text,
        language=tweet.lang if tweet.lang and tweet.lang not in NOT_A_LANGUAGE else None,
        attachments=tuple(_attachment(m) for m in media), location=_location(tweet),
        thread=Thread(reply_to=replied) if replied else None,
    )


def _dm_envelope(event: DmEvent, body: Activity, ctx: NormaliseContext) -> Envelope | Ignored:
    message = event.message_create
    if event.type != "message_create" or message is None:
        return Ignored(reason="dm_event_not_a_message", detail=f"{event.type} {event.id}")
    if message.sender_id == body.for_user_id:
        return Ignored(reason="own_message", detail=event.id)
    sender = body.users.get(message.sender_id)
    data = message.message_data
    media = data.attachment.media if data.attachment and data.attachment.media else None
    pair = sorted((message.sender_id, message.target.recipient_id), key=lambda i: (len(i), i))  # numeric order
    return Envelope(
        id=envelope_id(ctx.channel, ctx.account, event.id), channel=ctx.channel, instance=ctx.instance,
        account=ctx.account, external_id=event.id, kind="direct_message",
        created_at=_ms_time(event.created_timestamp) or snowflake_time(event.id) or ctx.received_at,
        received_at=ctx.received_at,
        reporter=Reporter(handle=sender.screen_name if sender else None,
                          display_name=sender.name if sender else None, user_id=message.sender_id),
        visibility="private", text=html.unescape(data.text),
        attachments=(_attachment(media),) if media is not None else (),
        thread=Thread(conversation="-".join(pair)),  # the v2 API's dm_conversation_id of a one-to-one chat
    )


def _full_text(text: str, full_text: str | None, truncated: bool, extended: Extended | None) -> str:
    if truncated and extended is not None and extended.full_text:
        return extended.full_text
    return full_text or text


def _attachment(media: Media) -> Attachment:
    name = media.id_str or None
    variants = media.video_info.variants if media.video_info else []
    videos = sorted((v for v in variants if v.content_type == "video/mp4"), key=lambda v: v.bitrate or 0)
    if media.type in ("video", "animated_gif") and videos:
        return Attachment(kind="video", media_type="video/mp4", name=name, source_url=videos[-1].url)
    if media.media_url_https:
        return Attachment(kind="image", name=name, source_url=media.media_url_https)
    return Attachment(kind="other", name=name, error=f"media {media.id_str} ({media.type}) has no URL")


def _location(tweet: Tweet) -> Location | None:
    point = tweet.coordinates.coordinates if tweet.coordinates else []
    if len(point) == 2 and -90 <= point[1] <= 90 and -180 <= point[0] <= 180:
        return Location(lat=point[1], lon=point[0], source="provider")
    box = tweet.place.bounding_box if tweet.place else None
    ring = box.coordinates[0] if box and box.coordinates else []
    if tweet.place is None or len(ring) < 3 or any(len(p) != 2 for p in ring):
        return None
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return bbox_location(min(lons), min(lats), max(lons), max(lats), tweet.place.full_name or tweet.place.name)


def _tweet_time(value: str | None) -> datetime | None:
    try:
        return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC) if value else None
    except ValueError:
        return None


def _ms_time(value: str | None) -> datetime | None:
    return datetime.fromtimestamp(int(value) / 1000, UTC) if value and value.isdigit() else None

"""X API v2 response shapes (the fields Kanal reads), shared by the client (slicing) and the normaliser."""

from __future__ import annotations

import math
from datetime import datetime

import msgspec
from msgspec import Struct

from schemas import Location

# What every stream asks for: the author, media, place and referenced tweets, with the fields we map.
EXPANSIONS = ["author_id", "attachments.media_keys", "geo.place_id", "referenced_tweets.id",
              "in_reply_to_user_id"]
TWEET_FIELDS = ["created_at", "author_id", "conversation_id", "in_reply_to_user_id", "lang", "geo",
                "attachments", "referenced_tweets", "entities", "note_tweet", "possibly_sensitive"]
USER_FIELDS = ["username", "name", "verified", "location"]
MEDIA_FIELDS = ["media_key", "type", "url", "preview_image_url", "variants", "alt_text", "width", "height"]
PLACE_FIELDS = ["id", "full_name", "name", "country_code", "geo", "place_type"]
DM_EXPANSIONS = ["sender_id", "attachments.media_keys", "referenced_tweets.id", "participant_ids"]
NOT_A_LANGUAGE = frozenset({"und", "zxx", "qme", "qht", "qam", "qct", "art"})  # X's codes for "no language"
DM_FIELDS = ["id", "event_type", "text", "sender_id", "dm_conversation_id", "created_at", "attachments",
             "referenced_tweets", "participant_ids"]


class User(Struct, frozen=True, kw_only=True):
    id: str
    username: str | None = None
    name: str | None = None


class Variant(Struct, frozen=True, kw_only=True):
    url: str
    content_type: str | None = None
    bit_rate: int | None = None


class Media(Struct, frozen=True, kw_only=True):
    media_key: str
    type: str | None = None
    url: str | None = None
    preview_image_url: str | None = None
    variants: list[Variant] = []
    alt_text: str | None = None


class PlaceGeo(Struct, frozen=True, kw_only=True):
    bbox: list[float] = []


class Place(Struct, frozen=True, kw_only=True):
    id: str
    full_name: str | None = None
    name: str | None = None
    geo: PlaceGeo | None = None


class Point(Struct, frozen=True, kw_only=True):
    type: str = "Point"
    coordinates: list[float] = []


class Geo(Struct, frozen=True, kw_only=True):
    place_id: str | None = None
    coordinates: Point | None = None


class Attachments(Struct, frozen=True, kw_only=True):
    media_keys: list[str] = []


class Reference(Struct, frozen=True, kw_only=True):
    type: str
    id: str


class NoteTweet(Struct, frozen=True, kw_only=True):
    text: str = ""


class Item(Struct, frozen=True, kw_only=True):
    """A tweet or a DM event (DM events carry `event_type`, `sender_id` and `dm_conversation_id`)."""

    id: str
    text: str = ""
    created_at: datetime | None = None
    author_id: str | None = None
    conversation_id: str | None = None
    in_reply_to_user_id: str | None = None
    lang: str | None = None
    geo: Geo | None = None
    attachments: Attachments | None = None
    referenced_tweets: list[Reference] = []
    note_tweet: NoteTweet | None = None
    event_type: str | None = None
    sender_id: str | None = None
    dm_conversation_id: str | None = None


class Includes(Struct, frozen=True, kw_only=True):
    users: list[User] = []
    media: list[Media] = []
    places: list[Place] = []
    tweets: list[Item] = []


class Meta(Struct, frozen=True, kw_only=True):
    result_count: int | None = None
    newest_id: str | None = None
    oldest_id: str | None = None
    next_token: str | None = None


class Body(Struct, frozen=True, kw_only=True):
    """A v2 response; `data` stays raw so one bad item cannot spoil the others."""

    data: list[msgspec.Raw] | msgspec.Raw | None = None
    includes: Includes = Includes()
    meta: Meta = Meta()
    errors: list[msgspec.Raw] = []


class RawIncludes(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Includes kept byte-exact, to cut one item's share out of a page."""

    users: list[msgspec.Raw] = []
    media: list[msgspec.Raw] = []
    places: list[msgspec.Raw] = []
    tweets: list[msgspec.Raw] = []
    polls: list[msgspec.Raw] = []


class RawBody(Struct, frozen=True, kw_only=True):
    data: list[msgspec.Raw] | None = None
    includes: RawIncludes = RawIncludes()
    meta: Meta = Meta()


class Slice(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One item with the includes it references, in the v2 response format: the raw item Kanal keeps."""

    data: list[msgspec.Raw]
    includes: RawIncludes = RawIncludes()


class Keys(Struct, frozen=True, kw_only=True):
    """The keys an include is found by."""

    id: str | None = None
    media_key: str | None = None


def snowflake_time(item_id: str) -> datetime | None:
    """X ids are snowflakes: their top bits are milliseconds since 2010-11-04 (Twitter's epoch)."""
    from datetime import UTC

    if not item_id.isdigit():
        return None
    return datetime.fromtimestamp(((int(item_id) >> 22) + 1288834974657) / 1000, tz=UTC)


def bbox_location(west: float, south: float, east: float, north: float, name: str | None) -> Location:
    """A place's bounding box as a location: its centre, with the half diagonal as the uncertainty."""
    lat, lon = (south + north) / 2, (west + east) / 2
    dy = (north - south) * 111_320 / 2
    dx = (east - west) * 111_320 * math.cos(math.radians(lat)) / 2
    return Location(lat=lat, lon=lon, source="provider", accuracy_m=round(math.hypot(dx, dy), 1), address=name)


_raw_body = msgspec.json.Decoder(RawBody)
_item = msgspec.json.Decoder(Item)
_keys = msgspec.json.Decoder(Keys)
_encoder = msgspec.json.Encoder()


def split(body: bytes) -> tuple[list[tuple[str, bytes]], Meta]:
    """Cut a page into one Slice per item (id, JSON), each with only the includes it references."""
    page = _raw_body.decode(body)
    users, media, places, tweets = ({_key(r, field): r for r in group}
                                    for group, field in ((page.includes.users, "id"),
                                                         (page.includes.media, "media_key"),
                                                         (page.includes.places, "id"),
                                                         (page.includes.tweets, "id")))
    out: list[tuple[str, bytes]] = []
    for raw in page.data or []:
        try:
            item = _item.decode(raw)
        except msgspec.DecodeError:  # the normaliser rejects it, with the bytes, so it is dead-lettered
            out.append((_key(raw, "id") or "", _encoder.encode(Slice(data=[raw]))))
            continue
        refs = [tweets[r.id] for r in item.referenced_tweets if r.id in tweets]
        people = {item.author_id, item.sender_id, item.in_reply_to_user_id}
        for ref in refs:
            people.add(_key(ref, "author_id"))
        keys = item.attachments.media_keys if item.attachments else []
        place = item.geo.place_id if item.geo else None
        includes = RawIncludes(users=[users[u] for u in people if u and u in users],
                               media=[media[k] for k in keys if k in media],
                               places=[places[place]] if place and place in places else [],
                               tweets=refs)
        out.append((item.id, _encoder.encode(Slice(data=[raw], includes=includes))))
    return out, page.meta


def _key(raw: msgspec.Raw, field: str) -> str | None:
    try:
        value = msgspec.json.decode(raw, type=dict[str, object]).get(field)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, str) else None

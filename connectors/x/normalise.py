"""Pure: an X API v2 response (a whole page or one Kanal slice of it), or a webhook delivery, -> envelopes.

Tweets become `post` (or `comment` when they reply), DM events `direct_message`; retweets and the
account's own posts/messages are ignored with a reason. Includes may be missing (expansion not requested,
deleted media): a dangling reference never fails the item, the attachment records the error instead.
"""

from __future__ import annotations

import html

import msgspec

from connectors.errors import BadPayload
from connectors.spec import Ignored, NormaliseContext, Outcome, Rejected
from connectors.x import activity
from connectors.x.payload import NOT_A_LANGUAGE, Body, Includes, Item, Media, Place, bbox_location, snowflake_time
from schemas import Attachment, Envelope, Location, Reporter, Thread, envelope_id

_body = msgspec.json.Decoder(Body)
_item = msgspec.json.Decoder(Item)


def normalise(raw: bytes, ctx: NormaliseContext) -> Outcome:
    """Every item of the response: an envelope, or Ignored (retweet, own, not a message), or Rejected.

    A raw item from the webhook mode is an Account Activity delivery instead (see activity.py).
    """
    if activity.is_activity(raw):
        return activity.normalise(raw, ctx)
    try:
        body = _body.decode(raw)
    except msgspec.DecodeError as err:
        raise BadPayload("malformed_x_response", str(err)) from err
    data = body.data if isinstance(body.data, list) else [body.data] if body.data is not None else []
    if not data:
        raise BadPayload("x_response_without_data", "no `data` in the response (errors only, or empty)")
    envelopes: list[Envelope] = []
    ignored: list[Ignored] = []
    rejected: list[Rejected] = []
    for element in data:
        try:
            item = _item.decode(element)
        except msgspec.DecodeError as err:
            rejected.append(Rejected(reason="malformed_x_item", detail=str(err), data=bytes(element)))
            continue
        result = _one(item, body.includes, ctx)
        if isinstance(result, Ignored):
            ignored.append(result)
        else:
            envelopes.append(result)
    return Outcome(envelopes=tuple(envelopes), ignored=tuple(ignored), rejected=tuple(rejected))


def _one(item: Item, includes: Includes, ctx: NormaliseContext) -> Envelope | Ignored:
    users = {u.id: u for u in includes.users}
    dm = item.event_type is not None
    if dm and item.event_type != "MessageCreate":
        return Ignored(reason="dm_event_not_a_message", detail=f"{item.event_type} {item.id}")
    if any(r.type == "retweeted" for r in item.referenced_tweets):
        return Ignored(reason="retweet", detail=item.id)
    author = users.get((item.sender_id if dm else item.author_id) or "")
    if author and author.username and author.username.lower() == ctx.account.lstrip("@").lower():
        return Ignored(reason="own_message" if dm else "own_post", detail=item.id)
    replied = next((r.id for r in item.referenced_tweets if r.type == "replied_to"), None)
    text = html.unescape(item.note_tweet.text if item.note_tweet and item.note_tweet.text else item.text)
    quoted = next((r.id for r in item.referenced_tweets if r.type == "quoted"), None)
    quoted_tweet = next((t for t in includes.tweets if t.id == quoted), None) if quoted else None
    if quoted_tweet is not None and quoted_tweet.text:
        text += "\n\n> " + html.unescape(quoted_tweet.text).replace("\n", "\n> ")
    sender = item.sender_id if dm else item.author_id
    return Envelope(
        id=envelope_id(ctx.channel, ctx.account, item.id), channel=ctx.channel, instance=ctx.instance,
        account=ctx.account, external_id=item.id,
        kind="direct_message" if dm else "comment" if replied else "post",
        created_at=item.created_at or snowflake_time(item.id) or ctx.received_at, received_at=ctx.received_at,
        reporter=Reporter(handle=author.username if author else None, display_name=author.name if author else None,
                          user_id=sender),
        visibility="private" if dm else "public", text=text,
        language=item.lang if item.lang and item.lang not in NOT_A_LANGUAGE else None,
        attachments=_attachments(item, includes.media), location=_location(item, includes.places),
        thread=Thread(reply_to=replied, conversation=item.dm_conversation_id if dm else item.conversation_id),
    )


def _attachments(item: Item, media: list[Media]) -> tuple[Attachment, ...]:
    by_key = {m.media_key: m for m in media}
    found: list[Attachment] = []
    for key in item.attachments.media_keys if item.attachments else []:
        m = by_key.get(key)
        if m is None:
            found.append(Attachment(kind="other", name=key,
                                    error=f"media {key} is not in the response's includes (not expanded)"))
            continue
        videos = sorted((v for v in m.variants if v.content_type == "video/mp4"), key=lambda v: v.bit_rate or 0)
        if m.type in ("video", "animated_gif") and videos:
            found.append(Attachment(kind="video", media_type="video/mp4", name=key, source_url=videos[-1].url))
        elif m.url or m.preview_image_url:
            found.append(Attachment(kind="image", name=key, source_url=m.url or m.preview_image_url))
        else:
            found.append(Attachment(kind="other", name=key, error=f"media {key} ({m.type}) has no URL"))
    return tuple(found)


def _location(item: Item, places: list[Place]) -> Location | None:
    geo = item.geo
    if geo is None:
        return None
    if geo.coordinates is not None and len(geo.coordinates.coordinates) == 2:
        lon, lat = geo.coordinates.coordinates
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            return Location(lat=lat, lon=lon, source="provider")
    place = next((p for p in places if p.id == geo.place_id), None) if geo.place_id else None
    if place is None or place.geo is None or len(place.geo.bbox) != 4:
        return None
    west, south, east, north = place.geo.bbox
    return bbox_location(west, south, east, north, place.full_name or place.name)

"""Pure mapping of object=page (Messenger, feed) and object=instagram (DMs, comments, mentions) events."""

from __future__ import annotations

from datetime import datetime

import msgspec

from connectors.meta import payloads
from connectors.meta.collect import Collector, when
from schemas import Attachment, Envelope, Location, Reporter, Thread, envelope_id
from schemas.envelope import AttachmentKind, Kind

# Messenger / Instagram attachment type -> envelope attachment kind (anything else is "other", not fetched).
_ATTACHMENT_KIND: dict[str, AttachmentKind] = {
    "image": "image", "video": "video", "audio": "audio", "file": "document",
    "story_mention": "image", "ig_reel": "video", "reel": "video",
}
# Messaging events that are not messages: the key that names them -> the reason they are ignored.
_NOT_MESSAGES = {
    "delivery": "delivery_receipt", "read": "read_receipt", "reaction": "reaction", "postback": "postback",
    "optin": "optin", "referral": "referral", "message_edit": "edit", "account_linking": "account_linking",
    "policy_enforcement": "policy_enforcement", "pass_thread_control": "handover",
    "take_thread_control": "handover", "request_thread_control": "handover", "app_roles": "handover",
    "message_reactions": "reaction", "messaging_seen": "read_receipt",
}
_FEED_POSTS = {"post", "status", "photo", "video", "share"}
_PRODUCT_FLAG = {"page": "facebook", "instagram": "instagram"}


def messaging(out: Collector, entry_id: str, raw: msgspec.Raw, product: str) -> None:
    """One entry[].messaging[] element (Messenger when product is page, Instagram Direct otherwise)."""
    try:
        event = payloads.messaging_event.decode(raw)
    except msgspec.DecodeError as err:
        out.reject("malformed_event", f"{product} messaging event: {err}", raw)
        return
    recipient = str(event.recipient.id) if event.recipient else ""
    account = entry_id or recipient
    if not out.ours(account, product):
        return
    message = event.message
    if message is None:
        names = [k for k in payloads.keys.decode(raw) if k not in ("sender", "recipient", "timestamp")]
        name = names[0] if names else "nothing"
        out.ignore(_NOT_MESSAGES.get(name, "unknown_event"), f"{product} messaging event '{name}'")
        return
    if message.is_echo:
        out.ignore("echo", f"{product} message {message.mid} was sent by the account itself")
        return
    if message.is_deleted:
        out.ignore("unsent", f"{product} message {message.mid} was unsent")
        return
    if event.sender is None:
        out.reject("missing_sender", f"{product} message {message.mid} has no sender", raw)
        return
    sender = str(event.sender.id)
    if sender == account:
        out.ignore("echo", f"{product} message {message.mid} is from the account itself")
        return
    attachments: list[Attachment] = []
    location: Location | None = None
    for item in message.attachments or []:
        payload = item.payload
        if item.type == "location" and payload is not None and payload.coordinates is not None:
            coords = payload.coordinates
            location = Location(lat=coords.lat, lon=coords.long, source="provider",
                                address=item.title or payload.title)
        elif item.type == "fallback" or payload is None or not payload.url:
            link = item.fallback_url or item.url or (payload.url if payload else None)
            if link or item.title:
                attachments.append(Attachment(kind="other", name=item.title, source_url=link))
        else:
            kind = "sticker" if payload.sticker_id is not None else _ATTACHMENT_KIND.get(item.type, "other")
            attachments.append(Attachment(kind=kind, source_url=payload.url, name=item.title))
    text = message.text or ""
    if not text and not attachments and location is None:
        if message.is_unsupported:
            out.reject("unsupported_message", f"{product} message {message.mid} is of a type Meta does not "
                       "deliver to the API", raw)
        else:
            out.ignore("empty_message", f"{product} message {message.mid} has no text, media or location")
        return
    ctx = out.ctx
    out.add(Envelope(
        id=envelope_id(ctx.channel, account, message.mid), channel=ctx.channel, instance=ctx.instance,
        account=account, external_id=message.mid, kind="direct_message",
        created_at=when(event.timestamp, ctx.received_at), received_at=ctx.received_at,
        reporter=Reporter(user_id=sender), visibility="private", text=text, attachments=tuple(attachments),
        location=location,
        thread=Thread(reply_to=message.reply_to.mid if message.reply_to else None, conversation=sender),
        flags=(_PRODUCT_FLAG[product],),
    ))


def feed(out: Collector, page_id: str, raw: msgspec.Raw) -> None:
    """One page `feed` change: visitors' posts and comments become envelopes, the rest is ignored."""
    try:
        value = payloads.feed_value.decode(raw)
    except msgspec.DecodeError as err:
        out.reject("malformed_event", f"page feed change: {err}", raw)
        return
    item, verb = value.item, value.verb
    if item in ("reaction", "like"):
        out.ignore("reaction", f"feed {item} {verb} on {value.post_id}")
        return
    if verb != "add":
        out.ignore("edit" if verb in ("edited", "edit", "hide", "unhide") else "removed" if verb in (
            "remove", "delete") else "feed_verb", f"feed {item} {verb} on {value.post_id}")
        return
    if item != "comment" and item not in _FEED_POSTS:
        out.ignore("feed_item", f"feed item '{item}' is not a post or comment")
        return
    author = value.author
    if author is not None and author.id is not None and str(author.id) == page_id:
        out.ignore("own_post" if item != "comment" else "own_comment", f"feed {item} by the page itself")
        return
    external = value.comment_id if item == "comment" else value.post_id
    if not external:
        out.reject("missing_id", f"feed {item} add without {'comment_id' if item == 'comment' else 'post_id'}",
                   raw)
        return
    attachments = [Attachment(kind="image", source_url=url) for url in (value.photos or [])]
    if value.photo and not attachments:
        attachments.append(Attachment(kind="image", source_url=value.photo))
    if value.video:
        attachments.append(Attachment(kind="video", source_url=value.video))
    kind: Kind = "comment" if item == "comment" else "post"
    thread = Thread(reply_to=value.parent_id or value.post_id, conversation=value.post_id) if kind == "comment" \
        else Thread(conversation=value.post_id)
    ctx = out.ctx
    out.add(Envelope(
        id=envelope_id(ctx.channel, page_id, external), channel=ctx.channel, instance=ctx.instance,
        account=page_id, external_id=external, kind=kind, created_at=when(value.created_time, ctx.received_at),
        received_at=ctx.received_at,
        reporter=Reporter(user_id=str(author.id) if author and author.id is not None else None,
                          display_name=author.name if author else None),
        visibility="public", text=value.message or "", attachments=tuple(attachments), thread=thread,
        flags=("facebook",),
    ))


def instagram_change(out: Collector, account: str, field: str, raw: msgspec.Raw, created: datetime) -> None:
    """One object=instagram change: comments / live_comments / mentions on the account."""
    try:
        if field in ("comments", "live_comments"):
            _ig_comment(out, account, payloads.ig_comment.decode(raw), created)
        elif field == "mentions":
            _ig_mention(out, account, payloads.ig_mention.decode(raw), created)
        elif field == "messages":  # the App Dashboard's "Test" button sends DMs this way
            messaging(out, account, raw, "instagram")
        else:
            out.ignore("unsupported_field", f"instagram change field '{field}'")
    except msgspec.DecodeError as err:
        out.reject("malformed_event", f"instagram {field} change: {err}", raw)


def _ig_comment(out: Collector, account: str, value: payloads.IgComment, created: datetime) -> None:
    author = value.author
    if author is not None and (author.self_ig_scoped_id is not None or str(author.id) == account):
        out.ignore("own_comment", f"instagram comment {value.id} by the account itself")
        return
    media = str(value.media.id) if value.media else None
    external = str(value.id)
    ctx = out.ctx
    out.add(Envelope(
        id=envelope_id(ctx.channel, account, external), channel=ctx.channel, instance=ctx.instance,
        account=account, external_id=external, kind="comment", created_at=created,
        received_at=ctx.received_at,
        reporter=Reporter(user_id=str(author.id) if author and author.id is not None else None,
                          handle=author.username if author else None),
        visibility="public", text=value.text,
        thread=Thread(reply_to=str(value.parent_id) if value.parent_id else media, conversation=media),
        flags=("instagram",),
    ))


def _ig_mention(out: Collector, account: str, value: payloads.IgMention, created: datetime) -> None:
    media = str(value.media_id)
    external = f"{media}:{value.comment_id}" if value.comment_id else media
    ctx = out.ctx
    out.add(Envelope(
        id=envelope_id(ctx.channel, account, external), channel=ctx.channel, instance=ctx.instance,
        account=account, external_id=external, kind="comment" if value.comment_id else "post",
        created_at=created, received_at=ctx.received_at, reporter=Reporter(),
        visibility="public", text="",
        thread=Thread(reply_to=str(value.comment_id) if value.comment_id else None, conversation=media),
        flags=("instagram", "mention"),
    ))

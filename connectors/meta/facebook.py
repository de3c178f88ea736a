"""Pure mapping of object=page (Messenger, feed) and object=instagram (DMs, comments, mentions) events."""

from __future__ import annotations

from datetime import datetime

import msgspec

from connectors.meta import payloads
from connectors.meta.collect import Collector, scoped_id
from schemas import Attachment, Envelope, Location, Reporter, Thread, envelope_id
from schemas.envelope import AttachmentKind, Kind

# Messenger / Instagram attachment type -> envelope attachment kind (anything else is "other", not fetched).
_ATTACHMENT_KIND: dict[str, AttachmentKind] = {
    "image": "image", "video": "video", "audio": "audio", "file": "document",
    "story_mention": "image", "ig_reel": "video", "reel": "video",
}
# Messaging events that are not messages: the key that names them -> the reason they are ignored.
_NOT_MESSAGES = {
    "delivery": "delivery_receipt", "read": "read_receipt", "optin": "optin", "referral": "referral",
    "message_edit": "edit", "account_linking": "account_linking", "policy_enforcement": "policy_enforcement",
    "pass_thread_control": "handover", "take_thread_control": "handover", "request_thread_control": "handover",
    "app_roles": "handover", "messaging_seen": "read_receipt",
}
_FEED_POSTS = {"post", "status", "photo", "video", "share"}
# The product each object's events come from: its flag on the envelope, and part of the envelope id.
PRODUCT = {"page": "facebook", "instagram": "instagram"}
REACTION_FLAG = "reaction"
# Messenger / Instagram reaction names -> the emoji people saw, when Meta sends the name alone.
_REACTION_EMOJI = {"like": "👍", "love": "❤️", "smile": "😆", "laugh": "😆", "wow": "😮", "sad": "😢",
                   "angry": "😠", "dislike": "👎"}
LIKE_HEART = "❤️"  # Instagram's heart sticker (attachment type like_heart)


def messaging(out: Collector, entry_id: str, raw: msgspec.Raw, product: str) -> None:
    """One entry[].messaging[] element (Messenger when product is page, Instagram Direct otherwise)."""
    event = out.decoded(payloads.messaging_event, raw, f"{product} messaging event")
    if event is None:
        return
    recipient = str(event.recipient.id) if event.recipient else ""
    account = entry_id or recipient
    if not out.ours(account, product):
        return
    message = event.message
    if message is None:
        _other_event(out, account, raw, event, product)
        return
    if message.is_echo:
        out.ignore("echo", f"{product} message {message.mid} was sent by the account itself")
        return
    if message.is_deleted:
        out.ignore("unsent", f"{product} message {message.mid} was unsent")
        return
    sender = _sender(out, event, f"{product} message {message.mid}", raw)
    if sender is None:
        return
    if sender == account:
        out.ignore("echo", f"{product} message {message.mid} is from the account itself")
        return
    created = out.created(event.timestamp, f"{product} message {message.mid}", raw)
    if created is None:
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
    flags = [PRODUCT[product]]
    if any(item.type == "like_heart" for item in message.attachments or []):
        text = text or LIKE_HEART  # the heart sticker: a reaction of its own, kept as the emoji people saw
        flags.append(REACTION_FLAG)
    if not text and not attachments and location is None:
        if message.is_unsupported:
            out.reject("unsupported_message", f"{product} message {message.mid} is of a type Meta does not "
                       "deliver to the API", raw)
        else:
            out.ignore("empty_message", f"{product} message {message.mid} has no text, media or location")
        return
    _direct(out, account, product, message.mid, created, sender, text, flags,
            reply_to=message.reply_to.mid if message.reply_to else None, attachments=tuple(attachments),
            location=location)


def _direct(out: Collector, account: str, product: str, external: str, created: datetime, sender: str, text: str,
            flags: list[str], *, reply_to: str | None, attachments: tuple[Attachment, ...] = (),
            location: Location | None = None) -> None:
    """One private message from `sender` to the page / Instagram account."""
    ctx = out.ctx
    out.add(Envelope(
        id=envelope_id(ctx.channel, account, external, PRODUCT[product]), channel=ctx.channel,
        instance=ctx.instance, account=account, external_id=external, kind="direct_message", created_at=created,
        received_at=ctx.received_at, reporter=Reporter(user_id=sender), visibility="private", text=text,
        attachments=attachments, location=location, thread=Thread(reply_to=reply_to, conversation=sender),
        flags=tuple(flags),
    ))


def _sender(out: Collector, event: payloads.MessagingEvent, what: str, raw: msgspec.Raw) -> str | None:
    """The sender's scoped id, or None after dead-lettering an event without a usable one."""
    if event.sender is None:
        out.reject("missing_sender", f"{what} has no sender", raw)
        return None
    sender = scoped_id(event.sender.id)
    if sender is None:
        out.reject("invalid_sender", f"{what}: the sender id is not a Meta scoped id (digits)", raw)
    return sender


def _other_event(out: Collector, account: str, raw: msgspec.Raw, event: payloads.MessagingEvent,
                 product: str) -> None:
    """A messaging event without `message`: a reaction or a button tap becomes an envelope, the rest is ignored."""
    if event.reaction is None and event.postback is None:
        names = [k for k in payloads.keys.decode(raw) if k not in ("sender", "recipient", "timestamp")]
        name = names[0] if names else "nothing"
        out.ignore(_NOT_MESSAGES.get(name, "unknown_event"), f"{product} messaging event '{name}'")
        return
    what = f"{product} {'reaction' if event.reaction is not None else 'postback'}"
    sender = _sender(out, event, what, raw)
    if sender is None:
        return
    if sender == account:
        out.ignore("echo", f"{what} by the account itself")
        return
    created = out.created(event.timestamp, what, raw)
    if created is None:
        return
    # Neither has an id of its own (a postback's mid only since v11): the id is who did it when, stable across
    # Meta's retries of the same event.
    moment = str(event.timestamp if event.timestamp is not None else "")
    if event.reaction is not None:
        reaction = event.reaction
        if reaction.action == "unreact":
            out.ignore("reaction_removed", f"{what} on {reaction.mid} removed")
            return
        emoji = reaction.emoji or _REACTION_EMOJI.get(reaction.reaction or "", reaction.reaction or "")
        if not emoji or not reaction.mid:
            out.reject("malformed_event", f"{what} names no emoji or no message", raw)
            return
        _direct(out, account, product, f"reaction:{sender}:{reaction.mid}:{moment or emoji}", created, sender,
                emoji, [PRODUCT[product], REACTION_FLAG], reply_to=reaction.mid)
        return
    postback = event.postback
    assert postback is not None
    if not postback.title and not postback.payload:
        out.ignore("empty_message", f"{what} without title or payload")
        return
    _direct(out, account, product, postback.mid or f"postback:{sender}:{moment}", created, sender,
            postback.title or postback.payload or "", [PRODUCT[product], "interactive_reply"], reply_to=None)


def feed(out: Collector, page_id: str, raw: msgspec.Raw) -> None:
    """One page `feed` change: visitors' posts and comments become envelopes, the rest is ignored."""
    value = out.decoded(payloads.feed_value, raw, "page feed change")
    if value is None:
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
    usable, author_id = _author(out, author, f"feed {item} {external}", raw)
    created = out.created(value.created_time, f"feed {item} {external}", raw) if usable else None
    if created is None:
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
        id=envelope_id(ctx.channel, page_id, external, PRODUCT["page"]), channel=ctx.channel,
        instance=ctx.instance, account=page_id, external_id=external, kind=kind, created_at=created,
        received_at=ctx.received_at, reporter=Reporter(user_id=author_id, display_name=author.name if author else None),
        visibility="public", text=value.message or "", attachments=tuple(attachments), thread=thread,
        flags=("facebook",),
    ))


def instagram_change(out: Collector, account: str, field: str, raw: msgspec.Raw, created: datetime) -> None:
    """One object=instagram change: comments / live_comments / mentions on the account."""
    try:
        if field in ("comments", "live_comments"):
            _ig_comment(out, account, payloads.ig_comment.decode(raw), created, raw)
        elif field == "mentions":
            _ig_mention(out, account, payloads.ig_mention.decode(raw), created)
        elif field == "messages":  # the App Dashboard's "Test" button sends DMs this way
            messaging(out, account, raw, "instagram")
        else:
            out.ignore("unsupported_field", f"instagram change field '{field}'")
    except msgspec.DecodeError as err:
        out.reject("malformed_event", f"instagram {field} change: {err}", raw)


def _ig_comment(out: Collector, account: str, value: payloads.IgComment, created: datetime,
                raw: msgspec.Raw) -> None:
    author = value.author
    if author is not None and (author.self_ig_scoped_id is not None or str(author.id) == account):
        out.ignore("own_comment", f"instagram comment {value.id} by the account itself")
        return
    usable, author_id = _author(out, author, f"instagram comment {value.id}", raw)
    if not usable:
        return
    media = str(value.media.id) if value.media else None
    external = str(value.id)
    ctx = out.ctx
    out.add(Envelope(
        id=envelope_id(ctx.channel, account, external, PRODUCT["instagram"]), channel=ctx.channel,
        instance=ctx.instance, account=account, external_id=external, kind="comment", created_at=created,
        received_at=ctx.received_at, reporter=Reporter(user_id=author_id, handle=author.username if author else None),
        visibility="public", text=value.text,
        thread=Thread(reply_to=str(value.parent_id) if value.parent_id else media, conversation=media),
        flags=("instagram",),
    ))


def _ig_mention(out: Collector, account: str, value: payloads.IgMention, created: datetime) -> None:
    media = str(value.media_id)
    external = f"{media}:{value.comment_id}" if value.comment_id else media
    ctx = out.ctx
    out.add(Envelope(
        id=envelope_id(ctx.channel, account, external, PRODUCT["instagram"]), channel=ctx.channel,
        instance=ctx.instance, account=account, external_id=external, kind="comment" if value.comment_id else "post",
        created_at=created, received_at=ctx.received_at, reporter=Reporter(),
        visibility="public", text="",
        thread=Thread(reply_to=str(value.comment_id) if value.comment_id else None, conversation=media),
        flags=("instagram", "mention"),
    ))


def _author(out: Collector, author: payloads.Author | None, what: str, raw: msgspec.Raw) -> tuple[bool, str | None]:
    """(usable, the author's id or None when Meta names none); not usable after dead-lettering an id that is
    not a Meta scoped id."""
    if author is None or author.id is None:
        return True, None
    found = scoped_id(author.id)
    if found is None:
        out.reject("invalid_sender", f"{what}: the author id is not a Meta scoped id (digits)", raw)
    return found is not None, found
